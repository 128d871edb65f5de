"""Play as soon as there is something to play: a speaker that started with an
empty library (its feeds not refreshed yet, playback never waits for them)
starts the first episode the refresher stores."""

from __future__ import annotations

from typing import TYPE_CHECKING

from earmark.events import LibraryChanged, Listener

if TYPE_CHECKING:
    from earmark.playback.controller import Playback


class PlayWhenStocked(Listener):
    def __init__(self, playback: Playback) -> None:
        self.playback = playback

    def library_changed(self, event: LibraryChanged) -> None:
        # only while autoplay has found nothing (any play since clears it), so
        # this never interrupts the listener
        if self.playback.nothing_to_play is not None:
            self.playback.autoplay_at_start()
