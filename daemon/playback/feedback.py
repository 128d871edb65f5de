"""Earcons as a listener: the listener hears that a snip was saved, refused, or
that an episode could not be played, without looking at anything."""

from __future__ import annotations

from typing import TYPE_CHECKING

from earmark.events import EpisodeFinished, Listener, SnipRefused, SnipSaved

if TYPE_CHECKING:
    from earmark.playback.controller import Playback


class Feedback(Listener):
    def __init__(self, playback: Playback) -> None:
        self.playback = playback

    def snip_saved(self, event: SnipSaved) -> None:
        self.playback.earcon("snip")

    def snip_refused(self, event: SnipRefused) -> None:
        if event.audible:
            self.playback.earcon("error")

    def episode_finished(self, event: EpisodeFinished) -> None:
        if event.reason == "error":
            self.playback.earcon("error")
