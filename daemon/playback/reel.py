"""Listen to the best highlights: play saved windows one after another.

Each window is played with mpv's ``end`` so the player reports an ordinary
end of episode when a window is done; the caller forwards ``on_end`` here.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from earmark.player.state import EpisodeEnd

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class HighlightWindow:
    source: str
    start: float
    end: float
    episode_id: int | None = None


class Playback(Protocol):
    """The part of :class:`~earmark.player.mpv_player.Player` a reel needs."""

    def play(
        self,
        source: str,
        start: float = 0.0,
        *,
        episode_id: int | None = None,
        end: float | None = None,
    ) -> None: ...

    def stop(self) -> None: ...


class HighlightReel:
    def __init__(self, player: Playback, windows: Sequence[HighlightWindow]) -> None:
        self._player = player
        self._windows = [w for w in windows if w.end > w.start >= 0]
        if len(self._windows) != len(windows):
            log.warning(
                "highlight windows dropped count=%d reason=empty or negative",
                len(windows) - len(self._windows),
            )
        self._lock = threading.Lock()
        self._index: int | None = None

    @property
    def current(self) -> HighlightWindow | None:
        with self._lock:
            return self._windows[self._index] if self._index is not None else None

    @property
    def playing(self) -> bool:
        return self.current is not None

    def start(self) -> None:
        self._go(0)

    def skip(self) -> None:
        with self._lock:
            following = 0 if self._index is None else self._index + 1
        self._go(following)

    def handle_end(self, end: EpisodeEnd) -> bool:
        """Forward the player's ``on_end`` here; True while the reel goes on."""
        with self._lock:
            window = self._windows[self._index] if self._index is not None else None
            following = None if self._index is None else self._index + 1
        if window is None or following is None or end.source != window.source:
            return False
        if end.reason == "error":
            log.warning(
                "highlight skipped source=%s start=%.1f reason=cannot play",
                window.source,
                window.start,
            )
        return self._go(following)

    def continue_from_here(self) -> HighlightWindow | None:
        """Leave the reel and play the current snip's episode on from the snip's start."""
        with self._lock:
            window = self._windows[self._index] if self._index is not None else None
            self._index = None
        if window is not None:
            self._player.play(window.source, window.start, episode_id=window.episode_id)
        return window

    def _go(self, index: int) -> bool:
        with self._lock:
            if index >= len(self._windows):
                self._index = None
                window = None
            else:
                self._index = index
                window = self._windows[index]
        if window is None:
            log.info("highlight reel finished")
            self._player.stop()
            return False
        self._player.play(window.source, window.start, episode_id=window.episode_id, end=window.end)
        return True
