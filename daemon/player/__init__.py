"""mpv, and nothing else: the player and earcons. ``mpv_core`` is the only
module that imports mpv; ``mpv_player`` holds the public :class:`Player`,
``mpv_options`` the options of every mpv and ``streams`` the retry policy for
streamed episodes. The listener's policies (queue, sleep timer, highlight
reels) live in ``earmark.playback``."""

from earmark.player.earcons import Earcon, Earcons
from earmark.player.mpv_player import Player
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
    "Player",
    "PlayerEvents",
    "PlayerState",
    "Progress",
    "Status",
]
