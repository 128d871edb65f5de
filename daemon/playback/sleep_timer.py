"""The sleep timer: stop after a while, or at the end of this episode."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

log = logging.getLogger(__name__)


class SleepTimer:
    """Calls ``fall_asleep`` (normally ``Player.pause``) when the time is up.

    For "end of episode", the caller asks :meth:`episode_ended` when an
    episode ends; it answers whether to stop instead of going on.
    """

    def __init__(self, fall_asleep: Callable[[], None]) -> None:
        self._fall_asleep = fall_asleep
        self._lock = threading.Lock()
        self._timer: threading.Timer | None = None
        self._deadline: float | None = None
        self._at_end = False

    def after(self, seconds: float) -> None:
        with self._lock:
            self._cancel()
            self._deadline = time.monotonic() + max(0.0, seconds)
            self._timer = threading.Timer(max(0.0, seconds), self._ring)
            self._timer.daemon = True
            self._timer.start()
        log.info("sleep timer set after=%.0fs", seconds)

    def at_end_of_episode(self) -> None:
        with self._lock:
            self._cancel()
            self._at_end = True
        log.info("sleep timer set at=end of episode")

    def cancel(self) -> None:
        with self._lock:
            self._cancel()

    @property
    def remaining(self) -> float | None:
        """Seconds until sleep, or None (also when waiting for the episode's end)."""
        with self._lock:
            return None if self._deadline is None else max(0.0, self._deadline - time.monotonic())

    @property
    def waiting_for_end(self) -> bool:
        with self._lock:
            return self._at_end

    def episode_ended(self) -> bool:
        """Called when an episode ends: True means sleep now, do not play the next."""
        with self._lock:
            if not self._at_end:
                return False
            self._at_end = False
        log.info("sleep timer rang at=end of episode")
        return True

    def _ring(self) -> None:
        with self._lock:
            self._timer, self._deadline = None, None
        log.info("sleep timer rang")
        self._fall_asleep()

    def _cancel(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._timer, self._deadline, self._at_end = None, None, False
