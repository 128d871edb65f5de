"""The one module that speaks evdev: opening input devices, key names, event decoding.

The reader never uses evdev's own read loop: it reads raw ``struct input_event`` records
from the device's file descriptor and decodes them here, so tests can feed the very same
bytes through a pipe (this kernel has no uinput to make a virtual device).
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from evdev import InputDevice, ecodes

EV_SYN: int = ecodes.EV_SYN
EV_KEY: int = ecodes.EV_KEY
KEY_UP, KEY_DOWN, KEY_REPEAT = 0, 1, 2

# struct input_event: struct timeval (two C longs), __u16 type, __u16 code, __s32 value;
# native sizes, so 24 bytes on a 64-bit Pi OS and 16 on a 32-bit one, like the kernel's.
EVENT = struct.Struct("llHHi")


class KeyDevice(Protocol):
    """What the reader needs of an open input device."""

    @property
    def name(self) -> str: ...

    @property
    def fd(self) -> int: ...

    def grab(self) -> None: ...

    def close(self) -> None: ...


OpenDevice = Callable[[Path], KeyDevice]


def open_input_device(path: Path) -> KeyDevice:
    """Open a real evdev node (non-blocking); raises OSError when it cannot be opened."""
    return InputDevice(str(path))


@dataclass(frozen=True)
class RawEvent:
    type: int
    code: int
    value: int


def decode(buffer: bytearray) -> list[RawEvent]:
    """Take every whole event off the front of ``buffer``; a partial one stays for later."""
    whole = len(buffer) - len(buffer) % EVENT.size
    events = [
        RawEvent(type_, code, value)
        for _sec, _usec, type_, code, value in EVENT.iter_unpack(bytes(buffer[:whole]))
    ]
    del buffer[:whole]
    return events


def encode(type_: int, code: int, value: int, sec: int = 0, usec: int = 0) -> bytes:
    """One event as the kernel writes it (for tests and benchmarks)."""
    return EVENT.pack(sec, usec, type_, code, value)


def key_code(text: str) -> int:
    """A key code from a name ("KEY_NEXTSONG") or a number ("163")."""
    text = text.strip()
    if text.isdigit():
        return int(text)
    code = ecodes.ecodes.get(text.upper())
    if code is None or not text.upper().startswith(("KEY_", "BTN_")):
        raise ValueError(f"'{text}' is not a key name like KEY_NEXTSONG or a number like 163")
    return int(code)


def key_name(code: int) -> str:
    """The kernel's name for a key code, or "unknown"."""
    name = ecodes.KEY.get(code) or ecodes.BTN.get(code)
    if isinstance(name, (list, tuple)):
        name = name[0]
    return str(name) if name else "unknown"
