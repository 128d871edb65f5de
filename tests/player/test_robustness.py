"""mpv dies or hangs: the player builds a new one and the episode goes on."""

from __future__ import annotations

import threading

from earmark.config.model import PlayerConfig
from earmark.player import Player, PlayerEvents

from ..support import wait_for
from .conftest import wait_playing_past


def test_player_rebuilds_mpv_after_it_quits_and_resumes_the_episode(make_player, garden_episode):
    player = make_player(player_watchdog_interval=0.2)
    player.play(str(garden_episode.path), start=20.0, episode_id=1)
    before = wait_playing_past(player, 21.0)
    player._core.command("quit")  # the core shuts down, as when mpv crashes
    wait_for(lambda: player.restarts == 1, timeout=5, what="a rebuilt mpv")
    after = wait_playing_past(player, before.position + 0.2)
    assert (after.source, after.episode_id) == (before.source, 1)
    assert after.position < before.position + 3


def test_player_keeps_a_paused_episode_paused_after_a_rebuild(make_player, garden_episode):
    player = make_player(player_watchdog_interval=0.2)
    player.play(str(garden_episode.path), start=10.0)
    wait_playing_past(player, 10.2)
    player.pause()
    wait_for(lambda: player.snapshot().status == "paused", what="paused")
    player._core.command("quit")
    wait_for(lambda: player.restarts == 1, timeout=5, what="a rebuilt mpv")
    state = wait_for(lambda: (s := player.snapshot()).status == "paused" and s, what="paused")
    assert 10.0 < state.position < 12.0


def test_watchdog_replaces_an_mpv_whose_events_stopped(garden_episode):
    gate, blocked = threading.Event(), threading.Event()

    def on_state(state):
        # a listener that breaks the rules and blocks mpv's event thread, once
        if state.position > 1.0 and not blocked.is_set():
            blocked.set()
            gate.wait(30)

    player = Player(
        PlayerConfig(audio_output="null"),
        PlayerEvents(on_state=on_state),
        watchdog_interval=0.2,
        hang_timeout=1.0,
    )
    try:
        player.play(str(garden_episode.path))
        wait_for(blocked.is_set, timeout=10, what="the event thread to block")
        wait_for(lambda: player.restarts == 1, timeout=5, what="the watchdog to rebuild mpv")
        position = player.snapshot().position
        state = wait_playing_past(player, position + 0.5)
        assert state.position < position + 3
    finally:
        gate.set()
        player.close()


def test_commands_while_mpv_restarts_are_skipped_not_raised(make_player, garden_episode):
    player = make_player(player_watchdog_interval=0.2)
    player.play(str(garden_episode.path))
    wait_playing_past(player, 0.2)
    player._core.command("quit")
    for command in (
        player.pause,
        player.resume,
        lambda: player.seek(5),
        lambda: player.skip(5),
        lambda: player.set_speed(2),
        lambda: player.set_volume(20),
        player.stop,
    ):
        command()
    assert player.snapshot().status == "stopped"
    wait_for(lambda: player.restarts == 1, timeout=5, what="a rebuilt mpv")
    player.play(str(garden_episode.path), start=3.0)
    assert wait_playing_past(player, 3.2).speed == 2


def test_an_output_chosen_while_playing_outlives_a_rebuild(make_player, garden_episode):
    headset = "alsa/bluealsa:DEV=AA:BB:CC:DD:EE:01,PROFILE=a2dp"
    player = make_player(audio_device=headset, player_watchdog_interval=0.2)
    player.play(str(garden_episode.path), start=10.0)
    before = wait_playing_past(player, 10.2)
    player.use_audio_device("alsa/plughw:0,0")  # the headset went away: the jack
    assert player.audio_device() == "alsa/plughw:0,0"
    wait_playing_past(player, before.position + 0.5)  # it plays on, through the jack
    player._core.command("quit")
    wait_for(lambda: player.restarts == 1, timeout=5, what="a rebuilt mpv")
    wait_for(lambda: player.audio_device() == "alsa/plughw:0,0", what="the jack again")
    player.use_audio_device(None)  # the headset is back
    assert player.audio_device() == headset
