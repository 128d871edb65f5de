"""The dashboard's two asks of a running speaker (real mosquitto, mpv, ffmpeg and
faster-whisper): a new window for a highlight, cut, transcribed and summarized
again as new versions; and `listen`, the highlight's episode played on from the
highlight's start ("continue on speaker")."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from earmark.payloads import HighlightPayload
from tests.daemon_process import Daemon, earmark
from tests.support import MqttListener, wait_for
from tests.support import highlight_versions as versions
from tests.sync.test_commands import send

# the garden episode: 63.7 s; "After about three months ..." is said from 43.0 to
# 48.4 s and "Spread it around your tomatoes ..." from 49.1 to 53.7 s
EPISODE_END = 63.7


def _snipped(daemon: Daemon, listener: MqttListener, at: float) -> HighlightPayload:
    """A snip pressed ``at`` seconds or later into the episode, once it is done."""
    daemon.wait_playing(min_position=at)
    snipped = earmark(daemon.config, "snip")
    assert snipped.returncode == 0, snipped.stderr
    highlight_id = snipped.stdout.split("id=")[1].split()[0]
    return wait_for(
        lambda: [h for h in versions(listener, highlight_id) if h.status == "done"],
        180,
        0.2,
        "the snip done",
    )[0]


def _latest(listener: MqttListener, highlight_id: str) -> HighlightPayload:
    return versions(listener, highlight_id)[-1]


def test_a_new_window_is_cut_transcribed_and_summarized_again_as_new_versions(
    garden_daemon: Daemon, mqtt_listener: MqttListener
) -> None:
    done = _snipped(garden_daemon, mqtt_listener, at=20)
    assert "tomatoes" not in (done.transcript or "")
    titled = send(mqtt_listener, "edit", "t1", highlight=done.id, title="Compost needs air")

    moved = send(mqtt_listener, "edit", "w1", highlight=done.id, start=44.0, end=52.0)
    assert moved["ok"] is True and moved["version"] == titled["version"] + 1, moved

    def done_again() -> bool:
        latest = _latest(mqtt_listener, done.id)
        return latest.version > moved["version"] and latest.status == "done"

    wait_for(done_again, 180, 0.2, "the new window done")
    since = [h for h in versions(mqtt_listener, done.id) if h.version >= moved["version"]]
    # each step is a version of its own, from the window the listener asked for
    assert [h.status for h in since] == ["pending", "clipped", "transcribed", "done"]
    assert (since[0].start, since[0].end) == (44.0, 52.0)
    remade = since[-1]
    assert "tomatoes" in (remade.transcript or "").lower() and remade.takeaways
    assert remade.start < 52.0 and remade.end > 44.0  # snapped to whole sentences
    assert remade.title == "Compost needs air"  # the listener's title stays

    # the window as the payload shows it moves nothing: no version, no work
    same = send(mqtt_listener, "edit", "w2", highlight=done.id, start=remade.start, end=remade.end)
    assert same["ok"] is True and same["version"] == remade.version, same

    for request_id, args, why in (
        ("b1", {"start": 30.0, "end": 30.0}, "the window must end after it starts"),
        ("b2", {"start": 0.0, "end": 61.0}, "longer than 60 s (snip.before + snip.after)"),
        ("b3", {"start": 55.0, "end": 70.0}, "after the episode's end at 63."),
        ("b4", {"start": -1.0}, "'start' must be between 0"),
    ):
        refused = send(mqtt_listener, "edit", request_id, highlight=done.id, **args)
        assert refused["ok"] is False and why in refused["error"], refused
    unknown = send(mqtt_listener, "edit", "b5", highlight="no-such-id", start=1.0, end=5.0)
    assert unknown["ok"] is False and "no highlight 'no-such-id'" in unknown["error"]

    # the CLI moves it too
    cli = earmark(garden_daemon.config, "edit", done.id, "--start", "40", "--end", "50")
    assert cli.returncode == 0, cli.stderr
    assert f"version {remade.version + 1}" in cli.stdout
    latest = wait_for(
        lambda: [h for h in versions(mqtt_listener, done.id) if h.version == remade.version + 1],
        10,
        0.05,
        "the CLI's window",
    )[0]
    assert (latest.status, latest.start, latest.end) == ("pending", 40.0, 50.0)
    assert latest.title == "Compost needs air"
    seen = sorted({h.version for h in versions(mqtt_listener, done.id)})
    assert seen == list(range(1, latest.version + 1)), seen


@pytest.fixture
def short_snips(garden_config: Callable[..., Path], tmp_path: Path) -> Iterator[Daemon]:
    """The garden daemon whose snips are a few seconds long, so the episode plays
    past a highlight's end soon after `listen` starts it."""
    config = garden_config(
        {"transcription": {"lookahead": "off"}, "snip": {"before": 6, "after": 2}}
    )
    running = Daemon(config, tmp_path / "daemon.log")
    try:
        running.wait_playing()
        yield running
    finally:
        running.terminate()


