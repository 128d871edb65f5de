"""Headphone keys: find key devices in the input folder, read them, turn keys into actions.

One thread does it all: every ``rescan_seconds`` it looks at the input folder for new
``event*`` nodes (polling, not inotify: no extra dependency, and it copes with the folder
not existing yet at boot), and in between it waits on all open devices at once.

A node is looked at once per identity (inode and permissions): one that cannot be opened
or is not headphones is not retried until it changes, so a bad node gives one log line,
not one a second. A device that fails or ends mid-read is closed and forgotten.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import selectors
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from fnmatch import fnmatch
from pathlib import Path

from earmark.actions import InputEvent
from earmark.config.inputs import HeadphonesConfig
from earmark.device.evdev_io import (
    EV_KEY,
    EVENT,
    KEY_DOWN,
    KEY_UP,
    KeyDevice,
    OpenDevice,
    RawEvent,
    decode,
    key_name,
)
from earmark.device.gesture_clock import GestureClock, TrackedInput
from earmark.device.gestures import GestureRecogniser, Recognised
from earmark.device.keymap import KeyGroup, resolve_keys
from earmark.device.permissions import node_advice

log = logging.getLogger(__name__)

Trace = Callable[[str], None]
Identity = tuple[int, ...]


def _identity(path: Path) -> Identity | None:
    """What makes a node new to us: another inode (replugged), or new permissions."""
    try:
        st = path.stat()
    except OSError:
        return None
    return (st.st_ino, st.st_rdev, st.st_mode, st.st_uid, st.st_gid)


@dataclass
class _Headset:
    path: Path
    identity: Identity
    device: KeyDevice
    source: str
    matched: bool
    keys: dict[int, TrackedInput] = field(default_factory=dict)
    buffer: bytearray = field(default_factory=bytearray)
    unknown: set[int] = field(default_factory=set)
    window_start: float = float("-inf")
    window_count: int = 0


class HeadphoneKeys:
    def __init__(
        self,
        config: HeadphonesConfig,
        clock: GestureClock,
        on_input: Callable[[InputEvent], None],
        trace: Trace,
        *,
        input_dir: Path,
        open_device: OpenDevice,
        match_all: bool = False,
    ) -> None:
        self._config = config
        self._clock = clock
        self._on_input = on_input
        self._trace = trace
        self._input_dir = input_dir
        self._open_device = open_device
        # watch mode: open every key device, so a listener sees codes of unmatched ones too
        self._match_all = match_all
        self._groups = resolve_keys(config.keys)
        self._open: dict[Path, _Headset] = {}
        self._passed: dict[Path, Identity] = {}
        self._lock = threading.Lock()
        self._selector = selectors.DefaultSelector()
        self._wake_r, self._wake_w = os.pipe()
        self._selector.register(self._wake_r, selectors.EVENT_READ, None)
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._folder_missing_said = False

    @property
    def devices(self) -> list[str]:
        """Names of the key devices open now."""
        with self._lock:
            return [h.source for h in self._open.values()]

    def start(self) -> None:
        if self._thread is not None:
            return
        for group in self._groups:
            log.debug("headphone keys %s", group.describe())
        self._thread = threading.Thread(target=self._run, name="earmark-headphones", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        os.write(self._wake_w, b"x")
        if self._thread is not None:
            self._thread.join(timeout=5)
        for headset in list(self._open.values()):
            self._close(headset, "closed")
        self._selector.close()
        os.close(self._wake_r)
        os.close(self._wake_w)

    def _run(self) -> None:
        next_scan = 0.0
        while not self._stopping.is_set():
            if time.monotonic() >= next_scan:
                self._guarded(self._scan, "looking for headphones")
                next_scan = time.monotonic() + self._config.rescan_seconds
            ready = self._selector.select(timeout=max(0.0, next_scan - time.monotonic()))
            for key, _ in ready:
                if key.data is None:
                    os.read(self._wake_r, 64)
                else:
                    self._guarded(functools.partial(self._read, key.data), "reading keys")

    def _guarded(self, work: Callable[[], None], what: str) -> None:
        # the loop boundary: a bug with one device must not stop the others
        try:
            work()
        except Exception:
            log.exception("%s failed; carrying on", what)

    # discovery

    def _scan(self) -> None:
        try:
            paths = sorted(p for p in self._input_dir.iterdir() if p.name.startswith("event"))
            self._folder_missing_said = False
        except OSError as exc:
            if not self._folder_missing_said:
                log.info("no input devices yet (%s: %s)", self._input_dir, exc.strerror)
                self._folder_missing_said = True
            paths = []
        present = set(paths)
        for path, headset in list(self._open.items()):
            if path not in present:
                self._close(headset, "disconnected")
        for path in list(self._passed):
            if path not in present:
                del self._passed[path]
        for path in paths:
            identity = _identity(path)
            if path in self._open or identity is None or self._passed.get(path) == identity:
                continue
            self._passed.pop(path, None)
            self._look_at(path, identity)

    def _look_at(self, path: Path, identity: Identity) -> None:
        try:
            device = self._open_device(path)
            name = device.name
        except OSError as exc:
            self._passed[path] = identity
            advice = node_advice(path, "input") if isinstance(exc, PermissionError) else ""
            log.warning(
                "input %s cannot be opened (%s)%s",
                path,
                exc.strerror or exc,
                f"; {advice}" if advice else "",
            )
            return
        matched = any(fnmatch(name.lower(), p.lower()) for p in self._config.name_patterns)
        if not matched and not self._match_all:
            self._trace(
                f"input {path} '{name}': not headphones (see inputs.headphones."
                "name_patterns); ignored"
            )
            self._passed[path] = identity
            device.close()
            return
        headset = _Headset(path, identity, device, f"headset {name}", matched)
        if matched:
            self._map_keys(headset)
            if self._config.grab:
                try:
                    device.grab()
                except OSError as exc:
                    log.warning(
                        "%s: cannot take its keys for earmark alone (%s); other "
                        "programs see them too",
                        headset.source,
                        exc.strerror or exc,
                    )
        with self._lock:
            self._open[path] = headset
        self._selector.register(device.fd, selectors.EVENT_READ, headset)
        log.info("%s found at %s%s", headset.source, path, "" if matched else " (not mapped)")
        self._trace(
            f"{headset.source} at {path}"
            + ("" if matched else ": name not in inputs.headphones.name_patterns, keys do nothing")
        )
        for group in self._groups if matched else []:
            self._trace(f"{headset.source}: {group.describe()}")

    def _map_keys(self, headset: _Headset) -> None:
        for group in self._groups:
            recogniser = GestureRecogniser(self._config.timing, set(group.gestures))
            tracked = self._clock.track(recogniser, self._sink(headset.source, group))
            for code in group.codes:
                headset.keys[code] = tracked

    def _sink(self, source: str, group: KeyGroup) -> Callable[[Recognised], None]:
        def deliver(recognised: Recognised) -> None:
            action = group.gestures.get(recognised.gesture)
            self._trace(
                f"{source}: {group.label} {recognised.gesture} → {action or 'nothing (not mapped)'}"
            )
            if action is not None:
                self._on_input(InputEvent(action, source, recognised.at))

        return deliver

    def _close(self, headset: _Headset, why: str) -> None:
        with self._lock:
            self._open.pop(headset.path, None)
        if _identity(headset.path) == headset.identity:
            # a node that lingers after failing is not reopened every rescan; a device
            # that reconnects comes back as a new node
            self._passed[headset.path] = headset.identity
        for tracked in set(headset.keys.values()):
            tracked.untrack()
        with contextlib.suppress(KeyError, ValueError, OSError):
            self._selector.unregister(headset.device.fd)  # may be gone with its descriptor
        with contextlib.suppress(OSError):
            headset.device.close()  # closing a vanished device can fail; it is gone anyway
        log.info("%s %s", headset.source, why)
        self._trace(f"{headset.source} {why}")

    # reading

    def _read(self, headset: _Headset) -> None:
        try:
            data = os.read(headset.device.fd, EVENT.size * 64)
        except BlockingIOError:
            return
        except OSError as exc:
            self._close(headset, f"disconnected ({exc.strerror or exc})")
            return
        if not data:
            self._close(headset, "disconnected")
            return
        headset.buffer += data
        now = self._clock.now()
        for event in decode(headset.buffer):
            # only presses and releases: a held key's repeats (value 2) are one press
            if (
                event.type == EV_KEY
                and event.value in (KEY_DOWN, KEY_UP)
                and not self._flooding(headset, now)
            ):
                self._key(headset, event, now)

    def _flooding(self, headset: _Headset, now: float) -> bool:
        if now - headset.window_start >= 1.0:
            headset.window_start, headset.window_count = now, 0
        headset.window_count += 1
        if headset.window_count == self._config.flood_limit + 1:
            log.warning(
                "%s sends more than %d key events a second; ignoring it for the rest "
                "of this second",
                headset.source,
                self._config.flood_limit,
            )
            for tracked in set(headset.keys.values()):
                tracked.reset()
        return headset.window_count > self._config.flood_limit

    def _key(self, headset: _Headset, event: RawEvent, now: float) -> None:
        pressed = event.value == KEY_DOWN
        key = f"{key_name(event.code)} ({event.code})"
        what = f"{headset.source}: {key} {'down' if pressed else 'up'}"
        tracked = headset.keys.get(event.code)
        if not headset.matched:
            self._trace(f"{what} → nothing (device not mapped)")
        elif tracked is None:
            self._trace(f"{what} → nothing (key not in inputs.headphones.keys)")
            if pressed and event.code not in headset.unknown:
                headset.unknown.add(event.code)
                log.info(
                    "%s: key %d (%s) has no action; map it under inputs.headphones.keys",
                    headset.source,
                    event.code,
                    key_name(event.code),
                )
        else:
            self._trace(what)
            tracked.edge(pressed, now)
