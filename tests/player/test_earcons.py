"""Earcons mix over the podcast without moving or pausing it."""

from __future__ import annotations

import subprocess
import time

from earmark.config.model import PlayerConfig
from earmark.player import Earcon, Earcons
from earmark.player.earcons import earcon_file

from .conftest import wait_playing_past, wait_state


def test_earcons_are_short_generated_sounds(tmp_path):
    for earcon in Earcon:
        path = earcon_file(earcon, tmp_path)
        seconds = float(
            subprocess.run(
                ["soxi", "-D", str(path)], capture_output=True, text=True, check=True
            ).stdout
        )
        assert 0.1 < seconds < 0.5


def test_earcon_does_not_move_or_pause_the_podcast(make_player, garden_episode, tmp_path):
    player = make_player()
    earcons = Earcons(PlayerConfig(audio_output="null"), tmp_path / "earcons")
    try:
        player.play(str(garden_episode.path), start=10.0)
        wait_playing_past(player, 10.2)
        player.pause()
        paused = wait_state(player, lambda s: s.status == "paused")
        earcons.play(Earcon.SNIP_SAVED)
        earcons.play(Earcon.ERROR)
        assert earcons.wait_played(timeout=5)  # the earcon played out
        after = player.snapshot()
        # mpv may still report the last decoded position just after the pause
        assert after.status == paused.status and after.source == paused.source
        assert abs(after.position - paused.position) < 0.15
        player.resume()
        before = wait_playing_past(player, paused.position + 0.2)
        started = time.monotonic()
        earcons.play(Earcon.SNIP_SAVED)
        assert earcons.wait_played(timeout=5)
        # the podcast played on through the earcon: not paused, and not moved
        # further than the time that passed
        after = wait_playing_past(player, before.position + 0.1, timeout=5)
        assert after.source == before.source
        assert after.position - before.position < time.monotonic() - started + 0.5
    finally:
        earcons.close()


def test_earcons_can_be_turned_off(tmp_path):
    earcons = Earcons(PlayerConfig(audio_output="null", earcons=False), tmp_path)
    earcons.play(Earcon.STARTUP)
    assert not list(tmp_path.iterdir())
