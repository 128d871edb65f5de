"""Stand-ins for the headphones and the LED, chosen by config like gpiozero's MockFactory.

:class:`FakeHeadphones` is a headset plugged into a private input folder: a FIFO that the
very reader used on /dev/input finds, opens, decodes and maps, so a :meth:`~FakeHeadphones.press`
goes through every step a real key takes except the kernel. :class:`FakeLed` remembers
each brightness the status light gives it.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from earmark.actions import InputEvent
from earmark.config.inputs import HeadphonesConfig
from earmark.device.evdev_io import EV_KEY, EV_SYN, KEY_DOWN, KEY_UP, encode, key_code
from earmark.device.gesture_clock import GestureClock
from earmark.device.headphones import HeadphoneKeys

Trace = Callable[[str], None]
Key = int | str

FAKE_HEADSET = "fake headphones (AVRCP)"


@dataclass
class _FifoDevice:
    """The reading end of the fake headset's FIFO, in the shape of an evdev device."""

    name: str
    fd: int

    def grab(self) -> None:
        pass  # nothing else reads the fake

    def close(self) -> None:
        os.close(self.fd)


class FakeHeadphones:
    """Headphones a test or a developer presses: ``press("KEY_NEXTSONG")`` or ``press(163)``."""

    def __init__(
        self,
        config: HeadphonesConfig,
        clock: GestureClock,
        on_input: Callable[[InputEvent], None],
        trace: Trace,
    ) -> None:
        self._folder = Path(tempfile.mkdtemp(prefix="earmark-fake-input-"))
        node = self._folder / "event0"
        os.mkfifo(node, 0o600)
        # O_RDWR: keeps the FIFO open, so presses before the reader opens it wait in it
        self._writer: int | None = os.open(node, os.O_RDWR)
        self._write_lock = threading.Lock()
        # the fake is the headset whatever the patterns say about real ones
        config = dataclasses.replace(config, name_patterns=(FAKE_HEADSET,))
        self._keys = HeadphoneKeys(
            config, clock, on_input, trace, input_dir=self._folder, open_device=self._open
        )

    @property
    def devices(self) -> list[str]:
        return self._keys.devices

    def start(self) -> None:
        self._keys.start()

    def stop(self) -> None:
        self._keys.stop()
        with self._write_lock:
            if self._writer is not None:
                os.close(self._writer)
                self._writer = None
        shutil.rmtree(self._folder, ignore_errors=True)

    def press(self, key: Key) -> None:
        """A tap: the key goes down and up, as headphones report a button press."""
        self.down(key)
        self.up(key)

    def down(self, key: Key) -> None:
        self._send(key, KEY_DOWN)

    def up(self, key: Key) -> None:
        self._send(key, KEY_UP)

    def _send(self, key: Key, value: int) -> None:
        code = key if isinstance(key, int) else key_code(key)
        with self._write_lock:
            if self._writer is None:
                raise RuntimeError("the fake headphones are stopped")
            os.write(self._writer, encode(EV_KEY, code, value) + encode(EV_SYN, 0, 0))

    def _open(self, path: Path) -> _FifoDevice:
        return _FifoDevice(FAKE_HEADSET, os.open(path, os.O_RDONLY | os.O_NONBLOCK))


class FakeLed:
    """A dimmable LED without a pin: ``.value`` is the last brightness, ``.values`` all of them."""

    def __init__(self) -> None:
        self._values: list[float] = []
        self._lock = threading.Lock()
        self.closed = False

    @property
    def value(self) -> float:
        with self._lock:
            return self._values[-1] if self._values else 0.0

    @value.setter
    def value(self, brightness: float) -> None:
        with self._lock:
            self._values.append(brightness)

    @property
    def values(self) -> list[float]:
        with self._lock:
            return list(self._values)

    def close(self) -> None:
        self.closed = True
