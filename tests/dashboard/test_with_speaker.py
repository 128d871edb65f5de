"""The dashboard in a browser against a real speaker: the speaker daemon playing the
garden episode through mpv, and ``earmark dashboard``, both on the test mosquitto.
What the page sends is a command the speaker carries out, and what the page shows
comes back from the speaker as MQTT (state, highlight versions, clips, results).

One mosquitto, speaker and dashboard serve the module (``stack``); before each test
the speaker is made to play from ``SNIP_AT`` again, whatever the test before left
(paused, played on, the episode over). The tests that read or edit a done highlight
share two snips pressed one after the other (``snips``): one to read, one to edit.
The first test needs a dashboard that has never seen a highlight, so it has a
speaker and dashboard of its own."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from playwright.sync_api import expect

from earmark import control
from earmark.library.fileserver import FileServer
from earmark.payloads import HighlightPayload
from earmark.sync.broker import LocalBroker, free_port
from tests.daemon_process import Daemon, earmark
from tests.support import MqttListener, highlight_versions, wait_for, write_feed

from .conftest import (
    PAGE_WAIT_MS,
    DashboardProcess,
    Witness,
    highlight,
    publish_highlight,
    until_in_page,
)
from .shared import start_dashboard

SPEAKER = "#s-testbox"
# a snip, from its press to done, runs Whisper and the summarizer: generous on a busy box
DONE_MS = 180_000
# the garden episode is 63.7 s of speech; a press this far in has words before it
SNIP_AT = 10.0
# the shared edit snip's press: past the read snip's window (a press inside the newest
# snip's window would extend that snip), so the two are separate highlights
EDIT_AT = 38.0


class Stack:
    """mosquitto, the garden feed on a local HTTP server, the speaker daemon playing
    it (look-ahead off), ``earmark dashboard``, and a listener on every MQTT message
    from before the speaker started; all under ``root``."""

    def __init__(self, root: Path, episode: Path) -> None:
        self._closing = ExitStack()
        try:
            self._start(root, episode)
        except BaseException:
            self._closing.close()
            raise

    def _start(self, root: Path, episode: Path) -> None:
        broker = self._closing.enter_context(LocalBroker(free_port()))
        podcast = root / "podcast"
        podcast.mkdir(parents=True)
        shutil.copy(episode, podcast / "garden.mp3")
        server = self._closing.enter_context(FileServer(podcast))
        feed = write_feed(
            podcast, server.base_url, "The Slow Garden", [("garden-1", "Compost", "garden.mp3")]
        )
        self.broker_port = broker.port
        self.listener = MqttListener(broker.port)
        self._closing.callback(self.listener.close)
        (root / "data").mkdir()
        config = {
            "device_id": "testbox",
            "data_dir": str(root / "data"),
            "control_socket": str(root / "earmark.sock"),
            "log_level": "debug",
            "player": {"audio_output": "null", "earcons": False},
            "library": {"demo": False, "feeds": [feed]},
            "mqtt": {"host": "127.0.0.1", "port": broker.port},
            "transcription": {"lookahead": "off"},
        }
        path = root / "earmark.yaml"
        path.write_text(yaml.safe_dump(config))
        self.daemon = Daemon(path, root / "daemon.log")
        self._closing.callback(self.daemon.terminate)
        self.dashboard = start_dashboard(root / "dashboard", broker.port)
        self._closing.callback(self.dashboard.stop)
        self.daemon.wait_playing()

    def close(self) -> None:
        self._closing.close()


@dataclass
class Snips:
    """The module's shared snips, and a page open since before they were pressed
    (their cards arrived in it live)."""

    read: str  # read, played, continued on the speaker, a note saved from the live card
    edit: str  # edited, starred, deleted and brought back, re-cut
    live: Any
    witness: Witness


def _watched_page(context: Any) -> tuple[Any, Witness]:
    """A page whose dialogs are dismissed and, with its console and errors, recorded."""
    page = context.new_page()
    page.set_default_timeout(PAGE_WAIT_MS)
    witness = Witness()

    def dialog(d: Any) -> None:
        witness.dialogs.append(d.message)
        d.dismiss()

    page.on("dialog", dialog)
    page.on("console", lambda m: witness.console.append(f"{m.type}: {m.text}"))
    page.on("pageerror", lambda e: witness.errors.append(str(e)))
    return page, witness


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory, garden_episode: Any) -> Iterator[Stack]:
    running = Stack(tmp_path_factory.mktemp("speaker"), garden_episode.path)
    try:
        yield running
    finally:
        running.close()


@pytest.fixture(scope="module")
def snips(stack: Stack, chromium: Any) -> Iterator[Snips]:
    """Two snips from the speaker's CLI, pressed one right after the other (their clips
    and transcriptions overlap), into a page opened before; each test waits for the
    one it uses to be done."""
    context = chromium.new_context(viewport={"width": 1280, "height": 900})
    try:
        page, witness = _watched_page(context)
        _play_from(stack.daemon, SNIP_AT)  # the page's speaker card moves on
        _open(page, stack.dashboard)
        # pressed right at SNIP_AT, so the read snip's window ends well before EDIT_AT
        _play_from(stack.daemon, SNIP_AT)
        read = _snip(stack.daemon)
        _play_from(stack.daemon, EDIT_AT)
        edit = _snip(stack.daemon)
        assert read != edit, "the second press extended the first snip"
        yield Snips(read, edit, page, witness)
    finally:
        context.close()


@pytest.fixture
def speaker(stack: Stack) -> Stack:
    """The module's stack, its speaker playing from ``SNIP_AT``."""
    _play_from(stack.daemon, SNIP_AT)
    return stack


