"""Turning press and release edges into gestures: single, double, triple and long press.

The recogniser is pure: it is told each edge with its time and asked what is due at a
given time, so it runs the same under a real clock (see ``gesture_clock``) and under
a test's fake one.

Rules, in the listener's terms:

* **Bounce.** A press counts at its first edge (no added latency); a release only
  once the contacts have stayed open for ``debounce`` seconds. So chattering contacts
  give one press, a scratchy contact while held does not end the hold, and a tap
  shorter than ``debounce`` still counts. (The price: a glitch on an idle line would
  count as a press; on a pulled-up GPIO line that is rare.)
* **Taps group greedily.** Taps with gaps under ``multi_press`` form one gesture. The
  gesture ends when the gap passes, or at once when it reaches the most taps any
  gesture of this input uses (``max_taps``): with single/double/triple mapped, a
  fourth quick tap starts a new gesture. Every tap belongs to exactly one gesture,
  so 20 quick taps with only ``single`` mapped give 20 singles (each reported the
  moment it is pressed), and with single..triple mapped give six triples and a double:
  none lost, none counted twice.
* **Hold.** Held for ``hold`` seconds = one long press, reported while still held, never
  repeated however long the hold lasts. Taps just before the hold are reported first
  as their own gesture. With no ``long`` mapped, a hold is just a slow tap.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from earmark.config.inputs import PressTiming


class Gesture(enum.StrEnum):
    SINGLE = "single"
    DOUBLE = "double"
    TRIPLE = "triple"
    LONG = "long"


TAPS = (Gesture.SINGLE, Gesture.DOUBLE, Gesture.TRIPLE)


@dataclass(frozen=True)
class Recognised:
    gesture: Gesture
    # when the gesture began (its first press), on the caller's clock
    at: float


class _Phase(enum.Enum):
    IDLE = "idle"
    DOWN = "down"  # pressed, gesture still open
    UP = "up"  # released between taps, waiting for another
    SPENT = "spent"  # pressed, but its gesture was already reported


class GestureRecogniser:
    def __init__(self, timing: PressTiming, gestures: set[Gesture]) -> None:
        taps = [i + 1 for i, g in enumerate(TAPS) if g in gestures]
        self.max_taps = max(taps, default=1)
        self.long_press = Gesture.LONG in gestures
        self._timing = timing
        self._stable = False  # the debounced level: True = pressed
        self._raw = False
        self._raw_at = 0.0
        self._phase = _Phase.IDLE
        self._taps = 0
        self._first_at = 0.0
        self._edge_at = 0.0

    @property
    def pressed(self) -> bool:
        return self._stable

    def edge(self, pressed: bool, at: float) -> list[Recognised]:
        """The input went down (``pressed``) or up at ``at``; returns what that completed."""
        out = self.tick(at)
        if pressed != self._raw:
            self._raw, self._raw_at = pressed, at
        if pressed and not self._stable:
            out += self._accept(True, at)
        elif not pressed and self._stable and self._timing.debounce == 0:
            out += self._accept(False, at)
        return out

    def due(self) -> float | None:
        """When :meth:`tick` next has something to do, or None."""
        times = []
        releasing = self._stable and not self._raw
        if releasing:
            times.append(self._raw_at + self._timing.debounce)
        if self._phase is _Phase.DOWN and self.long_press:
            hold_at = self._edge_at + self._timing.hold
            # a release that began before the hold time decides first
            if not (releasing and self._raw_at < hold_at):
                times.append(hold_at)
        elif self._phase is _Phase.UP:
            times.append(self._edge_at + self._timing.multi_press)
        return min(times, default=None)

    def tick(self, now: float) -> list[Recognised]:
        """Everything due up to ``now``, in order."""
        out: list[Recognised] = []
        while (due := self.due()) is not None and due <= now:
            if self._stable and not self._raw and self._raw_at + self._timing.debounce <= due:
                out += self._accept(False, self._raw_at)
            elif self._phase is _Phase.DOWN:
                out += self._held()
            else:
                out.append(self._finish(self._taps))
        return out

    def reset(self) -> None:
        """Forget any gesture in progress (the input went away or misbehaved)."""
        self._phase, self._taps = _Phase.IDLE, 0
        self._stable = self._raw = False

    def _accept(self, pressed: bool, at: float) -> list[Recognised]:
        self._stable = pressed
        self._edge_at = at
        return self._pressed(at) if pressed else self._released()

    def _pressed(self, at: float) -> list[Recognised]:
        if self._phase is _Phase.IDLE:
            self._taps, self._first_at = 0, at
        self._taps += 1
        self._phase = _Phase.DOWN
        if self._taps == self.max_taps and not self.long_press:
            # nothing this press could still become: report it now, not on release
            return [self._finish(self._taps, then=_Phase.SPENT)]
        return []

    def _released(self) -> list[Recognised]:
        if self._phase is _Phase.DOWN:
            if self._taps == self.max_taps:
                return [self._finish(self._taps)]
            self._phase = _Phase.UP
        elif self._phase is _Phase.SPENT:
            self._phase = _Phase.IDLE
        return []

    def _held(self) -> list[Recognised]:
        out = [self._finish(self._taps - 1, then=_Phase.SPENT)] if self._taps > 1 else []
        out.append(Recognised(Gesture.LONG, self._edge_at))
        self._phase = _Phase.SPENT
        return out

    def _finish(self, taps: int, then: _Phase = _Phase.IDLE) -> Recognised:
        self._phase, self._taps = then, 0
        return Recognised(TAPS[min(taps, len(TAPS)) - 1], self._first_at)
