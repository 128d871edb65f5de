"""Privacy on disk: what the listener saved is readable by the daemon's user only."""

from __future__ import annotations

import stat
from pathlib import Path

from earmark.store.database import Database

from ..conftest import Episode
from .conftest import Stack


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_data_dir_is_0700_and_the_database_files_0600(tmp_path: Path) -> None:
    data = tmp_path / "data"
    db = Database(data / "earmark.db")
    try:
        with db.transaction() as conn:  # a write, so the WAL exists
            conn.execute("PRAGMA user_version = 1")
        assert _mode(data) == 0o700
        files = sorted(data.glob("earmark.db*"))
        assert {p.name for p in files} >= {"earmark.db", "earmark.db-wal"}, files
        assert {p.name: _mode(p) for p in files} == {p.name: 0o600 for p in files}
    finally:
        db.close()


def test_an_existing_database_is_made_0600(tmp_path: Path) -> None:
    Database(tmp_path / "earmark.db").close()
    (tmp_path / "earmark.db").chmod(0o644)  # as an older earmark left it
    Database(tmp_path / "earmark.db").close()
    assert _mode(tmp_path / "earmark.db") == 0o600


def test_clips_are_0600_in_a_0700_folder(stack: Stack, garden_episode: Episode) -> None:
    episode_id = stack.add_episode(garden_episode)
    highlight = stack.settled(stack.snip(episode_id, 30.0).id)
    assert highlight.status == "done" and highlight.clip_path, highlight.error
    clip = Path(highlight.clip_path)
    assert _mode(clip) == 0o600
    assert _mode(clip.parent) == 0o700
