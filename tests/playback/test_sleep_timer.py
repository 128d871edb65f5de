"""The sleep timer pauses after a while, or at the end of the episode."""

from __future__ import annotations

import threading

from earmark.playback import SleepTimer

from ..support import wait_for
from .conftest import wait_playing_past, wait_state


def test_sleep_timer_pauses_the_player_when_it_rings(make_player, garden_episode):
    player = make_player()
    timer = SleepTimer(player.pause)
    player.play(str(garden_episode.path))
    wait_playing_past(player, 0.1)
    timer.after(0.5)
    assert timer.remaining is not None
    assert wait_state(player, lambda s: s.status == "paused", timeout=5)
    assert timer.remaining is None


def test_cancelled_sleep_timer_never_rings():
    rang = threading.Event()
    timer = SleepTimer(rang.set)
    timer.after(0.2)
    timer.cancel()
    assert not rang.wait(0.5)


def test_end_of_episode_sleep_stops_once():
    timer = SleepTimer(lambda: None)
    assert not timer.episode_ended()
    timer.at_end_of_episode()
    assert timer.waiting_for_end
    assert timer.episode_ended()
    assert not timer.episode_ended()


def test_a_new_sleep_time_replaces_the_old_one():
    calls: list[int] = []
    timer = SleepTimer(lambda: calls.append(1))
    timer.after(60)
    timer.after(0.1)
    wait_for(lambda: calls, timeout=3, what="the timer")
    assert calls == [1]