@pytest.fixture
def own_speaker(tmp_path: Path, garden_episode: Any) -> Iterator[Stack]:
    """A stack of the test's own (its dashboard has never seen a highlight), its
    speaker playing from ``SNIP_AT``."""
    running = Stack(tmp_path / "own", garden_episode.path)
    try:
        _play_from(running.daemon, SNIP_AT)
        yield running
    finally:
        running.close()


def _play_from(daemon: Daemon, position: float) -> None:
    """The speaker playing from ``position``, whatever it was doing before (playing,
    paused, or done with the episode: then ``play`` loads it again)."""
    answers: list[str] = []

    def there() -> bool:
        assert daemon.process.poll() is None, f"daemon exited:\n{daemon.log[-3000:]}"
        player = (daemon.status() or {}).get("player") or {}
        at = player.get("position", -1)
        playing = player.get("status") == "playing"
        if playing and position <= at < position + 20:
            return True
        # an mp3 seeks to the frame at or just before the time asked for: from there
        # it plays on to ``position``; anything else asks (again)
        if not (playing and position - 2 <= at < position):
            if player.get("status") == "stopped":
                # the episode ran out: ``play`` loads it again only with nothing loaded
                socket = yaml.safe_load(daemon.config.read_text())["control_socket"]
                answers.append(f"stop: {control.request(Path(socket), 'stop')}")
            for command in (("play",), ("seek", str(position))):
                done = earmark(daemon.config, *command)
                answers.append(f"{command}: {done.returncode} {done.stdout}{done.stderr}")
        return False

    try:
        wait_for(there, 60, 0.2, f"the speaker playing from {position}")
    except AssertionError as exc:
        raise AssertionError(f"{exc}; the speaker said: {answers[-4:]}") from None


def _open(page: Any, dashboard: DashboardProcess) -> None:
    """The list page, once its live stream has pushed a fresh speaker card."""
    page.goto(dashboard.url)
    page.locator(f"{SPEAKER} .position").wait_for()
    until_in_page(page, "document.querySelector('#live')?._htmx?.sse !== undefined", "the stream")
    shown = page.locator(f"{SPEAKER} .position").inner_text()
    # the speaker's state comes once a second while it plays: a new position on
    # the card is the live stream delivering
    until_in_page(
        page,
        "shown => document.querySelector('#s-testbox .position')?.textContent !== shown",
        "a new position on the card",
        arg=shown,
    )


