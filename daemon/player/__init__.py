"""Playback on mpv: the player, the up-next queue, earcons, the sleep timer and
highlight reels. ``mpv_core`` is the only module that imports mpv; ``mpv_player``
holds the public :class:`Player`, ``mpv_options`` the options of every mpv and
``streams`` the retry policy for streamed episodes."""

from earmark.player.earcons import Earcon, Earcons
from earmark.player.highlights import HighlightReel, HighlightWindow
from earmark.player.mpv_player import Player
from earmark.player.queue import QueueItem, UpNext
from earmark.player.sleep_timer import SleepTimer
from earmark.player.state import (
    Chapter,
    EpisodeEnd,
    PlayerEvents,
    PlayerState,
    Progress,
    Status,
)

__all__ = [
    "Chapter",
    "Earcon",
    "Earcons",
    "EpisodeEnd",
    "HighlightReel",
    "HighlightWindow",
    "Player",
    "PlayerEvents",
    "PlayerState",
    "Progress",
    "QueueItem",
    "SleepTimer",
    "Status",
    "UpNext",
]
