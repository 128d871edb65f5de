"""Bad episodes and bad streams end in a defined state with one line, never a dead player."""

from __future__ import annotations

import shutil

from .conftest import wait_playing_past, wait_state


def assert_still_plays(player, episode) -> None:
    player.play(str(episode.path), start=1.0)
    wait_playing_past(player, 1.2)


def test_text_file_named_mp3_is_reported_as_unplayable(
    make_player, tmp_path, garden_episode, recorder
):
    bad = tmp_path / "notes.mp3"
    bad.write_text("this is not audio\n" * 50)
    player = make_player()
    player.play(str(bad), episode_id=9)
    end = recorder.wait_end(5)
    assert (end.reason, end.episode_id) == ("error", 9)
    assert len(recorder.errors) == 1 and "\n" not in recorder.errors[0]
    assert str(bad) in recorder.errors[0]
    state = player.snapshot()
    assert state.status == "error" and state.error == recorder.errors[0]
    assert_still_plays(player, garden_episode)
    assert player.snapshot().error is None


def test_zero_length_episode_is_reported_as_unplayable(
    make_player, tmp_path, garden_episode, recorder
):
    empty = tmp_path / "empty.mp3"
    empty.write_bytes(b"")
    player = make_player()
    player.play(str(empty))
    assert recorder.wait_end(5).reason == "error"
    assert player.snapshot().status == "error"
    assert_still_plays(player, garden_episode)


def test_truncated_episode_ends_where_its_audio_ends(
    make_player, tmp_path, garden_episode, recorder
):
    truncated = tmp_path / "truncated.mp3"
    data = garden_episode.path.read_bytes()
    truncated.write_bytes(data[: len(data) // 2])
    player = make_player(untimed=True)
    player.play(str(truncated))
    end = recorder.wait_end()
    assert end.reason == "eof"
    assert player.snapshot().status == "stopped"
    assert not recorder.errors


def test_corrupt_bytes_in_the_middle_are_played_through(
    make_player, tmp_path, garden_episode, recorder
):
    corrupt = tmp_path / "corrupt.mp3"
    data = bytearray(garden_episode.path.read_bytes())
    middle = len(data) // 2
    data[middle : middle + 20_000] = bytes((i * 97) % 251 for i in range(20_000))
    corrupt.write_bytes(bytes(data))
    player = make_player(untimed=True)
    player.play(str(corrupt))
    assert recorder.wait_end().reason == "eof"
    assert player.snapshot().status == "stopped"


def test_missing_stream_fails_after_retries(make_player, file_server, garden_episode, recorder):
    player = make_player(player_stream_retries=2)
    url = file_server.url("gone.mp3")
    player.play(url, episode_id=4)
    end = recorder.wait_end(10)
    assert (end.reason, end.episode_id) == ("error", 4)
    assert len(recorder.errors) == 1 and "after 3 attempts" in recorder.errors[0]
    assert player.snapshot().status == "error"
    assert_still_plays(player, garden_episode)


def test_stream_from_server_that_ignores_range_still_seeks(make_player, tmp_path, garden_episode):
    from earmark.library.fileserver import FileServer

    root = tmp_path / "norange"
    root.mkdir()
    shutil.copy(garden_episode.path, root / "garden.mp3")
    with FileServer(root, honour_range=False) as server:
        player = make_player()
        player.play(server.url("garden.mp3"))
        wait_playing_past(player, 0.2)
        player.seek(45.0)
        state = wait_playing_past(player, 45.2)
        assert state.chapter_title == "Harvest"
        player.stop()


def test_burst_of_100_loads_ends_on_the_last(make_player, garden_episode, tmp_path, recorder):
    other = tmp_path / "other.mp3"
    shutil.copy(garden_episode.path, other)
    player = make_player()
    sources = [str(garden_episode.path), str(other)]
    for i in range(100):
        player.play(sources[i % 2], start=float(i % 50), episode_id=i)
    state = wait_playing_past(player, 49.0)
    assert (state.source, state.episode_id) == (sources[1], 99)
    assert state.position < 52
    assert not recorder.ends and not recorder.errors


def test_burst_of_100_mixed_commands_ends_in_a_defined_state(make_player, garden_episode):
    player = make_player()
    player.play(str(garden_episode.path), start=20.0)
    wait_playing_past(player, 20.0)
    for i in range(100):
        (
            player.toggle,
            player.next_chapter,
            player.previous_chapter,
            lambda: player.skip(7),
            lambda: player.skip(-5),
        )[i % 5]()
    # 100 commands: 20 toggles leave it playing; every jump stayed inside the episode
    state = wait_state(player, lambda s: s.status == "playing")
    assert 0 <= state.position <= garden_episode.duration
    player.pause()
    assert wait_state(player, lambda s: s.status == "paused")