def _snip(daemon: Daemon) -> str:
    """A snip on the speaker from its CLI: the highlight's id."""
    daemon.wait_playing(min_position=SNIP_AT)
    snipped = earmark(daemon.config, "snip")
    assert snipped.returncode == 0, snipped.stderr
    return snipped.stdout.split("id=")[1].split()[0]


def _done_card(page: Any, highlight_id: str) -> Any:
    card = page.locator(f"#h-{highlight_id}")
    page.locator(f"#h-{highlight_id}[data-status=done]").wait_for(timeout=DONE_MS)
    return card


def _done_version(listener: MqttListener, highlight_id: str) -> HighlightPayload:
    """The newest done version on MQTT (a shared snip's, after the tests before)."""
    return wait_for(
        lambda: [h for h in highlight_versions(listener, highlight_id) if h.status == "done"],
        DONE_MS / 1000,
        0.1,
        "the done version on MQTT",
    )[-1]


def _done_highlight(page: Any, stack: Stack, highlight_id: str) -> tuple[HighlightPayload, Any]:
    """A snip on the speaker, once done, and its card in a page opened after that (so
    the card's Edit form shows the done version)."""
    done = _done_version(stack.listener, highlight_id)
    _open(page, stack.dashboard)
    card = _done_card(page, done.id)
    expect(card).to_have_attribute("data-version", str(done.version))
    return done, card


def _version(listener: MqttListener, highlight_id: str, version: int) -> HighlightPayload:
    return wait_for(
        lambda: [h for h in highlight_versions(listener, highlight_id) if h.version == version],
        30,
        0.05,
        f"version {version} on MQTT",
    )[0]


def _record_statuses(page: Any, card: str) -> None:
    """From now on, every status the page's highlight card ``card`` (a selector that
    finds one card) shows, in turn."""
    page.evaluate(
        """selector => {
          window.seenStatuses = [];
          const note = () => {
            for (const card of document.querySelectorAll(selector)) {
              const seen = window.seenStatuses;
              if (seen[seen.length - 1] !== card.dataset.status) seen.push(card.dataset.status);
            }
          };
          new MutationObserver(note).observe(document.body, {
            subtree: true, childList: true, attributes: true, attributeFilter: ['data-status'],
          });
        }""",
        card,
    )


def _edit(card: Any, **fields: str) -> None:
    """Open the card's Edit form (fetched when opened), fill it (title, note, tags,
    start, end) and save it."""
    details = card.locator("details.edit")
    if details.get_attribute("open") is None:
        details.locator("summary").click()
    form = details.locator("form")
    for name, value in fields.items():
        form.locator(f"[name={name}]").fill(value)
    form.locator("button[type=submit]").click()


def test_a_snip_pressed_in_the_page_appears_live_with_its_progress_and_ends_done_with_a_title(
    own_speaker: Stack, page_and_witness: tuple[Any, Witness]
) -> None:
    page, witness = page_and_witness
    _open(page, own_speaker.dashboard)
    expect(page.locator("#no-highlights")).to_be_visible()
    _record_statuses(page, "#highlights article.highlight")
    own_speaker.daemon.wait_playing(min_position=SNIP_AT)
    page.locator(f"{SPEAKER} button[data-command=snip]").click()
    expect(page.locator("#sr-testbox .ok")).to_have_text("✓ done")
    card = page.locator("#highlights article.highlight")
    card.wait_for()
    highlight_id = str(card.get_attribute("id")).removeprefix("h-")
    _done_card(page, highlight_id)
    title = card.locator(".title").inner_text()
    assert title.strip() and title != "Saving the moment…"
    seen = page.evaluate("window.seenStatuses")
    # it arrived saved, and each later version moved it on, in order
    assert seen[0] == "pending" and seen[-1] == "done", seen
    order = ["pending", "clipped", "transcribed", "done"]
    assert [order.index(s) for s in seen] == sorted(order.index(s) for s in seen), seen
    assert "on testbox" in card.locator(".meta").inner_text()
    expect(page.locator("#no-highlights")).to_be_hidden()  # it was the page's only line
    assert not witness.errors, witness.errors


