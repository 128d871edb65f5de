"""Episodes streamed over HTTP: playing, far seeks, dropped streams."""

from __future__ import annotations

import shutil

from earmark.library.fileserver import FileServer

from ..support import wait_for
from .conftest import wait_playing_past


def test_stream_plays_and_resumes_far_in(make_player, file_server, garden_episode):
    shutil.copy(garden_episode.path, file_server.root / "garden.mp3")
    player = make_player()
    player.play(file_server.url("garden.mp3"), start=41.0)
    state = wait_playing_past(player, 41.0)
    assert state.chapter_title == "Harvest"


def test_far_seek_in_a_stream_fetches_a_small_part_of_it(make_player, tmp_path, long_stream_file):
    root = tmp_path / "www"
    root.mkdir()
    served = root / "long.mp3"
    served.symlink_to(long_stream_file)
    # count what mpv took, not what the kernel queued for it locally
    file_server = FileServer(root, send_buffer=65536).start()
    player = make_player()
    player.play(file_server.url("long.mp3"))
    duration = wait_playing_past(player, 0.2).duration
    assert duration and duration > 7000
    player.seek(duration * 0.9)
    wait_playing_past(player, duration * 0.9 + 0.3)
    fraction = file_server.bytes_sent / served.stat().st_size
    # what mpv buffers ahead (two minutes) at both places: about 4 %
    file_server.stop()
    assert fraction < 0.1, f"fetched {fraction:.0%} of the file"


def test_stream_that_drops_is_retried_from_where_it_stopped(
    make_player, file_server, garden_episode, recorder
):
    served = file_server.root / "garden.mp3"
    whole = garden_episode.path.read_bytes()
    # the first response ends halfway, as when the connection drops mid-episode
    served.write_bytes(whole[: len(whole) // 2])
    player = make_player(player_retry_backoff=0.5)
    player.play(file_server.url("garden.mp3"), start=25.0, episode_id=2)
    wait_for(lambda: any(s.status == "playing" for s in recorder.states), what="playing")
    retrying = wait_for(
        lambda: (s := player.snapshot()).status == "loading" and s, timeout=10, what="a retry"
    )
    assert 27 < retrying.position < 33
    served.write_bytes(whole)
    resumed = wait_playing_past(player, retrying.position + 0.5)
    assert resumed.position < retrying.position + 3
    assert not recorder.errors and not recorder.ends
