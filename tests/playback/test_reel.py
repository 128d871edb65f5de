"""Highlight reels play saved windows one after another on the real player."""

from __future__ import annotations

from earmark.playback import HighlightReel, HighlightWindow

from ..support import wait_for
from .conftest import wait_playing_past


def test_reel_plays_each_window_then_continues_from_here(make_player, garden_episode, recorder):
    player = make_player()
    source = str(garden_episode.path)
    reel = HighlightReel(
        player,
        [
            HighlightWindow(source, 5.0, 6.0, 1),
            HighlightWindow(source, 40.0, 41.0, 1),
            HighlightWindow(source, 10.0, 9.0, 1),
        ],
    )  # empty: dropped
    recorder_ends = len(recorder.ends)
    reel.start()
    wait_for(lambda: len(recorder.ends) > recorder_ends, timeout=5, what="first window's end")
    assert recorder.ends[-1].played is False  # a window does not mark the episode played
    assert reel.handle_end(recorder.ends[-1])
    assert reel.current.start == 40.0
    wait_playing_past(player, 40.2)
    window = reel.continue_from_here()
    assert window is not None and window.start == 40.0
    assert wait_playing_past(player, 41.5).position < 45  # no end: the episode goes on
    assert not reel.playing


def test_reel_finishes_after_its_last_window(make_player, garden_episode, recorder):
    player = make_player(untimed=True)
    reel = HighlightReel(player, [HighlightWindow(str(garden_episode.path), 1.0, 2.0)])
    reel.start()
    end = recorder.wait_end(5)
    assert not reel.handle_end(end)
    assert player.snapshot().status == "stopped"
