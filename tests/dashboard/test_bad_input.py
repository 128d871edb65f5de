"""What the dashboard must survive from the broker: payloads that are not what
the schema says (each dropped with one log line, nothing stored lost, the next
good one still shown), hostile text in every field (shown as text, never run),
versions and clips out of order, clips that are not clips, the broker going
away and coming back, a burst of highlights; and search that marks its matches."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

import httpx
import paho.mqtt.client as mqtt
import pytest
from playwright.sync_api import expect

from earmark.dashboard.store import episode_key
from earmark.payloads import EpisodePayload, HighlightPayload, StatePayload
from earmark.sync.broker import LocalBroker

from ..support import wait_for
from .conftest import (
    PAGE_WAIT_MS,
    DashboardProcess,
    Witness,
    as_json,
    highlight,
    publish_highlight,
    publish_raw,
)
from .shared import assert_nothing_ran, open_live, start_dashboard, stored

SCRIPT = "<script>alert(1)</script>"
IMG = "<img src=x onerror=alert(1)>"
ATTR = '" onmouseover="alert(1)'


def hostile(word: str) -> str:
    return f"{word} {SCRIPT} {IMG} {ATTR}"


def dropped_lines(dashboard: DashboardProcess, topic: str) -> list[str]:
    return [line for line in dashboard.log.splitlines() if f"dropped {topic}:" in line]


def one_drop(dashboard: DashboardProcess, topic: str, reason: str) -> None:
    """Exactly one log line dropped ``topic``, and it names ``reason``."""
    wait_for(lambda: dropped_lines(dashboard, topic), 30, 0.05, f"a line dropping {topic}")
    lines = dropped_lines(dashboard, topic)
    assert len(lines) == 1, lines
    assert reason in lines[0], lines[0]


# -- payloads that are not highlights --------------------------------------------------

BAD = {
    "invalid_json": (lambda h: b'{"id": "x", "version": ', "not JSON"),
    "wrong_schema_version": (lambda h: as_json(h, schema=2), "schema 2 is not 1"),
    "ten_mb_title": (
        lambda h: as_json(h, title="x" * 10 * 1024 * 1024),
        "a payload may be",
    ),
    "title_longer_than_the_schema_allows": (
        lambda h: as_json(h, title="x" * 3000),
        "'title' is 3,000 characters",
    ),
    "start_as_a_string": (lambda h: as_json(h, start="ten"), "'start' must be a number"),
    "takeaways_not_a_list": (lambda h: as_json(h, takeaways="one"), "'takeaways' must be a list"),
    "starred_as_a_string": (lambda h: as_json(h, starred="yes"), "'starred' must be true or false"),
    "version_as_a_bool": (lambda h: as_json(h, version=True), "'version' must be a number"),
    "nan_start": (lambda h: as_json(h, start=float("nan")), "'start' must be a finite number"),
    "device_id_not_its_topics": (lambda h: as_json(h, device_id="kitchen"), "names kitchen"),
    "id_with_a_slash": (lambda h: as_json(h, id="a/b"), "'a/b' is not a highlight id"),
    "id_with_markup": (lambda h: as_json(h, id="a<b"), "'a<b' is not a highlight id"),
}


@pytest.mark.parametrize("case", list(BAD))
def test_a_bad_highlight_is_dropped_with_one_line_and_the_next_good_one_still_arrives(
    case: str, shared: tuple[LocalBroker, DashboardProcess], page_and_witness: tuple[Any, Witness]
) -> None:
    broker, dashboard = shared
    page, witness = page_and_witness
    device = f"bad-{case.replace('_', '-')}"
    kept = highlight(id=f"kept-{device}", device_id=device, title="Kept as it was")
    publish_highlight(broker.port, kept)
    stored(dashboard, kept.id)
    open_live(page, dashboard.url)

    make, reason = BAD[case]
    # the same id at a newer version: taken, it would replace what is stored
    publish_highlight(broker.port, make(highlight(**{**_fields(kept), "version": 2})), device)
    good = highlight(id=f"good-{device}", device_id=device, title="After the bad one")
    publish_highlight(broker.port, good)

    page.locator(f"#h-{good.id}").wait_for()
    one_drop(dashboard, f"earmark/{device}/highlight", reason)
    status, _, body = dashboard.get(f"/highlights/{kept.id}")
    assert status == 200 and b'data-version="1"' in body and b"Kept as it was" in body
    assert page.locator(f"#h-{kept.id} .title").inner_text() == "Kept as it was"
    assert not witness.errors, witness.errors


def _fields(h: HighlightPayload) -> dict[str, Any]:
    return json.loads(h.to_json())


# -- hostile text ------------------------------------------------------------------------

HOSTILE_PODCAST = hostile("Hostile Radio")
HOSTILE_EPISODE = hostile("Episode Evil")


def hostile_highlight(highlight_id: str) -> HighlightPayload:
    return highlight(
        id=highlight_id,
        version=4,
        status="failed",
        podcast=HOSTILE_PODCAST,
        episode=HOSTILE_EPISODE,
        title=hostile("Titleword"),
        quote=hostile("Quoteword"),
        transcript=hostile("Transcriptword") + " " + hostile("Quoteword"),
        takeaways=[hostile("Takeawayword"), hostile("Secondword")],
        note=hostile("Noteword"),
        tags=[hostile("Tagword")],
        error=hostile("Errorword"),
        artwork="javascript:alert(1)",
        source_url="javascript:alert(1)",
        input_source=hostile("button"),
        summarizer=hostile("minilm"),
        episode_id=7,
    )


@pytest.fixture(scope="module")
def hostile_stored(shared: tuple[LocalBroker, DashboardProcess]) -> HighlightPayload:
    """A hostile highlight, the hostile key points of its episode and a speaker
    playing it with hostile state, all stored."""
    broker, dashboard = shared
    h = hostile_highlight("xss")
    state = StatePayload(
        status="playing",
        podcast=HOSTILE_PODCAST,
        episode=HOSTILE_EPISODE,
        position=12.0,
        duration=100.0,
        chapter=hostile("Chapterword"),
    )
    points = EpisodePayload(
        episode_id=7,
        device_id="kitchen",
        podcast=HOSTILE_PODCAST,
        episode=HOSTILE_EPISODE,
        guid=hostile("guid"),
        key_points=[{"text": hostile("Pointword"), "at": 3.0}],
        summarizer=hostile("minilm"),
    )
    publish_raw(broker.port, "earmark/kitchen/state", state.to_json())
    publish_raw(broker.port, "earmark/kitchen/episode/7", points.to_json())
    publish_highlight(broker.port, h)
    stored(dashboard, h.id, h.version)
    return h


def poke(page: Any, selector: str) -> None:
    """Hover over and click every part of the card that shows hostile text, and open
    the parts fetched only when opened (the transcript, the Edit form): what they
    bring is shown as text too."""
    card = page.locator(selector)
    card.hover()
    for part in (".title", ".error", "blockquote.quote", ".takeaways li", ".note", ".tags"):
        for i in range(card.locator(part).count()):
            card.locator(part).nth(i).hover()
            card.locator(part).nth(i).click(position={"x": 2, "y": 2})
    card.locator(".meta").hover()
    transcript = card.locator(".transcript")
    lazy = transcript.get_attribute("hx-get") is not None
    if transcript.get_attribute("open") is None:
        transcript.locator("summary").click()
    transcript.locator("p").hover()
    if lazy:  # fetched on opening, the quote marked in it
        expect(transcript.locator("mark.quote")).to_have_text(hostile("Quoteword"))
        assert_shown_literally(transcript.inner_text(), "Transcriptword", "Quoteword")
    edit = card.locator("details.edit")
    edit.locator("summary").click()
    expect(edit.locator("input[name=title]")).to_have_value(hostile("Titleword"))
    expect(edit.locator("textarea[name=note]")).to_have_value(hostile("Noteword"))
    expect(edit.locator("input[name=tags]")).to_have_value(hostile("Tagword"))
    edit.locator("input[name=title]").hover()
    assert edit.locator("form script, form img").count() == 0


def assert_shown_literally(text: str, *words: str) -> None:
    for word in words:
        assert f"{word} {SCRIPT} {IMG} {ATTR}" in text, (word, text[:2000])


def test_hostile_text_arriving_live_is_shown_literally_and_never_runs(
    shared: tuple[LocalBroker, DashboardProcess],
    hostile_stored: HighlightPayload,
    page_and_witness: tuple[Any, Witness],
) -> None:
    broker, dashboard = shared
    page, witness = page_and_witness
    open_live(page, dashboard.url)
    publish_highlight(broker.port, hostile_highlight("xss-live"))
    card = page.locator("#h-xss-live")
    card.wait_for()
    assert_shown_literally(
        card.inner_text(),
        "Titleword",
        "Quoteword",
        "Takeawayword",
        "Noteword",
        "Tagword",
        "Errorword",
        "Hostile Radio",
        "Episode Evil",
    )
    poke(page, "#h-xss-live")
    assert_shown_literally(card.locator(".transcript").inner_text(), "Transcriptword")
    assert page.locator("img[src^='javascript'], img[src='x'], script:not([src])").count() == 0
    assert_nothing_ran(witness)


def test_hostile_text_on_the_list_page_is_shown_literally_and_never_runs(
    shared: tuple[LocalBroker, DashboardProcess],
    hostile_stored: HighlightPayload,
    page_and_witness: tuple[Any, Witness],
) -> None:
    _, dashboard = shared
    page, witness = page_and_witness
    page.goto(dashboard.url)
    card = page.locator("#h-xss")
    assert_shown_literally(card.inner_text(), "Titleword", "Takeawayword", "Noteword", "Tagword")
    group = page.locator(f"#ep-{episode_key(HOSTILE_PODCAST, HOSTILE_EPISODE)} header")
    assert_shown_literally(group.first.inner_text(), "Hostile Radio", "Episode Evil")
    speaker = page.locator("#s-kitchen")
    assert_shown_literally(speaker.inner_text(), "Chapterword", "Episode Evil")
    speaker.hover()
    poke(page, "#h-xss")
    select = page.locator("select[name=podcast]")
    assert HOSTILE_PODCAST in select.inner_text()
    assert page.locator("img[src^='javascript'], img[src='x'], script:not([src])").count() == 0
    assert_nothing_ran(witness)


def test_hostile_text_on_the_episode_page_is_shown_literally_and_never_runs(
    shared: tuple[LocalBroker, DashboardProcess],
    hostile_stored: HighlightPayload,
    page_and_witness: tuple[Any, Witness],
) -> None:
    _, dashboard = shared
    page, witness = page_and_witness
    page.goto(dashboard.url + f"episodes/{episode_key(HOSTILE_PODCAST, HOSTILE_EPISODE)}")
    assert_shown_literally(page.locator("h1").inner_text(), "Episode Evil")
    assert_shown_literally(page.locator(".key-points").inner_text(), "Pointword")
    assert page.title().startswith(HOSTILE_EPISODE)
    assert_shown_literally(page.locator("#h-xss").inner_text(), "Titleword", "Quoteword")
    poke(page, "#h-xss")
    page.locator(".episode-head").hover()
    assert page.locator("img[src^='javascript'], img[src='x'], script:not([src])").count() == 0
    assert_nothing_ran(witness)


def test_hostile_text_on_the_highlight_page_is_shown_literally_and_never_runs(
    shared: tuple[LocalBroker, DashboardProcess],
    hostile_stored: HighlightPayload,
    page_and_witness: tuple[Any, Witness],
) -> None:
    _, dashboard = shared
    page, witness = page_and_witness
    page.goto(dashboard.url + "highlights/xss")
    assert page.title().startswith(hostile("Titleword"))
    assert_shown_literally(
        page.locator("main").inner_text(), "Titleword", "Errorword", "Noteword", "Episode Evil"
    )
    poke(page, "#h-xss")  # its Edit form, fetched on opening, shows the hostile text as is
    assert_nothing_ran(witness)


def test_hostile_text_on_the_share_page_is_shown_literally_and_never_runs(
    shared: tuple[LocalBroker, DashboardProcess],
    hostile_stored: HighlightPayload,
    page_and_witness: tuple[Any, Witness],
) -> None:
    _, dashboard = shared
    page, witness = page_and_witness
    page.goto(dashboard.url + "highlights/xss")
    share = page.locator("#h-xss a.share").get_attribute("href")
    assert share
    page.goto(dashboard.url + share.lstrip("/"))
    article = page.locator("article.shared")
    assert_shown_literally(
        article.inner_text(), "Titleword", "Quoteword", "Takeawayword", "Hostile Radio"
    )
    article.hover()
    page.locator("article.shared h1").click()
    page.locator("article.shared blockquote").hover()
    assert_nothing_ran(witness)


def test_hostile_text_in_search_results_is_shown_literally_and_never_runs(
    shared: tuple[LocalBroker, DashboardProcess],
    hostile_stored: HighlightPayload,
    page_and_witness: tuple[Any, Witness],
) -> None:
    _, dashboard = shared
    page, witness = page_and_witness
    page.goto(dashboard.url)
    page.locator("input[name=q]").fill("onmouseover titleword")
    page.locator("form.filters button[type=submit]").click()
    card = page.locator("#h-xss")
    card.wait_for()
    assert page.locator("#h-xss .title mark").count() >= 2
    assert_shown_literally(card.inner_text(), "Titleword", "Noteword")
    poke(page, "#h-xss")
    assert page.locator("#h-xss .title script, #h-xss .title img").count() == 0
    assert_nothing_ran(witness)


# -- versions and clips out of order -----------------------------------------------------


def test_an_update_that_comes_before_its_creation_is_what_the_page_shows(
    shared: tuple[LocalBroker, DashboardProcess], page_and_witness: tuple[Any, Witness]
) -> None:
    broker, dashboard = shared
    page, witness = page_and_witness
    open_live(page, dashboard.url)
    third = highlight(id="late-first", version=3, status="done", title="Version three")
    publish_highlight(broker.port, third)
    page.locator("#h-late-first[data-version='3']").wait_for()
    publish_highlight(broker.port, highlight(id="late-first", version=1, status="pending"))
    publish_highlight(broker.port, highlight(id="late-first-marker"))
    page.locator("#h-late-first-marker").wait_for()
    card = page.locator("#h-late-first")
    assert card.get_attribute("data-version") == "3"
    assert card.locator(".title").inner_text() == "Version three"
    page.reload()
    assert page.locator("#h-late-first").get_attribute("data-status") == "done"
    assert page.locator("#h-late-first .title").inner_text() == "Version three"
    assert not witness.errors, witness.errors


@pytest.fixture(scope="module")
def ogg_clip(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """A real Ogg Opus clip of espeak-ng saying a few words."""
    root = tmp_path_factory.mktemp("clip")
    wav, ogg = root / "x.wav", root / "x.ogg"
    subprocess.run(["espeak-ng", "-w", str(wav), "turn the pile every week"], check=True)
    subprocess.run(
        ["ffmpeg", "-v", "error", "-y", "-i", str(wav), "-c:a", "libopus", str(ogg)], check=True
    )
    return ogg.read_bytes()


def clip_of(dashboard: DashboardProcess, highlight_id: str) -> bytes | None:
    status, _, body = dashboard.get(f"/highlights/{highlight_id}/clip")
    return body if status == 200 else None


def test_a_clip_before_its_highlight_is_kept_and_played_once_the_highlight_arrives(
    shared: tuple[LocalBroker, DashboardProcess],
    ogg_clip: bytes,
    page_and_witness: tuple[Any, Witness],
) -> None:
    broker, dashboard = shared
    page, witness = page_and_witness
    open_live(page, dashboard.url)
    publish_raw(broker.port, "earmark/kitchen/clip/clip-first", ogg_clip)
    wait_for(lambda: clip_of(dashboard, "clip-first"), 30, 0.05, "the clip to be kept")
    publish_highlight(broker.port, highlight(id="clip-first", status="clipped"))
    audio = page.locator("#h-clip-first audio.clip")
    audio.wait_for()
    ready = "document.querySelector('#h-clip-first audio.clip').readyState >= 1"
    wait_for(lambda: page.evaluate(ready), 30, 0.05, "the clip's metadata")
    assert page.evaluate("document.querySelector('#h-clip-first audio.clip').duration") > 0.5
    assert clip_of(dashboard, "clip-first") == ogg_clip
    assert not witness.errors, witness.errors


@pytest.mark.parametrize(
    ("case", "reason"),
    [("not_ogg", "a clip that is not Ogg audio"), ("over_size", "a clip of 16,777,217 bytes")],
)
def test_a_bad_clip_is_dropped_with_one_line_and_the_clip_before_it_stays(
    case: str, reason: str, shared: tuple[LocalBroker, DashboardProcess], ogg_clip: bytes
) -> None:
    broker, dashboard = shared
    target = f"clip-{case.replace('_', '-')}"
    publish_highlight(broker.port, highlight(id=target, status="clipped"))
    publish_raw(broker.port, f"earmark/kitchen/clip/{target}", ogg_clip)
    wait_for(lambda: clip_of(dashboard, target), 30, 0.05, "the first clip")
    bad = b"RIFF\x24\x00\x00\x00WAVEfmt " + bytes(64)
    if case == "over_size":
        bad = b"OggS" + bytes(16 * 1024 * 1024 - 3)
    publish_raw(broker.port, f"earmark/kitchen/clip/{target}", bad)
    publish_raw(broker.port, f"earmark/kitchen/clip/{target}-after", ogg_clip)
    wait_for(lambda: clip_of(dashboard, f"{target}-after"), 30, 0.05, "the clip after")
    one_drop(dashboard, f"earmark/kitchen/clip/{target}", reason)
    assert clip_of(dashboard, target) == ogg_clip


# -- the broker going away -------------------------------------------------------------------


def test_the_page_says_the_broker_is_gone_and_recovers_when_it_is_back(
    broker: LocalBroker, dashboard: DashboardProcess, page_and_witness: tuple[Any, Witness]
) -> None:
    page, witness = page_and_witness
    open_live(page, dashboard.url)
    banner = page.locator("#broker")
    assert banner.inner_text().strip() == ""
    broker.stop()
    page.locator("#broker.warn").wait_for()
    assert "Broker:" in banner.inner_text()
    broker.start()
    page.locator("#broker.ok").wait_for(state="attached", timeout=PAGE_WAIT_MS)
    assert banner.inner_text().strip() == ""
    publish_highlight(broker.port, highlight(id="after-the-broker"))
    page.locator("#h-after-the-broker").wait_for()
    assert not witness.errors, witness.errors


# -- a burst -------------------------------------------------------------------------------


def burst(count: int, episodes: int) -> list[HighlightPayload]:
    """``count`` highlights, one second apart, spread over ``episodes`` episodes."""
    return [
        highlight(
            id=f"burst-{i:03d}",
            pressed_at=f"2026-11-26T10:{i // 60:02d}:{i % 60:02d}.000Z",
            episode=f"Episode {i % episodes}",
            title=f"Burst {i}",
        )
        for i in range(count)
    ]


def publish_all(port: int, payloads: list[HighlightPayload]) -> None:
    """Every payload from one connection, as fast as the broker takes them."""
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    client.connect("127.0.0.1", port)
    client.loop_start()
    try:
        sent = [
            client.publish(f"earmark/{h.device_id}/highlight", h.to_json(), qos=1) for h in payloads
        ]
        for message in sent:
            message.wait_for_publish(30)
    finally:
        client.loop_stop()
        client.disconnect()


def shown_ids(page: Any) -> list[str]:
    return page.eval_on_selector_all("#highlights article.highlight", "els => els.map(e => e.id)")


def test_a_hundred_highlights_at_once_all_arrive_and_list_in_pages_of_fifty(
    broker: LocalBroker, dashboard: DashboardProcess, page_and_witness: tuple[Any, Witness]
) -> None:
    page, witness = page_and_witness
    open_live(page, dashboard.url)
    sent = burst(100, episodes=10)
    publish_all(broker.port, sent)
    page.locator("#highlights article.highlight").nth(99).wait_for()
    newest_first = [f"h-{h.id}" for h in reversed(sent)]
    assert sorted(shown_ids(page)) == sorted(newest_first)

    page.reload()
    assert shown_ids(page) == newest_first[:50]
    page.locator("a.more").click()
    page.wait_for_url(re.compile(r"before="))
    assert shown_ids(page) == newest_first[50:]
    assert not witness.errors, witness.errors


def test_a_live_highlight_keeps_every_earlier_one_of_its_episode_on_the_page(
    broker: LocalBroker, dashboard: DashboardProcess, page_and_witness: tuple[Any, Witness]
) -> None:
    page, _ = page_and_witness
    open_live(page, dashboard.url)
    sent = burst(25, episodes=1)
    publish_all(broker.port, sent)
    page.locator(f"#h-{sent[-1].id}").wait_for()
    page.locator("#highlights article.highlight").nth(19).wait_for()
    publish_highlight(broker.port, highlight(id="burst-marker", episode="Elsewhere"))
    page.locator("#h-burst-marker").wait_for()
    assert sorted(shown_ids(page)) == sorted([f"h-{h.id}" for h in sent] + ["h-burst-marker"])
    # one group per episode: each new card joined the cards of its episode
    assert page.locator("#highlights section.episode").count() == 2
    first_group = page.locator("#highlights section.episode").nth(1)
    assert first_group.locator("article.highlight").count() == len(sent)


# -- search -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def searchable(shared: tuple[LocalBroker, DashboardProcess]) -> dict[str, HighlightPayload]:
    broker, dashboard = shared
    found = {
        "a": highlight(
            id="find-a",
            device_id="finder-a",
            podcast="Finder Show A",
            pressed_at="2026-01-05T08:00:00.000Z",
            starred=True,
            title="Zebrafish regrow their hearts",
            takeaways=["The quokka smiles at strangers"],
            note="Narwhal tusks are teeth",
            transcript="An axolotl can regrow a limb in weeks.",
        ),
        "b": highlight(
            id="find-b",
            device_id="finder-b",
            podcast="Finder Show B",
            pressed_at="2026-02-10T08:00:00.000Z",
            title="Finder plain title",
        ),
    }
    for h in found.values():
        publish_highlight(broker.port, h)
    for h in found.values():
        stored(dashboard, h.id)
    return found


def search(dashboard: DashboardProcess, **params: str) -> str:
    response = httpx.get(dashboard.url, params=params, timeout=10)
    assert response.status_code == 200
    return response.text


@pytest.mark.parametrize(
    ("word", "where"),
    [
        ("zebrafish", "title"),
        ("quokka", "takeaways"),
        ("narwhal", "note"),
        ("axolotl", "transcript"),
    ],
)
def test_a_search_marks_its_matches(
    word: str,
    where: str,
    shared: tuple[LocalBroker, DashboardProcess],
    searchable: dict[str, HighlightPayload],
) -> None:
    _, dashboard = shared
    html = search(dashboard, q=word)
    assert 'id="h-find-a"' in html and 'id="h-find-b"' not in html
    card = html[html.index('id="h-find-a"') :]
    element = {
        "title": "<h3",
        "takeaways": "<ul",
        "note": '<p class="note"',
        "transcript": "<details",
    }
    part = card[card.index(element[where]) :]
    end = {"title": "</h3>", "takeaways": "</ul>", "note": "</p>", "transcript": "</details>"}
    part = part[: part.index(end[where])]
    assert re.search(rf"<mark>{word}</mark>", part, re.IGNORECASE), part


@pytest.mark.parametrize(
    ("params", "shown"),
    [
        ({"podcast": "Finder Show A"}, "a"),
        ({"podcast": "Finder Show B"}, "b"),
        ({"speaker": "finder-b"}, "b"),
        ({"starred": "1"}, "a"),
        ({"since": "2026-02-01", "until": "2026-02-28"}, "b"),
        ({"since": "2026-01-05", "until": "2026-01-05"}, "a"),
    ],
)
def test_the_list_filters_by_podcast_speaker_star_and_date(
    params: dict[str, str],
    shown: str,
    shared: tuple[LocalBroker, DashboardProcess],
    searchable: dict[str, HighlightPayload],
) -> None:
    _, dashboard = shared
    html = search(dashboard, **params)
    hidden = "b" if shown == "a" else "a"
    assert f'id="h-find-{shown}"' in html
    assert f'id="h-find-{hidden}"' not in html


def test_two_dashboards_on_one_broker_each_hear_every_highlight_and_keep_their_link(
    broker: LocalBroker, tmp_path: Path
) -> None:
    """A second dashboard on the same host (a trial one beside the household's)
    has its own MQTT session: before, both took the same client id from each
    other every second, and each missed what arrived while the other held it."""
    first = start_dashboard(tmp_path / "first", broker.port)
    second = start_dashboard(tmp_path / "second", broker.port)
    try:
        for n in range(3):
            publish_highlight(broker.port, highlight(id=f"both-{n}", title=f"Heard by both {n}"))
        for running in (first, second):
            for n in range(3):
                stored(running, f"both-{n}")
    finally:
        first.stop()
        second.stop()
    for running in (first, second):
        assert "lost the broker" not in running.log, running.log[-2000:]
