"""What the player tells the rest of earmark: plain frozen values and callbacks.

Nothing here imports mpv, the store or MQTT; the composition root turns these
into SQLite rows (positions, played) and the retained MQTT ``state`` message.
"""

from __future__ import annotations

import enum
import logging
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Literal

from earmark.library.sources import is_stream

log = logging.getLogger(__name__)


class Status(enum.StrEnum):
    STOPPED = "stopped"
    LOADING = "loading"
    PLAYING = "playing"
    PAUSED = "paused"
    ERROR = "error"


@dataclass(frozen=True)
class Chapter:
    """One chapter of an episode, wherever it came from (feed JSON, the file, the demo)."""

    start: float
    title: str


@dataclass(frozen=True)
class PlayerState:
    status: Status
    source: str | None = None
    episode_id: int | None = None
    position: float = 0.0
    duration: float | None = None
    chapter_index: int | None = None
    chapter_title: str | None = None
    speed: float = 1.0
    volume: float = 100.0
    # the last error, one line, until the next episode starts
    error: str | None = None
    # every chapter of the episode (from its feed, a chapters file or the audio)
    chapters: tuple[Chapter, ...] = ()


@dataclass(frozen=True)
class NowPlaying:
    """What the listener hears now, in the core's words: the one value the snip
    capture and the look-ahead read (built by playback from the player's state
    and the catalog)."""

    source: str  # a file path or a stream URL; "" when nothing is loaded
    position: float
    duration: float | None
    episode_id: int | None = None
    podcast_title: str = ""
    episode_title: str = ""
    playing: bool = False
    speed: float = 1.0
    # for a stream: the stretches mpv's demuxer cache holds, which is all the
    # look-ahead may read (it never fetches the stream a second time)
    cached: tuple[tuple[float, float], ...] = ()

    @property
    def path(self) -> str | None:
        """The local file playing; None for a stream or nothing."""
        return self.source if self.source and not is_stream(self.source) else None


@dataclass(frozen=True)
class Progress:
    """Where the listener is in an episode: what the lead stores for resume."""

    source: str
    episode_id: int | None
    position: float
    duration: float | None
    # the listener reached the end, or came within ``played_near_end`` of it
    played: bool


EndReason = Literal["eof", "error"]


@dataclass(frozen=True)
class EpisodeEnd:
    """An episode stopped by itself: it reached its end, or it cannot be played."""

    source: str
    episode_id: int | None
    reason: EndReason
    position: float
    played: bool


def _ignore(_: object) -> None:
    return None


@dataclass(frozen=True)
class PlayerEvents:
    """Callbacks the player calls, all optional.

    They run on mpv's event thread (``on_end`` and ``on_error`` only there),
    the player's watchdog or retry timer threads, or, for ``on_state`` and
    ``on_position``, on the thread that called the player (``play``, ``seek``
    ...); the module docstring of :mod:`earmark.player.mpv_player` lists which.
    Hand over with ``loop.call_soon_threadsafe`` and never block inside them.
    They are called without any player lock held, so calling back into the
    player is safe.
    """

    # on every change of status, episode, chapter, speed or volume, and with the
    # position at most every ``state_interval`` seconds while playing
    on_state: Callable[[PlayerState], None] = _ignore
    # every ``position_save_interval`` seconds while playing, and on pause, stop,
    # seek, a new episode, the end and errors
    on_position: Callable[[Progress], None] = _ignore
    on_end: Callable[[EpisodeEnd], None] = _ignore
    # one line that says what failed
    on_error: Callable[[str], None] = _ignore


def clean_chapters(
    chapters: Iterable[Chapter], duration: float | None = None
) -> tuple[Chapter, ...]:
    """Chapters sorted by start, without bad ones (not a number, negative,
    past the end, or a second chapter at the same time)."""
    kept: dict[float, Chapter] = {}
    dropped = 0
    for chapter in chapters:
        try:
            start = float(chapter.start)
        except (TypeError, ValueError):
            dropped += 1
            continue
        if not math.isfinite(start) or start < 0 or (duration is not None and start >= duration):
            dropped += 1
            continue
        start = round(start, 3)
        if start in kept:
            dropped += 1
            continue
        kept[start] = Chapter(start, str(chapter.title or f"Chapter {len(kept) + 1}"))
    if dropped:
        log.warning("chapters dropped count=%d reason=out of range or duplicate", dropped)
    return tuple(kept[start] for start in sorted(kept))


def chapter_at(chapters: tuple[Chapter, ...], position: float) -> int | None:
    """The index of the chapter that plays at ``position``."""
    found = None
    for i, chapter in enumerate(chapters):
        if chapter.start <= position + 0.05:
            found = i
        else:
            break
    return found
