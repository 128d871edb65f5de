"""The player on real mpv: playing, resume positions, chapters, speed, volume."""

from __future__ import annotations

import logging
from dataclasses import replace
from itertools import pairwise

import pytest

from earmark.player.state import Chapter

from ..support import wait_for
from .conftest import wait_playing_past, wait_state


def test_play_reports_playing_state_with_file_chapters(make_player, garden_episode, recorder):
    player = make_player()
    player.play(str(garden_episode.path), episode_id=7)
    state = wait_playing_past(player, 0.3)
    assert state.source == str(garden_episode.path)
    assert state.episode_id == 7
    assert state.duration == pytest.approx(garden_episode.duration, abs=0.5)
    assert state.chapter_title == "Welcome"
    assert recorder.states[0].status == "loading"


def test_play_resumes_at_saved_position(make_player, garden_episode):
    player = make_player()
    player.play(str(garden_episode.path), start=30.0)
    state = wait_playing_past(player, 30.0)
    assert state.position < 33.0
    assert state.chapter_title == "Compost"


def test_pause_reports_position_and_holds_it(make_player, garden_episode, recorder):
    player = make_player()
    player.play(str(garden_episode.path), episode_id=3)
    wait_playing_past(player, 0.5)
    player.pause()
    paused = wait_state(player, lambda s: s.status == "paused")
    report = wait_for(lambda: [p for p in recorder.positions if p.position >= 0.5], what="report")
    assert report[-1].episode_id == 3
    assert report[-1].position == pytest.approx(paused.position, abs=0.3)
    # a resumed episode goes on from where it paused
    player.toggle()
    assert wait_playing_past(player, paused.position).position < paused.position + 2


def test_position_is_reported_every_save_interval(make_player, garden_episode, recorder):
    player = make_player(position_save_interval=0.3)
    player.play(str(garden_episode.path))
    wait_for(lambda: len(recorder.positions) >= 4, timeout=5, what="four position reports")
    positions = [p.position for p in recorder.positions]
    assert positions == sorted(positions)


def test_state_is_published_at_most_once_a_second_while_playing(
    make_player, garden_episode, recorder
):
    player = make_player()
    player.play(str(garden_episode.path))
    wait_playing_past(player, 2.6)
    ticks = [s for s in recorder.states if s.status == "playing"]
    # file loaded, playback started and chapter found come at once; then one a second
    assert 2 <= len(ticks) <= 8
    assert ticks[-1].position > 1.0
    # a state that only moved the position comes a second after the one before it
    # index for index; a state arriving while this reads makes one list longer
    published = list(zip(recorder.state_times, recorder.states, strict=False))
    gaps = [
        at - before_at
        for (before_at, before), (at, state) in pairwise(published)
        if state.status == "playing"
        and state.position != before.position
        and replace(before, position=state.position) == state
    ]
    assert len(gaps) >= 2, "fewer than two position-only updates while playing"
    assert min(gaps) > 0.9, f"position published {min(gaps):.2f}s after the last state"


def test_episode_end_is_reported_and_marked_played(make_player, garden_episode, recorder):
    player = make_player(untimed=True)
    player.play(str(garden_episode.path), episode_id=5)
    end = recorder.wait_end()
    assert (end.reason, end.episode_id, end.played) == ("eof", 5, True)
    assert end.position == pytest.approx(garden_episode.duration, abs=0.5)
    assert player.snapshot().status == "stopped"
    assert recorder.positions[-1].played


def test_episode_near_its_end_counts_as_played_before_it_ends(
    make_player, garden_episode, recorder
):
    player = make_player(played_near_end=30.0)
    player.play(str(garden_episode.path), start=garden_episode.duration - 29)
    report = wait_for(
        lambda: [p for p in recorder.positions if p.played], timeout=5, what="a played report"
    )
    assert report[0].position < garden_episode.duration - 20
    assert not recorder.ends


def test_seek_beyond_the_end_finishes_the_episode(make_player, garden_episode, recorder):
    player = make_player()
    player.play(str(garden_episode.path))
    wait_playing_past(player, 0.2)
    player.seek(10_000)
    assert recorder.wait_end(5).reason == "eof"
    assert player.snapshot().status == "stopped"


def test_skip_stays_inside_the_episode(make_player, garden_episode):
    player = make_player()
    player.play(str(garden_episode.path), start=10.0)
    wait_playing_past(player, 10.0)
    player.skip(-100)
    assert wait_state(player, lambda s: s.status == "playing" and s.position < 2)
    player.skip(30)
    assert wait_playing_past(player, 30.0).position < 33.0


def test_chapters_from_the_file_step_forward_and_back(make_player, garden_episode):
    player = make_player()
    player.play(str(garden_episode.path), start=5.0)
    wait_playing_past(player, 5.0)
    player.next_chapter()
    assert wait_playing_past(player, 20.0).chapter_title == "Compost"
    player.next_chapter()
    assert wait_playing_past(player, 40.0).chapter_title == "Harvest"
    player.previous_chapter()  # just after its start: the previous chapter
    state = wait_state(player, lambda s: s.status == "playing" and s.chapter_title == "Compost")
    assert state.position < 23.0


def test_chapter_list_out_of_order_is_sorted_and_bad_ones_dropped(
    make_player, garden_episode, caplog
):
    chapters = [
        Chapter(40.0, "Late"),
        Chapter(-5.0, "Negative"),
        Chapter(10.0, "Early"),
        Chapter(float("nan"), "Broken"),
        Chapter(9999.0, "Past the end"),
        Chapter(0.0, "Start"),
    ]
    player = make_player()
    with caplog.at_level(logging.WARNING):
        player.play(str(garden_episode.path), start=12.0, chapters=chapters)
        state = wait_playing_past(player, 12.0)
    assert state.chapter_title == "Early"
    player.next_chapter()
    assert wait_playing_past(player, 40.0).chapter_title == "Late"
    assert "chapters dropped" in caplog.text


@pytest.mark.parametrize(("asked", "used"), [(0, 0.5), (100, 3.0), (-2, 0.5), (1.5, 1.5)])
def test_speed_is_kept_in_range_with_one_log_line(make_player, garden_episode, caplog, asked, used):
    player = make_player()
    player.play(str(garden_episode.path))
    wait_playing_past(player, 0.1)
    with caplog.at_level(logging.WARNING):
        player.set_speed(asked)
    assert player.snapshot().speed == used
    assert len(caplog.records) == (0 if asked == used else 1)
    assert wait_playing_past(player, 1.0).status == "playing"


def test_volume_is_kept_in_range(make_player):
    player = make_player()
    player.set_volume(150)
    assert player.snapshot().volume == 100
    player.set_volume(-3)
    assert player.snapshot().volume == 0


def test_stop_saves_position_and_goes_quiet(make_player, garden_episode, recorder):
    player = make_player()
    player.play(str(garden_episode.path), start=4.0)
    wait_playing_past(player, 4.2)
    player.stop()
    assert player.snapshot().status == "stopped"
    assert recorder.positions[-1].position > 4.0
    assert not recorder.ends