def test_a_snip_from_the_speakers_cli_gets_a_clip_the_browser_plays_with_a_duration(
    snips: Snips, speaker: Stack
) -> None:
    page, witness = snips.live, snips.witness
    highlight_id = snips.read
    card = _done_card(page, highlight_id)
    clip = card.locator("audio.clip")
    clip.wait_for()
    assert clip.get_attribute("src") == f"/highlights/{highlight_id}/clip"
    duration = clip.evaluate(
        """el => new Promise((loaded, failed) => {
          el.addEventListener('error', () => failed(new Error('audio error ' + el.error?.code)));
          if (el.readyState >= 1) loaded(el.duration);
          else { el.addEventListener('loadedmetadata', () => loaded(el.duration)); el.load(); }
        })"""
    )
    assert duration == duration and 0 < duration < float("inf"), duration
    status, headers, body = speaker.dashboard.get(f"/highlights/{highlight_id}/clip")
    assert status == 200 and headers["content-type"] == "audio/ogg"
    assert body.startswith(b"OggS") and b"OpusHead" in body[:200]
    # and it plays: its time moves on
    clip.evaluate("el => el.play()")
    clip.evaluate(
        """el => new Promise(moved => {
          const check = () => { if (el.currentTime > 0) moved(); };
          el.addEventListener('timeupdate', check); check();
        })"""
    )
    clip.evaluate("el => el.pause()")
    assert not witness.errors, witness.errors


def test_play_pause_on_the_speaker_card_pauses_the_speaker_and_shows_its_answer(
    speaker: Stack, page_and_witness: tuple[Any, Witness]
) -> None:
    # the next test's ``speaker`` has the speaker playing again
    page, witness = page_and_witness
    _open(page, speaker.dashboard)
    page.locator(f"{SPEAKER} button[data-command=toggle]").click()
    expect(page.locator("#sr-testbox .ok")).to_contain_text("✓ ")

    def paused() -> bool:
        return ((speaker.daemon.status() or {}).get("player") or {}).get("status") == "paused"

    wait_for(paused, 30, 0.2, "the speaker paused")
    expect(page.locator(f"{SPEAKER} .status")).to_have_text("paused")
    assert not witness.errors, witness.errors


def test_volume_set_on_the_speaker_card_reaches_the_speaker(
    speaker: Stack, page_and_witness: tuple[Any, Witness]
) -> None:
    page, witness = page_and_witness
    before = ((speaker.daemon.status() or {}).get("player") or {}).get("volume")
    _open(page, speaker.dashboard)
    try:
        volume = page.locator(f"{SPEAKER} form.volume")
        volume.locator("input[name=value]").fill("40")
        volume.locator("button[type=submit]").click()
        expect(page.locator("#sr-testbox .ok")).to_contain_text("✓ ")

        def at_forty() -> bool:
            player = (speaker.daemon.status() or {}).get("player") or {}
            return player.get("volume") == pytest.approx(40)

        wait_for(at_forty, 30, 0.2, "the speaker's volume at 40")
        expect(volume.locator("input[name=value]")).to_have_value("40")
        assert not witness.errors, witness.errors
    finally:
        if before is not None:  # the volume the tests after expect
            earmark(speaker.daemon.config, "volume", str(before))


def test_an_edit_in_the_page_comes_back_from_the_speaker_as_the_next_version(
    snips: Snips, speaker: Stack, page_and_witness: tuple[Any, Witness]
) -> None:
    page, witness = page_and_witness
    done, card = _done_highlight(page, speaker, snips.edit)
    highlight_id = done.id
    _edit(card, title="Compost needs air", note="Try it on the balcony", tags="compost, balcony")
    expect(page.locator(f"#r-{highlight_id} .ok")).to_contain_text(f"version {done.version + 1}")
    expect(card.locator(".title")).to_have_text("Compost needs air")
    expect(card).to_have_attribute("data-version", str(done.version + 1))
    expect(card.locator(".note")).to_have_text("Try it on the balcony")
    expect(card.locator(".tags")).to_contain_text("#compost")
    edited = _version(speaker.listener, highlight_id, done.version + 1)
    assert (edited.title, edited.note, edited.tags) == (
        "Compost needs air",
        "Try it on the balcony",
        ["compost", "balcony"],
    )
    # only what was changed: the window (untouched in the form) stays, no new cut
    assert (edited.status, edited.start, edited.end) == ("done", done.start, done.end)
    assert not witness.errors, witness.errors


