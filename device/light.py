"""The status LED: one pattern per state of the speaker, and short flashes over it.

A pattern is a list of (brightness, seconds) steps. :meth:`StatusLight.show` loops a
state's pattern until the next ``show``; :meth:`StatusLight.flash` plays a pattern once
(e.g. "snip saved") and then returns to the shown state. One thread plays the patterns,
so the caller (the event loop, through a callback) never waits on the LED.
"""

from __future__ import annotations

import enum
import logging
import threading
import time
from typing import Any

log = logging.getLogger(__name__)


class LightState(enum.StrEnum):
    OFF = "off"
    IDLE = "idle"
    PLAYING = "playing"
    SNIP_SAVED = "snip_saved"
    TRANSCRIBING = "transcribing"
    ERROR = "error"
    NO_NETWORK = "no_network"


Pattern = tuple[tuple[float, float], ...]


def _breathe(low: float, high: float, seconds: float, steps: int = 10) -> Pattern:
    half = seconds / 2 / steps
    up = tuple((low + (high - low) * i / steps, half) for i in range(steps))
    down = tuple((high - (high - low) * i / steps, half) for i in range(steps))
    return up + down


# Told apart without a manual: dim and steady = waiting; slow breath = playing;
# quick breath = working; three bright blinks = snip saved; fast blink = error;
# two blinks then a pause = no network.
PATTERNS: dict[LightState, Pattern] = {
    LightState.OFF: ((0.0, 1.0),),
    LightState.IDLE: ((0.08, 1.0),),
    LightState.PLAYING: _breathe(0.1, 0.6, 3.0),
    LightState.SNIP_SAVED: ((1.0, 0.08), (0.0, 0.08)) * 3,
    LightState.TRANSCRIBING: _breathe(0.05, 0.8, 0.8),
    LightState.ERROR: ((1.0, 0.1), (0.0, 0.1)),
    LightState.NO_NETWORK: ((1.0, 0.15), (0.0, 0.15), (1.0, 0.15), (0.0, 1.55)),
}


class StatusLight:
    """Drives a dimmable LED (anything with ``.value`` 0..1 and ``.close()``)."""

    def __init__(self, led: Any, brightness: float = 1.0) -> None:
        self._led = led
        self._brightness = brightness
        self._state = LightState.OFF
        self._flashes: list[LightState] = []
        self._changed = threading.Condition()
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="earmark-light", daemon=True)
        self._thread.start()

    @property
    def state(self) -> LightState:
        return self._state

    @property
    def led(self) -> Any:
        """The LED this light drives (a gpiozero PWMLED, or a FakeLed)."""
        return self._led

    def show(self, state: LightState) -> None:
        """Loop ``state``'s pattern from now on."""
        with self._changed:
            self._state = state
            self._changed.notify()

    def flash(self, state: LightState = LightState.SNIP_SAVED) -> None:
        """Play ``state``'s pattern once, then go back to the shown state."""
        with self._changed:
            self._flashes.append(state)
            self._changed.notify()

    def close(self) -> None:
        with self._changed:
            self._closed = True
            self._changed.notify()
        self._thread.join(timeout=5)
        try:
            self._led.close()
        except Exception as exc:  # the pin may already be gone at shutdown
            log.debug("closing the LED: %s", exc)

    def _run(self) -> None:
        with self._changed:
            while not self._closed:
                if self._flashes:
                    self._play(PATTERNS[self._flashes.pop(0)], interruptible=False)
                else:
                    self._play(PATTERNS[self._state], interruptible=True)

    def _play(self, pattern: Pattern, interruptible: bool) -> None:
        """Play one round of ``pattern``; a new state or flash cuts a loop short."""
        shown = self._state

        def cut_short() -> bool:
            return self._closed or (interruptible and (bool(self._flashes) or self._state != shown))

        for brightness, seconds in pattern:
            self._set(brightness)
            end = time.monotonic() + seconds
            while not cut_short() and (left := end - time.monotonic()) > 0:
                self._changed.wait(left)
            if cut_short():
                return

    def _set(self, brightness: float) -> None:
        try:
            self._led.value = brightness * self._brightness
        except Exception as exc:  # a dead LED must not stop the speaker
            log.warning("status LED failed, leaving it: %s", exc)
            self._closed = True
