"""One thread that keeps time for every gesture recogniser.

Edges arrive on whatever thread the hardware uses (gpiozero's callback thread, the
headphone reader); a single press is only known once the double-press window has
passed with nothing more, and a long press while nothing happens at all. This thread
wakes at each recogniser's next deadline and reports what became due.

Gestures are handed to their sink while the clock's lock is held, so one input's
gestures are always reported in order; sinks must therefore be quick (the composition
root's sink only queues onto the event loop).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from earmark.device.gestures import GestureRecogniser, Recognised

log = logging.getLogger(__name__)

Sink = Callable[[Recognised], None]


class TrackedInput:
    """A recogniser on the clock; the hardware side calls :meth:`edge`."""

    def __init__(self, clock: GestureClock, recogniser: GestureRecogniser, sink: Sink) -> None:
        self._clock = clock
        self.recogniser = recogniser
        self.sink = sink

    def edge(self, pressed: bool, at: float | None = None) -> None:
        self._clock._edge(self, pressed, self._clock.now() if at is None else at)

    def reset(self) -> None:
        with self._clock._wake:
            self.recogniser.reset()

    def untrack(self) -> None:
        self._clock._untrack(self)


class GestureClock:
    def __init__(self, now: Callable[[], float] = time.monotonic) -> None:
        self.now = now
        self._inputs: list[TrackedInput] = []
        self._wake = threading.Condition()
        self._stopping = False
        self._thread: threading.Thread | None = None

    def track(self, recogniser: GestureRecogniser, sink: Sink) -> TrackedInput:
        tracked = TrackedInput(self, recogniser, sink)
        with self._wake:
            self._inputs.append(tracked)
        return tracked

    def start(self) -> None:
        if self._thread is None:
            self._stopping = False
            self._thread = threading.Thread(target=self._run, name="earmark-gestures", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        with self._wake:
            self._stopping = True
            self._wake.notify()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def _untrack(self, tracked: TrackedInput) -> None:
        with self._wake:
            if tracked in self._inputs:
                self._inputs.remove(tracked)

    def _edge(self, tracked: TrackedInput, pressed: bool, at: float) -> None:
        with self._wake:
            self._report(tracked, tracked.recogniser.edge(pressed, at))
            self._wake.notify()

    def _run(self) -> None:
        with self._wake:
            while not self._stopping:
                now = self.now()
                next_due: float | None = None
                for tracked in list(self._inputs):
                    self._report(tracked, tracked.recogniser.tick(now))
                    due = tracked.recogniser.due()
                    if due is not None and (next_due is None or due < next_due):
                        next_due = due
                self._wake.wait(None if next_due is None else max(0.0, next_due - self.now()))

    def _report(self, tracked: TrackedInput, recognised: list[Recognised]) -> None:
        for gesture in recognised:
            try:
                tracked.sink(gesture)
            except Exception:
                # a failing sink must not stop the clock for every other input
                log.exception("input sink failed on %s", gesture)
