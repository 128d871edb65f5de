"""Press → highlight row committed, while faster-whisper is busy on another snip.

A MockFactory button press goes through the real gesture code, hands over to
an asyncio loop (as the composition root does), and the loop captures the
snip into SQLite (WAL, synchronous=FULL). Measured over 200 presses with a
transcription running the whole time, against the same presses with the CPU
idle, in the same run. Target p99 <= 50 ms.
"""

from __future__ import annotations

import asyncio
import tempfile
import threading
import time
from pathlib import Path

from gpiozero.pins.mock import MockFactory, MockPWMPin

from bench import Figure
from bench.episodes import bread_episode
from earmark.actions import InputEvent
from earmark.config.inputs import ButtonConfig, HeadphonesConfig, HeadphonesDriver, InputsConfig
from earmark.device import build_inputs
from earmark.player.state import NowPlaying
from earmark.snip.capture import Capturer
from earmark.store.database import Database
from earmark.store.highlights import HighlightBook
from earmark.transcribe.base import TranscribeRequest
from earmark.transcribe.local import LocalTranscriber

PRESSES = 200


def _ms(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))] * 1000


def _presses(folder: Path, busy: threading.Event | None) -> list[float]:
    capturer = Capturer(HighlightBook(Database(folder / "earmark.db"), "bench"), 45, 15)
    loop = asyncio.new_event_loop()
    threading.Thread(target=loop.run_forever, daemon=True).start()
    committed = threading.Event()
    count = 0

    def capture(event: InputEvent) -> None:  # on the loop, like Speaker.snip
        nonlocal count
        count += 1
        playing = NowPlaying("/episode.mp3", count * 100.0, None, None, "Bread", "Bread")
        capturer.capture(playing, event.source)
        committed.set()

    factory = MockFactory(pin_class=MockPWMPin)
    config = InputsConfig(
        gpio="mock",
        buttons=(ButtonConfig(17, gestures={"single": "snip"}),),
        headphones=HeadphonesConfig(driver=HeadphonesDriver.OFF),
    )
    inputs = build_inputs(
        config, lambda e: loop.call_soon_threadsafe(capture, e), pin_factory=factory
    )
    inputs.start()
    latencies = []
    try:
        for _ in range(PRESSES):
            if busy is not None:
                busy.wait()
            time.sleep(0.03)
            committed.clear()
            started = time.perf_counter()
            factory.pin(17).drive_low()
            if not committed.wait(5):
                raise RuntimeError("a press was not captured")
            latencies.append(time.perf_counter() - started)
            time.sleep(0.03)
            factory.pin(17).drive_high()
    finally:
        inputs.stop()
        factory.close()
        loop.call_soon_threadsafe(loop.stop)
    return latencies


def run() -> list[Figure]:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        episode, _ = bread_episode(folder)
        idle = _presses(folder / "idle", None)
        transcriber = LocalTranscriber()
        transcriber.load()
        stop, busy = threading.Event(), threading.Event()

        def transcribe_forever() -> None:
            while not stop.is_set():
                busy.set()
                transcriber.transcribe(TranscribeRequest(audio=episode, start=0, end=60))

        worker = threading.Thread(target=transcribe_forever, daemon=True)
        worker.start()
        try:
            loaded = _presses(folder / "busy", busy)
        finally:
            stop.set()
            worker.join(60)
            transcriber.close()
    return [
        Figure(
            "capture: press -> row committed, ASR busy, p50",
            _ms(loaded, 0.5),
            "ms",
            "",
            f"idle p50 {_ms(idle, 0.5):.2f} ms",
        ),
        Figure(
            "capture: press -> row committed, ASR busy, p99",
            _ms(loaded, 0.99),
            "ms",
            "<= 50",
            f"idle p99 {_ms(idle, 0.99):.2f} ms, {PRESSES} presses",
        ),
        Figure(
            "capture: p99 busy / p99 idle",
            _ms(loaded, 0.99) / _ms(idle, 0.99),
            "ratio",
            "",
            "same presses, same run",
        ),
    ]
