"""Streamed episodes: what counts as a stream, when one dropped, and how often
and how soon a failed one is tried again (backing off)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass

from earmark.library.sources import is_stream

log = logging.getLogger(__name__)

# a stream that reports its end this far before its duration has dropped
STREAM_DROP_MARGIN = 5.0


def dropped_early(source: str, end: float | None, duration: float | None, position: float) -> bool:
    """A stream that ended before its end: the connection dropped."""
    return bool(
        is_stream(source) and end is None and duration and position < duration - STREAM_DROP_MARGIN
    )


@dataclass(frozen=True)
class StreamRetries:
    """A failed stream is tried ``attempts`` more times, after ``backoff``
    seconds, then twice that, and so on; a local file is not retried."""

    attempts: int = 3
    backoff: float = 1.0

    def schedule(
        self, source: str, failures: int, why: str, retry: Callable[[], None]
    ) -> threading.Timer | None:
        """Start a timer that calls ``retry`` after failure number ``failures``;
        None when ``source`` gets no more tries."""
        if not is_stream(source) or failures > self.attempts:
            return None
        delay = self.backoff * 2 ** (failures - 1)
        log.warning(
            "stream retry source=%s attempt=%d in=%.1fs reason=%s", source, failures, delay, why
        )
        timer = threading.Timer(delay, retry)
        timer.daemon = True
        timer.start()
        return timer


def failure_message(source: str, why: str, mpv_error: str, attempts: int) -> str:
    """The one line that says an episode cannot be played, and why."""
    message = f"cannot play {source}: {why}"
    if mpv_error:
        message += f" ({mpv_error})"
    if attempts > 1:
        message += f" after {attempts} attempts"
    return message