def test_a_note_saved_on_a_card_that_arrived_live_changes_only_the_note(
    snips: Snips, speaker: Stack
) -> None:
    # the shared page was open before the snip was pressed: its card arrived live
    page = snips.live
    highlight_id = snips.read
    card = _done_card(page, highlight_id)
    done = _done_version(speaker.listener, highlight_id)
    assert done.title
    _edit(card, note="Try it on the balcony")
    expect(page.locator(f"#r-{highlight_id} .ok")).to_contain_text(f"version {done.version + 1}")
    edited = _version(speaker.listener, highlight_id, done.version + 1)
    assert edited.version == done.version + 1 and edited.note == "Try it on the balcony"
    assert (edited.title, edited.status, edited.start, edited.end) == (
        done.title,
        "done",
        done.start,
        done.end,
    )


def test_star_in_the_page_stars_the_highlight_on_the_speaker(
    snips: Snips, speaker: Stack, page_and_witness: tuple[Any, Witness]
) -> None:
    page, witness = page_and_witness
    done, card = _done_highlight(page, speaker, snips.edit)
    highlight_id = done.id
    assert not done.starred  # no other test stars it
    card.locator("button.star-toggle").click()
    page.locator(f"#h-{highlight_id}.starred").wait_for()
    expect(card.locator("button.star-toggle")).to_have_text("★ Unstar")
    expect(card).to_have_attribute("data-version", str(done.version + 1))
    assert _version(speaker.listener, highlight_id, done.version + 1).starred is True
    # unstarred again, for the tests after on the shared snip (a star shows in its title)
    card.locator("button.star-toggle").click()
    page.locator(f"#h-{highlight_id}:not(.starred)").wait_for()
    assert _version(speaker.listener, highlight_id, done.version + 2).starred is False
    assert not witness.errors, witness.errors


def test_delete_in_the_page_shows_undo_and_undo_brings_the_highlight_back(
    snips: Snips, speaker: Stack, page_and_witness: tuple[Any, Witness]
) -> None:
    page, witness = page_and_witness
    done, card = _done_highlight(page, speaker, snips.edit)
    highlight_id = done.id
    title = card.locator(".title").inner_text()
    card.locator("button.delete").click()
    page.locator(f"#h-{highlight_id}.deleted").wait_for()
    expect(card.locator(".gone")).to_have_text(f"Deleted “{title}”.")
    assert _version(speaker.listener, highlight_id, done.version + 1).deleted is True
    card.locator("button.undo").click()
    page.locator(f"#h-{highlight_id}:not(.deleted) .title").wait_for()
    expect(card.locator(".title")).to_have_text(title)
    back = _version(speaker.listener, highlight_id, done.version + 2)
    assert (back.deleted, back.status, back.title) == (False, "done", title)
    assert not witness.errors, witness.errors


def test_two_tabs_retitling_one_highlight_land_as_successive_versions_shown_in_both(
    snips: Snips, speaker: Stack, page_and_witness: tuple[Any, Witness]
) -> None:
    first, witness = page_and_witness
    done, _ = _done_highlight(first, speaker, snips.edit)
    highlight_id = done.id
    second = first.context.new_page()
    second.on("pageerror", lambda e: witness.errors.append(str(e)))
    _open(second, speaker.dashboard)
    cards = [tab.locator(f"#h-{highlight_id}") for tab in (first, second)]
    # both forms are open before either is saved: the second one is stale when sent
    for card in cards:
        card.locator("details.edit summary").click()
    _edit(cards[0], title="From the kitchen")
    expect(first.locator(f"#r-{highlight_id} .ok")).to_contain_text(f"version {done.version + 1}")
    expect(cards[1].locator(".title")).to_have_text("From the kitchen")
    _edit(cards[1], title="From the garden")
    expect(second.locator(f"#r-{highlight_id} .ok")).to_contain_text(f"version {done.version + 2}")
    for card in cards:
        expect(card.locator(".title")).to_have_text("From the garden")
        expect(card).to_have_attribute("data-version", str(done.version + 2))
    _version(speaker.listener, highlight_id, done.version + 2)
    titles = [
        (h.version, h.title)
        for h in highlight_versions(speaker.listener, highlight_id)
        if h.version > done.version
    ]
    assert titles == [
        (done.version + 1, "From the kitchen"),
        (done.version + 2, "From the garden"),
    ]
    assert not witness.errors, witness.errors


