"""Device fixtures: gpiozero's MockFactory, headphones fed through FIFOs, and a
stand-in bluetoothd on a private dbus-daemon (``bus``, ``bluez``).

This kernel has no uinput, so a "headset" here is a FIFO in a temporary input folder;
the test writes real ``struct input_event`` records into it and the very same reader
that reads /dev/input decodes them. Only opening differs: ``FakeInputs.open`` stands in
for ``evdev.InputDevice`` (which would ask the kernel for the name by ioctl).
"""

from __future__ import annotations

import os
import shutil
import socket
import tempfile
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from evdev import ecodes
from gpiozero.pins.mock import MockFactory, MockPWMPin

from earmark.actions import Action, InputEvent
from earmark.config.inputs import (
    ButtonConfig,
    HeadphonesConfig,
    HeadphonesDriver,
    InputsConfig,
    PressTiming,
)
from earmark.device import Inputs, build_inputs
from earmark.device.evdev_io import encode

from ..support import wait_for
from .bluez_standin import PrivateBus, StandInBluez


@pytest.fixture
def bus(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A private dbus-daemon that ``$DBUS_SYSTEM_BUS_ADDRESS`` names (for this
    process and the daemons it starts): its address."""
    # a short folder: a unix socket's path must fit in 108 bytes
    folder = Path(tempfile.mkdtemp(prefix="bz-"))
    private = PrivateBus(folder)
    monkeypatch.setenv("DBUS_SYSTEM_BUS_ADDRESS", private.address)
    yield private.address
    private.close()
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def bluez(bus: str) -> Iterator[StandInBluez]:
    standin = StandInBluez(bus)
    yield standin
    standin.close()


@pytest.fixture
def mock_factory() -> Iterator[MockFactory]:
    factory = MockFactory(pin_class=MockPWMPin)
    yield factory
    factory.reset()
    factory.close()


class Recorder:
    """An on_input callback that remembers what it was given (from any thread)."""

    def __init__(self) -> None:
        self.events: list[InputEvent] = []
        self._lock = threading.Lock()

    def __call__(self, event: InputEvent) -> None:
        with self._lock:
            self.events.append(event)

    @property
    def actions(self) -> list[Action]:
        with self._lock:
            return [e.action for e in self.events]

    def wait(self, count: int, timeout: float = 5.0) -> list[Action]:
        wait_for(lambda: len(self.actions) >= count, timeout, what=f"{count} actions")
        return self.actions


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


class FakeHeadset:
    """The writing end of a FIFO that the reader takes for a key device."""

    def __init__(self, path: Path) -> None:
        self.path = path
        os.mkfifo(path)
        # O_RDWR: holding the FIFO open for writing without waiting for a reader
        self._fd: int | None = os.open(path, os.O_RDWR)

    def write(self, data: bytes) -> None:
        assert self._fd is not None
        os.write(self._fd, data)

    def key(self, code: int, value: int) -> None:
        self.write(encode(ecodes.EV_KEY, code, value) + encode(ecodes.EV_SYN, 0, 0))

    def tap(self, code: int) -> None:
        self.key(code, 1)
        self.key(code, 0)

    def unplug(self) -> None:
        self.path.unlink(missing_ok=True)
        self.close_writer()

    def close_writer(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


@dataclass
class FakeKeyDevice:
    name: str
    fd: int
    grabbed: bool = False

    def grab(self) -> None:
        self.grabbed = True

    def close(self) -> None:
        os.close(self.fd)


class FakeInputs:
    """A temporary input folder, and the open function that goes with it."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.names: dict[Path, str] = {}
        self.denied: set[Path] = set()
        self.opened: list[FakeKeyDevice] = []
        self._plugged: list[FakeHeadset] = []
        self._sockets: list[socket.socket] = []

    def plug(self, name: str, node: str = "event0") -> FakeHeadset:
        path = self.folder / node
        self.names[path] = name
        headset = FakeHeadset(path)
        self._plugged.append(headset)
        return headset

    def unopenable(self, node: str) -> Path:
        """A node that exists but cannot be opened (a socket: open() gives ENXIO)."""
        path = self.folder / node
        sock = socket.socket(socket.AF_UNIX)
        sock.bind(str(path))
        self._sockets.append(sock)
        return path

    def open(self, path: Path) -> FakeKeyDevice:
        if path in self.denied:
            raise PermissionError(13, "Permission denied", str(path))
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
        device = FakeKeyDevice(self.names.get(path, "Unnamed device"), fd)
        self.opened.append(device)
        return device

    def close(self) -> None:
        for headset in self._plugged:
            headset.close_writer()
        for sock in self._sockets:
            sock.close()


@pytest.fixture
def fake_inputs(tmp_path: Path) -> Iterator[FakeInputs]:
    folder = tmp_path / "input"
    folder.mkdir()
    inputs = FakeInputs(folder)
    yield inputs
    inputs.close()


@pytest.fixture
def start_inputs(
    mock_factory: MockFactory, fake_inputs: FakeInputs, recorder: Recorder
) -> Iterator[Callable[..., Inputs]]:
    """Build and start inputs on the mock pins and the fake input folder; stopped after."""
    started: list[Inputs] = []

    def start(config: InputsConfig, **kwargs: Any) -> Inputs:
        kwargs.setdefault("pin_factory", mock_factory)
        kwargs.setdefault("input_dir", fake_inputs.folder)
        kwargs.setdefault("open_device", fake_inputs.open)
        inputs = build_inputs(config, recorder, **kwargs)
        started.append(inputs)
        inputs.start()
        return inputs

    yield start
    for inputs in started:
        inputs.stop()


# short enough for quick tests, long enough that a busy machine's scheduling delays
# (between two drive_low calls meant as chatter, say) do not change the gesture
QUICK = PressTiming(debounce=0.02, multi_press=0.25, hold=0.3)


def button_config(gestures: dict[str, str] | None = None, **kwargs: Any) -> InputsConfig:
    """One button on GPIO17 with quick timings; no headphones."""
    button = ButtonConfig(17, gestures=gestures) if gestures else ButtonConfig(17)
    fields: dict[str, Any] = {
        "gpio": "mock",
        "buttons": (button,),
        "timing": QUICK,
        "headphones": HeadphonesConfig(driver=HeadphonesDriver.OFF),
    }
    fields.update(kwargs)
    return InputsConfig(**fields)


def headphones_config(**kwargs: Any) -> InputsConfig:
    """Headphones only, with quick timings and rescans."""
    fields: dict[str, Any] = {
        "timing": PressTiming(debounce=0.0, multi_press=0.12, hold=0.3),
        "rescan_seconds": 0.05,
    }
    fields.update(kwargs)
    return InputsConfig(gpio="none", headphones=HeadphonesConfig(**fields))
