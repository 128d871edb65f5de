"""The playback policies drive a real Player: the player tests' fixtures."""

from ..player.conftest import make_player, recorder, wait_playing_past, wait_state

__all__ = ["make_player", "recorder", "wait_playing_past", "wait_state"]
