"""The listener's playback: the controller over the mpv player (resume, speed
per podcast), the up-next queue, the sleep timer, highlight reels, and the
listeners that act for it (earcons, playing when stocked, following the
headset). mpv itself lives in ``player/``."""

from earmark.playback.controller import Playback
from earmark.playback.feedback import Feedback
from earmark.playback.headset import FollowHeadset
from earmark.playback.queue import QueueItem, UpNext
from earmark.playback.reel import HighlightReel, HighlightWindow
from earmark.playback.sleep_timer import SleepTimer
from earmark.playback.stocked import PlayWhenStocked

__all__ = [
    "Feedback",
    "FollowHeadset",
    "HighlightReel",
    "HighlightWindow",
    "PlayWhenStocked",
    "Playback",
    "QueueItem",
    "SleepTimer",
    "UpNext",
]
