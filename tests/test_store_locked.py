"""Another program holds the speaker's database longer than SQLite waits for it
(a backup tool, someone's ``sqlite3`` shell left in a write): the speaker keeps
playing, says in one line that positions are not saved, saves again once the
lock is gone, and no traceback reaches the journal."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

from .daemon_process import Daemon
from .support import wait_for

# how long the store waits for a lock before a write gives up
BUSY_TIMEOUT = 10.0


def test_a_database_locked_by_another_program_skips_position_saves_and_plays_on(
    garden_config: Callable[..., Path], tmp_path: Path
) -> None:
    config = garden_config(
        {
            "data_dir": str(tmp_path / "data"),
            "transcription": {"lookahead": "off"},
        }
    )
    daemon = Daemon(config, tmp_path / "daemon.log")
    try:
        daemon.wait_playing(min_position=1.0)
        other = sqlite3.connect(tmp_path / "data" / "earmark.db", isolation_level=None)
        try:
            other.execute("BEGIN IMMEDIATE")  # a writer that does not let go in time
            wait_for(
                lambda: "position not saved" in daemon.log,
                BUSY_TIMEOUT + 30,
                0.2,
                "a position save the lock refused",
            )
            refused_at = daemon.player()["position"]
        finally:
            other.execute("ROLLBACK")
            other.close()

        wait_for(lambda: "position saved again" in daemon.log, 60, 0.2, "a save after the lock")
        wait_for(
            lambda: daemon.player()["position"] > refused_at + 2, 60, 0.2, "the speaker to play on"
        )
        assert daemon.terminate() == 0
        log = daemon.log
        assert "Traceback" not in log, log[-4000:]
        assert log.count("position not saved") == 1
        (line,) = [x for x in log.splitlines() if "position not saved" in x]
        # SQLite's answer, or the worker's write waiting on the same lock meanwhile
        assert "database is locked" in line, line
        with sqlite3.connect(tmp_path / "data" / "earmark.db") as db:
            (saved,) = db.execute("SELECT max(position) FROM playback_positions").fetchone()
        assert saved is not None and saved > refused_at
    finally:
        daemon.terminate()
