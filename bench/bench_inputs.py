"""Press → on_input latency: what the gesture machinery adds to gpiozero and to a raw read.

Three paths, 200 presses each, every one against a baseline measured in this run:

* a button whose only gesture is ``single`` (reported at the press itself) against
  gpiozero's bare ``when_pressed`` on the same MockFactory;
* a button with ``double`` mapped too: a single press is only known once the
  double-press window has passed, so the figure is how late after the window it comes;
* a headphone key through a FIFO and the real reader against a bare thread that waits on
  the same kind of FIFO with select and reads it.
"""

from __future__ import annotations

import os
import select
import statistics
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from gpiozero import Button
from gpiozero.pins.mock import MockFactory, MockPWMPin

from bench import Figure
from earmark.actions import InputEvent
from earmark.config.inputs import (
    ButtonConfig,
    HeadphonesConfig,
    HeadphonesDriver,
    InputsConfig,
    KeyConfig,
    PressTiming,
)
from earmark.device import build_inputs
from earmark.device.evdev_io import EV_KEY, encode

PRESSES = 200
NEXTSONG = 163


def _ms(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))] * 1000


class _Arrivals:
    def __init__(self) -> None:
        self.times: list[float] = []
        self.arrived = threading.Event()

    def __call__(self, _event: object = None) -> None:
        self.times.append(time.perf_counter())
        self.arrived.set()

    def wait(self) -> float:
        if not self.arrived.wait(5):
            raise RuntimeError("a press never arrived")
        self.arrived.clear()
        return self.times[-1]


def _press(factory: MockFactory, arrivals: _Arrivals, pin: int, hold: float) -> float:
    """A press held ``hold`` seconds after as long a rest (so the last release counts)."""
    time.sleep(hold)
    started = time.perf_counter()
    factory.pin(pin).drive_low()
    time.sleep(hold)
    factory.pin(pin).drive_high()
    return arrivals.wait() - started


def _bare_gpiozero() -> list[float]:
    factory = MockFactory(pin_class=MockPWMPin)
    arrivals = _Arrivals()
    button = Button(17, bounce_time=None, pin_factory=factory)
    button.when_pressed = lambda: arrivals()
    latencies = [_press(factory, arrivals, 17, 0.001) for _ in range(PRESSES)]
    button.close()
    factory.close()
    return latencies


def _earmark_button(gestures: dict[str, str], timing: PressTiming) -> list[float]:
    factory = MockFactory(pin_class=MockPWMPin)
    arrivals = _Arrivals()
    config = InputsConfig(
        gpio="mock",
        buttons=(ButtonConfig(17, gestures=gestures),),
        timing=timing,
        headphones=HeadphonesConfig(driver=HeadphonesDriver.OFF),
    )
    inputs = build_inputs(config, arrivals, pin_factory=factory)
    inputs.start()
    try:
        # held past the debounce time, so the release is a real one
        return [_press(factory, arrivals, 17, timing.debounce * 2) for _ in range(PRESSES)]
    finally:
        inputs.stop()
        factory.close()


@dataclass
class _FifoDevice:
    name: str
    fd: int

    def grab(self) -> None:
        pass

    def close(self) -> None:
        os.close(self.fd)


def _tap_bytes() -> bytes:
    return encode(EV_KEY, NEXTSONG, 1) + encode(0, 0, 0) + encode(EV_KEY, NEXTSONG, 0)


def _bare_fifo_reader(folder: Path) -> list[float]:
    path = folder / "bare"
    os.mkfifo(path)
    writer = os.open(path, os.O_RDWR)
    reader = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    arrivals = _Arrivals()
    stop = threading.Event()

    def read() -> None:
        while not stop.is_set():
            ready, _, _ = select.select([reader], [], [], 0.1)
            if ready and os.read(reader, 4096):
                arrivals()

    thread = threading.Thread(target=read, daemon=True)
    thread.start()
    latencies = []
    for _ in range(PRESSES):
        started = time.perf_counter()
        os.write(writer, _tap_bytes())
        latencies.append(arrivals.wait() - started)
    stop.set()
    thread.join()
    os.close(writer)
    os.close(reader)
    return latencies


def _earmark_headphones(folder: Path) -> list[float]:
    inputs_dir = folder / "input"
    inputs_dir.mkdir()
    node = inputs_dir / "event0"
    os.mkfifo(node)
    writer = os.open(node, os.O_RDWR)
    arrivals = _Arrivals()
    keys = (KeyConfig(("KEY_NEXTSONG",), {"single": "snip"}),)
    config = InputsConfig(headphones=HeadphonesConfig(keys=keys, flood_limit=10_000))

    def open_fifo(path: Path) -> _FifoDevice:
        return _FifoDevice("Bench (AVRCP)", os.open(path, os.O_RDONLY | os.O_NONBLOCK))

    def on_input(event: InputEvent) -> None:
        arrivals()

    inputs = build_inputs(config, on_input, input_dir=inputs_dir, open_device=open_fifo)
    inputs.start()
    try:
        deadline = time.monotonic() + 5
        while inputs.headphones is not None and not inputs.headphones.devices:
            if time.monotonic() > deadline:
                raise RuntimeError("the bench headset was not found")
            time.sleep(0.01)
        latencies = []
        for _ in range(PRESSES):
            started = time.perf_counter()
            os.write(writer, _tap_bytes())
            latencies.append(arrivals.wait() - started)
        return latencies
    finally:
        inputs.stop()
        os.close(writer)


def _pair(name: str, ours: list[float], base: list[float], what: str) -> list[Figure]:
    return [
        Figure(f"{name} p50", _ms(ours, 0.5), "ms", "", f"{what} p50 {_ms(base, 0.5):.3f} ms"),
        Figure(
            f"{name} p99", _ms(ours, 0.99), "ms", "<= 50", f"{what} p99 {_ms(base, 0.99):.3f} ms"
        ),
        Figure(
            f"{name} p50 vs {what}",
            statistics.median(ours) / statistics.median(base),
            "ratio",
            "",
            f"{PRESSES} presses",
        ),
    ]


def run() -> list[Figure]:
    bare = _bare_gpiozero()
    immediate = _earmark_button({"single": "snip"}, PressTiming())
    window = PressTiming(debounce=0.005, multi_press=0.05, hold=0.5)
    waited = _earmark_button({"single": "snip", "double": "play_pause"}, window)
    # a single is due multi_press after its release; the press was held 2 × debounce
    late = [max(0.0, w - window.debounce * 2 - window.multi_press) for w in waited]
    with tempfile.TemporaryDirectory() as folder:
        bare_read = _bare_fifo_reader(Path(folder))
        keys = _earmark_headphones(Path(folder))
    return [
        *_pair(
            "inputs: button press → on_input (single only)",
            immediate,
            bare,
            "bare gpiozero when_pressed",
        ),
        Figure(
            "inputs: single (double mapped) late after window p50",
            _ms(late, 0.5),
            "ms",
            "<= 5",
            f"window {window.multi_press * 1000:.0f} ms",
        ),
        Figure(
            "inputs: single (double mapped) late after window p99",
            _ms(late, 0.99),
            "ms",
            "<= 20",
            f"{PRESSES} presses",
        ),
        *_pair("inputs: headphone key → on_input", keys, bare_read, "bare FIFO select+read"),
    ]