def test_listen_to_another_speakers_highlight_plays_the_same_episode_here(
    short_snips: Daemon, mqtt_listener: MqttListener, garden_feed: str
) -> None:
    """The dashboard's "continue on" a speaker that does not hold the highlight:
    the moment comes with the command, and this speaker's own copy of the episode
    plays (found by its URL, else by titles); the URL given is never opened."""
    elsewhere = {"podcast": "The Slow Garden", "episode": "Compost", "start": 12.0}
    # downloaded on the other speaker: its path there means nothing here
    by_title = send(
        mqtt_listener,
        "listen",
        "e1",
        highlight="0fbedroom0000001",
        source_url="/var/lib/earmark/episodes/7/7.mp3",
        **elsewhere,
    )
    assert by_title["ok"] is True and "playing Compost from 12s" in by_title["message"], by_title
    assert 10.5 <= short_snips.player()["position"] < 30

    enclosure = garden_feed.rsplit("/", 1)[0] + "/garden.mp3"
    by_url = send(
        mqtt_listener,
        "listen",
        "e2",
        highlight="0fbedroom0000002",
        source_url=enclosure,
        episode="Renamed there",
        start=40.0,
    )
    assert by_url["ok"] is True and "from 40s" in by_url["message"], by_url

    unknown = send(
        mqtt_listener,
        "listen",
        "e3",
        highlight="0fbedroom0000003",
        **{**elsewhere, "episode": "Mulch"},
    )
    assert unknown["ok"] is False and "\n" not in unknown["error"], unknown
    assert unknown["error"] == (
        "highlight 0fbedroom0000003: no episode 'Mulch' of 'The Slow Garden' in this"
        " speaker's library (no source); subscribe to its podcast here, or play its clip"
    )


def test_listen_plays_the_highlights_episode_on_from_its_start(
    short_snips: Daemon, mqtt_listener: MqttListener, tmp_path: Path
) -> None:
    done = _snipped(short_snips, mqtt_listener, at=25)
    # the play head is past the snip by now (it plays on while the snip is made)
    wait_for(lambda: short_snips.player()["position"] > done.end, 60, 0.2, "past the snip")

    listened = send(mqtt_listener, "listen", "l1", highlight=done.id)
    assert listened["ok"] is True and "playing Compost" in listened["message"], listened
    player = short_snips.player()
    assert player["status"] == "playing"
    assert done.start - 1.5 <= player["position"] < done.end, (player, done.start, done.end)
    # not the clip: the episode goes on past the highlight's end
    wait_for(
        lambda: short_snips.player()["position"] > done.end + 2,
        60,
        0.2,
        "the episode playing on past the highlight",
    )

    unknown = send(mqtt_listener, "listen", "l2", highlight="no-such-id")
    assert unknown["ok"] is False and "no highlight 'no-such-id'" in unknown["error"]

    # the download and the feed's file both gone: nothing to play, said in one line
    for file in [tmp_path / "podcast" / "garden.mp3", *(tmp_path / "data").rglob("*.mp3")]:
        file.unlink()
    gone = send(mqtt_listener, "listen", "l3", highlight=done.id)
    assert gone["ok"] is False, gone
    assert gone["error"].startswith(f"highlight {done.id}: cannot play http"), gone
    assert "\n" not in gone["error"]
