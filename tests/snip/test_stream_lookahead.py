"""A streamed episode is transcribed ahead of the listener from what mpv's cache
already holds: the daemon never fetches the stream a second time for it."""

from __future__ import annotations

import shutil
import sqlite3
from collections.abc import Callable
from pathlib import Path

from earmark.library.fileserver import FileServer
from earmark.sync.broker import LocalBroker

from ..conftest import Episode
from ..daemon_process import Daemon, earmark
from ..support import wait_for, write_feed


def _spans(database: Path) -> list[tuple[float, float]]:
    with sqlite3.connect(database, timeout=5) as conn:
        return conn.execute('SELECT start, "end" FROM transcribed_spans ORDER BY start').fetchall()


def _covered(spans: list[tuple[float, float]]) -> float:
    """How far from the start the stretches cover the episode without a gap."""
    reached = 0.0
    for start, end in spans:
        if start > reached + 0.05:
            break
        reached = max(reached, end)
    return reached


def test_stream_is_looked_ahead_from_the_cache_and_a_snip_reads_it(
    write_config: Callable[..., Path],
    broker: LocalBroker,
    garden_episode: Episode,
    data_dir: Path,
    tmp_path: Path,
) -> None:
    root = tmp_path / "podcast"
    root.mkdir()
    shutil.copy(garden_episode.path, root / "garden.mp3")
    # a small send buffer: bytes_sent counts what a reader took, not what the
    # kernel queued for a reader that stopped early
    with FileServer(root, send_buffer=65536) as server:
        feed = write_feed(root, server.base_url, "Garden", [("g", "Compost", "garden.mp3")])
        config = write_config(
            {
                "mqtt": {"host": "127.0.0.1", "port": broker.port},
                "library": {"demo": False, "download": False, "feeds": [feed]},
                "snip": {"before": 15, "after": 5},
            }
        )
        daemon = Daemon(config, tmp_path / "daemon.log")
        try:
            daemon.wait_playing()
            database = data_dir / "earmark.db"
            # the whole (short) episode is in the cache at once: look-ahead covers it
            wait_for(
                lambda: _covered(_spans(database)) >= garden_episode.duration - 0.1,
                90,
                0.5,
                "look-ahead over the whole stream",
            )
            looked_ahead = _spans(database)
            result = earmark(config, "snip")
            assert result.returncode == 0, result.stderr
            wait_for(lambda: "snip done" in daemon.log, 60, 0.2, "the snip")
            # the snip read the stored words: hearing its window itself would have
            # stored that window as one more transcribed stretch
            assert _spans(database) == looked_ahead
            assert not list((data_dir / "tmp").glob("*.mkv")), "dumps are cleaned up"
        finally:
            daemon.terminate()
        assert "episode downloaded" not in daemon.log
        size = (root / "garden.mp3").stat().st_size
        by_agent = {agent.split("/")[0]: n / size for agent, n in server.bytes_by_agent.items()}
        # mpv fetched the stream (once, with a little slack for its cache's reads),
        # the clip stages their windows (they say who they are), the library the
        # feed. The look-ahead reads mpv's cache and fetched nothing: a read of the
        # stream by anything else (ffmpeg's own "Lavf" agent) would show here.
        assert set(by_agent) <= {"libmpv", "earmark-clip", "earmark"}, by_agent
        assert by_agent.get("libmpv", 0) < 1.6, by_agent
        assert by_agent.get("earmark-clip", 0) > 0, by_agent
