"""The event seam, on the real speaker built in this process (real mpv with null
output, a real mosquitto, real SQLite, real faster-whisper): a listener added
with one registration line hears a snip's whole life in order, on the loop;
library threads only hand over; a listener that raises silences no other."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from earmark import config as config_module
from earmark.app import Speaker
from earmark.events import (
    EventBus,
    HighlightChanged,
    Listener,
    PlayerStateChanged,
    PositionSaved,
    SnipSaved,
)

from .support import Recorder, until


@pytest.fixture
def speaker_config(garden_config: Callable[..., Path]) -> config_module.Config:
    return config_module.load(garden_config({"player": {"position_save_interval": 0.5}}))


@pytest.fixture
def run_speaker(
    speaker_config: config_module.Config,
) -> Iterator[Callable[[Callable[[Speaker], Awaitable[None]]], None]]:
    def run(body: Callable[[Speaker], Awaitable[None]]) -> None:
        async def main() -> None:
            speaker = Speaker(speaker_config)
            try:
                await speaker.start()
                await body(speaker)
            finally:
                await speaker.stop()

        asyncio.run(main())

    yield run


def test_a_new_listener_hears_every_event_of_a_snip_in_order(run_speaker: Any) -> None:
    recorder = Recorder()

    async def body(speaker: Speaker) -> None:
        speaker.register(recorder)  # the one registration line
        await until(lambda: speaker.playback.snapshot().position > 3, "the episode to play 3 s", 60)
        reply = speaker.commands.run("snip", {}, "cli")
        assert reply["ok"] and reply["new"]
        await until(
            lambda: any(e.highlight.status == "done" for e in recorder.of(HighlightChanged)),
            "the snip to be done",
            180,
        )
        loop_thread = threading.current_thread().name
        assert recorder.threads == {loop_thread}, recorder.threads

    run_speaker(body)
    saved = recorder.of(SnipSaved)
    assert len(saved) == 1 and saved[0].new
    life = [e for e in recorder.events if isinstance(e, (SnipSaved, HighlightChanged))]
    assert isinstance(life[0], HighlightChanged) and life[0].highlight.status == "pending"
    versions = [e.highlight.version for e in life if isinstance(e, HighlightChanged)]
    assert versions == list(range(1, len(versions) + 1)), versions
    statuses = [e.highlight.status for e in life if isinstance(e, HighlightChanged)]
    assert statuses[0] == "pending" and statuses[-1] == "done"
    order = ["pending", "clipped", "transcribed", "done"]
    assert [s for s in order if s in statuses] == order, statuses
    assert [order.index(s) for s in statuses] == sorted(order.index(s) for s in statuses)


def test_positions_are_saved_on_the_loop_never_on_mpvs_thread(run_speaker: Any) -> None:
    writers: list[str] = []

    async def body(speaker: Speaker) -> None:
        save = speaker.catalog.save_position

        def recording_save(*args: Any, **kwargs: Any) -> Any:
            writers.append(threading.current_thread().name)
            return save(*args, **kwargs)

        speaker.catalog.save_position = recording_save  # type: ignore[method-assign]
        recorder = Recorder()
        speaker.register(recorder)
        await until(lambda: len(recorder.of(PositionSaved)) >= 2, "two position saves", 60)
        await until(lambda: recorder.of(PlayerStateChanged), "a player state", 10)
        assert set(writers) == {threading.current_thread().name}, writers

    run_speaker(body)
    assert writers


def test_a_listener_that_raises_does_not_silence_the_others() -> None:
    class Broken(Listener):
        def snip_saved(self, event: SnipSaved) -> None:
            raise RuntimeError("a bug in one listener")

    heard = Recorder()
    bus = EventBus()
    bus.register(Broken())
    bus.register(heard)

    async def main() -> None:
        bus.attach(asyncio.get_running_loop())
        thread = threading.Thread(
            target=bus.emit,
            args=(SnipSaved(None, True, "test"),),  # type: ignore[arg-type]
        )
        thread.start()
        thread.join()
        bus.emit(PositionSaved(1, 2.0, False))
        await until(lambda: len(heard.events) == 2, "both events", 5)

    asyncio.run(main())
    assert [type(e) for e in heard.events] == [SnipSaved, PositionSaved]