def test_two_tabs_editing_different_fields_of_one_highlight_keep_both_edits(
    snips: Snips, speaker: Stack, page_and_witness: tuple[Any, Witness]
) -> None:
    # a title and a note no other test on the shared snip gives it, so both are changes
    first, witness = page_and_witness
    done, _ = _done_highlight(first, speaker, snips.edit)
    highlight_id = done.id
    second = first.context.new_page()
    _open(second, speaker.dashboard)
    cards = [tab.locator(f"#h-{highlight_id}") for tab in (first, second)]
    # the second tab's Edit form is opened (and fetched) before the first tab saves
    cards[1].locator("details.edit summary").click()
    expect(cards[1].locator("details.edit input[name=title]")).to_have_value(done.title or "")
    _edit(cards[0], title="From the shed")
    expect(cards[1]).to_have_attribute("data-version", str(done.version + 1))
    _edit(cards[1], note="Ask about the worms")  # its title field still shows the old one
    expect(cards[1].locator("details.edit input[name=title]")).to_have_value(done.title or "")
    expect(second.locator(f"#r-{highlight_id} .ok")).to_contain_text(f"version {done.version + 2}")
    for card in cards:
        expect(card).to_have_attribute("data-version", str(done.version + 2))
        expect(card.locator(".note")).to_have_text("Ask about the worms")
        expect(card.locator(".title")).to_have_text("From the shed")
    final = _version(speaker.listener, highlight_id, done.version + 2)
    assert (final.title, final.note) == ("From the shed", "Ask about the worms")
    assert not witness.errors, witness.errors


def test_continue_on_speaker_plays_the_highlights_episode_from_its_start(
    snips: Snips, speaker: Stack, page_and_witness: tuple[Any, Witness]
) -> None:
    page, witness = page_and_witness
    done, card = _done_highlight(page, speaker, snips.read)

    def player() -> dict[str, Any]:
        return ((speaker.daemon.status() or {}).get("player")) or {}

    # the play head has gone on past the highlight: continuing must take it back
    _play_from(speaker.daemon, done.end + 1)
    wait_for(lambda: player().get("position", 0) > done.end, 60, 0.2, "past the highlight")
    card.locator("button.continue").click()
    expect(page.locator(f"#r-{done.id} .ok")).to_contain_text("✓ playing Compost from")
    now = player()
    assert now["status"] == "playing"
    # an mp3 seeks to the frame at or just before the time asked for
    assert done.start - 1.5 <= now["position"] < done.end, (now, done.start, done.end)
    expect(page.locator(f"{SPEAKER} .status")).to_have_text("playing")
    assert not witness.errors, witness.errors


def test_continue_on_a_speaker_that_does_not_hold_the_highlight_plays_its_own_copy(
    own_speaker: Stack, page_and_witness: tuple[Any, Witness]
) -> None:
    """A highlight saved on another speaker (the bedroom's, its episode downloaded
    there) continued on this one: the same episode from this speaker's library."""
    page, witness = page_and_witness
    bedroom = highlight(
        id="0fbedroom0000009",
        device_id="bedroom",
        status="done",
        title="Heard in the bedroom",
        podcast="The Slow Garden",
        episode="Compost",
        source_url="/var/lib/earmark/episodes/3/3.mp3",
        press_position=38.0,
        start=30.0,
        end=40.0,
    )
    publish_highlight(own_speaker.broker_port, bedroom)
    _open(page, own_speaker.dashboard)
    card = page.locator(f"#h-{bedroom.id}")
    card.locator("select[name=speaker]").select_option("testbox")
    card.locator("button.continue").click()
    expect(page.locator(f"#r-{bedroom.id} .ok")).to_contain_text("✓ playing Compost from 30s")
    now = (own_speaker.daemon.status() or {}).get("player") or {}
    assert now.get("status") == "playing" and 28.5 <= now["position"] < 45, now
    assert not witness.errors, witness.errors


