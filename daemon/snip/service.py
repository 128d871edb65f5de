"""The snip use case: a press becomes a durable highlight, on the loop, within
milliseconds. Correct for a late press, capture, announce; the rest (earcon,
LED flash, waking the job worker and the outbox relay) are listeners.
"""

from __future__ import annotations

import dataclasses
import logging
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn

from earmark.errors import EarmarkError
from earmark.events import Event, SnipRefused, SnipSaved
from earmark.player.state import NowPlaying
from earmark.snip.capture import Capturer

log = logging.getLogger(__name__)


class SnipService:
    def __init__(
        self,
        now_playing: Callable[[], NowPlaying],
        capturer: Capturer,
        announce: Callable[[Event], None],
        data_dir: Path,
    ) -> None:
        self.now_playing = now_playing
        self.capturer = capturer
        self.announce = announce
        self.data_dir = data_dir

    def snip(self, source: str, pressed: float | None = None) -> dict[str, Any]:
        """Save the moment of the press (monotonic ``pressed``; default now)."""
        playing = self.now_playing()
        if not playing.source:
            self._refuse("nothing is playing, so there is no moment to save", source)
        if pressed is not None and playing.playing:
            # a gesture is known only after its double-press window: go back to the press
            late = max(0.0, time.monotonic() - pressed) * playing.speed
            playing = dataclasses.replace(playing, position=max(0.0, playing.position - late))
        try:
            highlight, new = self.capturer.capture(playing, source)
        except sqlite3.Error as exc:
            log.error(
                "snip not saved at %.1f s: the database refused it (%s)", playing.position, exc
            )
            reason = (
                f"the snip could not be saved: {exc}"
                if isinstance(exc, EarmarkError)  # a full disk: it says which and what to do
                else f"the snip could not be saved: {exc}; check the disk holding {self.data_dir}"
            )
            self._refuse(reason, source, audible=True)
        self.announce(SnipSaved(highlight, new, source))
        return {
            "ok": True,
            "new": new,
            "id": highlight.id,
            "episode": highlight.episode_title,
            "start": highlight.start,
            "end": highlight.end,
        }

    def _refuse(self, reason: str, source: str, audible: bool = False) -> NoReturn:
        self.announce(SnipRefused(reason, source, audible))
        raise EarmarkError(reason)
