"""The listener's playback: the controller over the mpv player, and its feedback."""

from earmark.playback.controller import Playback
from earmark.playback.feedback import Feedback

__all__ = ["Feedback", "Playback"]