def test_a_new_start_and_end_in_the_edit_form_recut_the_highlight_through_pending_to_done(
    snips: Snips, speaker: Stack, page_and_witness: tuple[Any, Witness]
) -> None:
    page, witness = page_and_witness
    done, card = _done_highlight(page, speaker, snips.edit)
    highlight_id = done.id
    assert done.start < 40
    _record_statuses(page, f"#h-{highlight_id}")
    # "After about three months ..." is said from 43.0 s, "... tomatoes ..." until 53.7 s
    _edit(card, start="0:44", end="0:52")
    expect(page.locator(f"#r-{highlight_id} .ok")).to_contain_text(f"version {done.version + 1}")
    until_in_page(
        page,
        "() => window.seenStatuses.includes('pending') && window.seenStatuses.at(-1) === 'done'",
        "pending, then done",
        timeout=DONE_MS / 1000,
    )

    def since() -> list[HighlightPayload]:
        versions = highlight_versions(speaker.listener, highlight_id)
        return [h for h in versions if h.version > done.version]

    recuts = wait_for(
        lambda: since() if since() and since()[-1].status == "done" else [],
        30,
        0.05,
        "the re-cut on MQTT",
    )
    assert [h.status for h in recuts] == ["pending", "clipped", "transcribed", "done"]
    assert (recuts[0].start, recuts[0].end) == (44.0, 52.0)
    recut = recuts[-1]
    assert recut.start < 52.0 and recut.end > 44.0 and recut.start > done.start
    assert "tomatoes" in (recut.transcript or "").lower()
    expect(card).to_have_attribute("data-version", str(recut.version))
    expect(card.locator(".title")).to_have_text(str(recut.title))  # summarized again
    expect(card.locator(".meta")).to_contain_text(f"0:{int(recut.start):02d}–")
    assert not witness.errors, witness.errors


def test_the_page_with_a_done_highlight_and_the_speaker_fits_a_desktop_and_a_phone(
    snips: Snips, speaker: Stack, chromium: Any, tmp_path: Path
) -> None:
    desktop = chromium.new_context(viewport={"width": 1280, "height": 900})
    phone = chromium.new_context(
        viewport={"width": 390, "height": 844},
        is_mobile=True,
        has_touch=True,
        device_scale_factor=2,
    )
    try:
        pages = {"desktop": desktop.new_page(), "phone": phone.new_page()}
        for page in pages.values():
            page.set_default_timeout(PAGE_WAIT_MS)
        _open(pages["desktop"], speaker.dashboard)
        highlight_id = snips.read
        _done_card(pages["desktop"], highlight_id)
        pages["desktop"].locator(f"#h-{highlight_id} audio.clip").wait_for()
        shots = {}
        for name, page in pages.items():
            if name != "desktop":
                page.goto(speaker.dashboard.url)
            page.locator(f"#h-{highlight_id}[data-status=done] audio.clip").wait_for()
            page.locator(SPEAKER).wait_for()
            shots[name] = tmp_path / f"dashboard-{name}.png"
            page.screenshot(path=str(shots[name]), full_page=True)
        width = pages["phone"].evaluate("document.documentElement.scrollWidth")
        assert width <= 390, f"the phone page is {width}px wide: it scrolls sideways"
        for shot in shots.values():
            assert shot.read_bytes().startswith(b"\x89PNG")
        keep = os.environ.get("EARMARK_SCREENSHOTS")
        if keep:
            for shot in shots.values():
                shutil.copy(shot, Path(keep) / shot.name)
    finally:
        desktop.close()
        phone.close()
