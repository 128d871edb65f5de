"""What playback does when the Bluetooth headset goes and comes back, on the real
speaker built in this process (real mpv on the null output, real SQLite, a real
mosquitto): the events are announced on its bus as the reconnect watch announces
them (tests/device/test_headset_daemon.py runs the watch itself against a
stand-in bluetoothd)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from earmark import config as config_module
from earmark.app import Speaker
from earmark.events import HeadsetAway, HeadsetConnected
from earmark.player.state import Status

from ..support import Recorder, until

BUDS = "AA:BB:CC:DD:EE:01"
HEADSET_DEVICE = f"alsa/bluealsa:DEV={BUDS},PROFILE=a2dp"
JACK = "alsa/plughw:0,0"
Body = Callable[[Speaker], Awaitable[None]]


def headset_news(heard: Recorder) -> list[Any]:
    """What the speaker heard about the headset, in order."""
    return heard.of(HeadsetAway, HeadsetConnected)


@pytest.fixture
def start_speaker(
    garden_config: Callable[..., Path], monkeypatch: pytest.MonkeyPatch
) -> Iterator[Callable[..., None]]:
    """Run ``body`` on a started speaker whose own watch finds no bluetoothd here
    (no bus): it says the headset is away, once."""
    monkeypatch.setenv("DBUS_SYSTEM_BUS_ADDRESS", "unix:path=/nonexistent/earmark-test-bus")

    def run(body: Callable[[Speaker, Recorder], Awaitable[None]], **player: Any) -> None:
        settings = {"audio_device": HEADSET_DEVICE, "bluetooth_headset": BUDS, **player}
        path = garden_config({"player": settings, "transcription": {"lookahead": "off"}})
        config = config_module.load(path)

        async def main() -> None:
            speaker = Speaker(config)
            news = Recorder()
            speaker.register(news)
            try:
                await speaker.start()
                await until(lambda: headset_news(news), "the watch's first look")
                await body(speaker, news)
            finally:
                await speaker.stop()

        asyncio.run(main())

    yield run


@pytest.fixture
def run_speaker(start_speaker: Callable[..., None]) -> Callable[..., None]:
    """Run ``body`` on a speaker playing through the headset: after the watch's
    first look, the headset is announced connected as the watch would once it
    finds it."""

    def run(body: Body, **player: Any) -> None:
        async def playing(speaker: Speaker, news: Recorder) -> None:
            speaker.bus.emit(HeadsetConnected(BUDS))
            # heard after FollowHeadset (registered later): once here, it has acted
            await until(
                lambda: headset_news(news)[-1] == HeadsetConnected(BUDS), "the headset connected"
            )
            await until(lambda: status(speaker) == Status.PLAYING, "the episode to play")
            await body(speaker)

        start_speaker(playing, **player)

    return run


def status(speaker: Speaker) -> Status:
    return speaker.playback.snapshot().status


def test_with_no_bluetoothd_at_start_the_episode_loads_paused_for_the_headset(
    start_speaker: Callable[..., None],
) -> None:
    async def body(speaker: Speaker, news: Recorder) -> None:
        assert headset_news(news) == [HeadsetAway(BUDS)]
        await until(lambda: status(speaker) == Status.PAUSED, "the paused load")
        assert speaker.playback.describe()["paused_for"] == "headset away"
        assert speaker.playback.snapshot().position < 1.0  # nothing went out unheard

    start_speaker(body)


def test_with_no_bluetoothd_and_a_fallback_the_episode_plays_through_the_fallback(
    start_speaker: Callable[..., None],
) -> None:
    async def body(speaker: Speaker, news: Recorder) -> None:
        await until(lambda: status(speaker) == Status.PLAYING, "the episode to play")
        assert speaker.playback.describe()["audio_device"] == JACK
        assert headset_news(news) == [HeadsetAway(BUDS)]

    start_speaker(body, fallback_audio_device=JACK)


def test_the_episode_pauses_when_the_headset_goes_and_plays_on_when_it_is_back(
    run_speaker: Callable[..., None],
) -> None:
    async def body(speaker: Speaker) -> None:
        speaker.bus.emit(HeadsetAway(BUDS))
        await until(lambda: status(speaker) == Status.PAUSED, "the pause")
        assert speaker.playback.describe()["paused_for"] == "headset away"
        state = speaker.playback.snapshot()
        assert state.episode_id is not None
        saved = lambda: speaker.catalog.position(state.episode_id)  # noqa: E731
        await until(lambda: abs(saved() - state.position) < 0.5, "the position saved")
        speaker.bus.emit(HeadsetConnected(BUDS))
        await until(lambda: status(speaker) == Status.PLAYING, "playing on")
        assert speaker.playback.describe()["paused_for"] is None
        assert speaker.playback.snapshot().episode_id == state.episode_id

    run_speaker(body)


def test_a_pause_the_listener_made_stays_when_the_headset_comes_back(
    run_speaker: Callable[..., None],
) -> None:
    async def body(speaker: Speaker) -> None:
        speaker.commands.run("pause", {}, "cli")
        await until(lambda: status(speaker) == Status.PAUSED, "the listener's pause")
        speaker.bus.emit(HeadsetAway(BUDS))
        speaker.bus.emit(HeadsetConnected(BUDS))
        # a marker after both: once the listener hears it, both were delivered
        marker = asyncio.Event()
        speaker.on_loop(marker.set)
        await until(marker.is_set, "the events delivered")
        assert status(speaker) == Status.PAUSED
        assert speaker.playback.describe()["paused_for"] is None

    run_speaker(body)


def test_a_listener_who_plays_and_pauses_while_the_headset_is_away_keeps_the_pause(
    run_speaker: Callable[..., None],
) -> None:
    async def body(speaker: Speaker) -> None:
        speaker.bus.emit(HeadsetAway(BUDS))
        await until(lambda: speaker.playback.held, "the pause for the headset")
        speaker.commands.run("play", {}, "cli")
        await until(lambda: status(speaker) == Status.PLAYING, "the listener's play")
        speaker.commands.run("pause", {}, "cli")
        await until(lambda: status(speaker) == Status.PAUSED, "the listener's pause")
        speaker.bus.emit(HeadsetConnected(BUDS))
        marker = asyncio.Event()
        speaker.on_loop(marker.set)
        await until(marker.is_set, "the event delivered")
        assert status(speaker) == Status.PAUSED

    run_speaker(body)


def test_with_a_fallback_output_the_episode_plays_on_through_it(
    run_speaker: Callable[..., None],
) -> None:
    async def body(speaker: Speaker) -> None:
        assert speaker.playback.describe()["audio_device"] == HEADSET_DEVICE
        speaker.bus.emit(HeadsetAway(BUDS))
        await until(lambda: speaker.playback.describe()["audio_device"] == JACK, "the fallback")
        position = speaker.playback.snapshot().position
        await until(
            lambda: speaker.playback.snapshot().position > position + 1, "playing on the fallback"
        )
        assert status(speaker) == Status.PLAYING
        speaker.bus.emit(HeadsetConnected(BUDS))
        await until(
            lambda: speaker.playback.describe()["audio_device"] == HEADSET_DEVICE, "the headset"
        )
        assert status(speaker) == Status.PLAYING

    run_speaker(body, fallback_audio_device=JACK)


def test_the_headset_coming_back_while_the_speaker_stops_changes_nothing(
    start_speaker: Callable[..., None], caplog: pytest.LogCaptureFixture
) -> None:
    """The watch's news can arrive between the player's stop and the end of the
    speaker's: there is no output left to move, and nothing fails."""

    async def body(speaker: Speaker, news: Recorder) -> None:
        await until(lambda: speaker.playback.describe()["audio_device"] == JACK, "the fallback")
        speaker.playback.stop()  # as Speaker.stop does first
        speaker.bus.emit(HeadsetConnected(BUDS))
        await until(lambda: headset_news(news)[-1] == HeadsetConnected(BUDS), "the news delivered")

    start_speaker(body, fallback_audio_device=JACK)
    assert "failed on event" not in caplog.text
