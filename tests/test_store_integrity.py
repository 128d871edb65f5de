"""A store that cannot be lost: checked at start, backed up at start, daily and
before a migration, and restored from the newest good backup when it is corrupt
(with one loud log line and a doctor FAIL), or refused when there is none."""

from __future__ import annotations

import json
import os
import sqlite3
import stat
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from earmark.store.database import Database, migrations
from earmark.store.safekeeping import KEEP, Safekeeping, backups
from earmark.sync.broker import free_port

from .daemon_process import Daemon, earmark
from .support import wait_for

DAY = 24 * 3600


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _schema_version(path: Path) -> int:
    with sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True) as conn:
        return int(conn.execute("SELECT max(version) FROM schema_version").fetchone()[0])


def _highlight_ids(config: Path) -> set[str]:
    result = earmark(config, "export", "--format", "json")
    assert result.returncode == 0, result.stderr
    return {item["highlight"]["id"] for item in json.loads(result.stdout)["highlights"]}


def _age(path: Path, days: float) -> None:
    then = time.time() - days * DAY
    os.utime(path, (then, then))


def _corrupt(store: Path, how: str) -> None:
    size = store.stat().st_size
    with store.open("r+b") as f:
        if how == "pages":  # several pages after the first, as a failing SD card does
            assert size >= 4096 * 6, size
            f.seek(4096)
            f.write(os.urandom(4096 * 5))
        else:  # the header: no longer a database at all
            f.write(os.urandom(100))


def test_first_start_makes_a_private_backup(
    write_config: Callable[..., Path], data_dir: Path
) -> None:
    config = write_config()
    daemon = Daemon(config, data_dir.parent / "daemon.log")
    try:
        wait_for(daemon.status, 30, 0.1, "the daemon to answer")
        made = backups(data_dir / "earmark.db")
    finally:
        assert daemon.terminate() == 0, daemon.log[-2000:]
    assert len(made) == 1
    assert _mode(made[0]) == 0o600 and _mode(made[0].parent) == 0o700
    assert _schema_version(made[0]) == migrations()[-1][0]


def test_a_migration_is_preceded_by_a_backup_of_the_older_schema(tmp_path: Path) -> None:
    store = tmp_path / "earmark.db"
    older = migrations()[:-1]
    with sqlite3.connect(store) as conn:  # as the earmark before the newest migration left it
        conn.execute("CREATE TABLE schema_version (version INTEGER PRIMARY KEY, applied_at TEXT)")
        for version, sql in older:
            conn.executescript(sql)
            conn.execute("INSERT INTO schema_version VALUES (?, 'then')", (version,))
    Database(store).close()
    made = backups(store)
    assert len(made) == 1
    assert f"before-v{migrations()[-1][0]:04d}" in made[0].name
    assert _schema_version(made[0]) == older[-1][0]
    assert _schema_version(store) == migrations()[-1][0]


def test_pruning_keeps_the_newest_backups(tmp_path: Path) -> None:
    store = tmp_path / "earmark.db"
    db = Database(store)  # its first backup, made now
    try:
        keeper = Safekeeping(store)
        for days in range(KEEP + 3, 0, -1):  # older ones first, as days go by
            _age(keeper.back_up("daily"), days)
        made = keeper.back_up("daily")
    finally:
        db.close()
    kept = backups(store)
    assert len(kept) == KEEP
    assert kept[0] == made
    assert all(now.stat().st_mtime > time.time() - (KEEP - 1) * DAY for now in kept)


def test_a_running_store_is_backed_up_again_each_interval(tmp_path: Path) -> None:
    store = tmp_path / "earmark.db"
    Database(store).close()
    keeper = Safekeeping(store, every=0.2)
    keeper.start()
    try:
        wait_for(lambda: len(backups(store)) >= 3, 30, 0.05, "backups while running")
    finally:
        keeper.stop()


def _saved_and_backed_up(config: Path, data_dir: Path, log: Path) -> str:
    """A speaker's first start, a snip, and a second start a day later that backs
    the snip up: the snip's id."""
    store = data_dir / "earmark.db"
    daemon = Daemon(config, log)
    try:
        daemon.wait_playing()
        result = earmark(config, "snip")
        assert result.returncode == 0, result.stderr
    finally:
        assert daemon.terminate() == 0, daemon.log[-2000:]
    (saved,) = _highlight_ids(config)
    for backup in backups(store):
        _age(backup, 2)
    daemon = Daemon(config, log)
    try:
        wait_for(lambda: len(backups(store)) == 2, 30, 0.1, "the day's backup at start")
        daemon.wait_playing()
    finally:
        assert daemon.terminate() == 0, daemon.log[-2000:]
    return saved


@pytest.mark.parametrize("how", ["pages", "header"])
def test_a_corrupt_store_is_restored_from_the_newest_backup(
    how: str, garden_config: Callable[..., Path], data_dir: Path, tmp_path: Path
) -> None:
    # no whisper model to load: a transcriber on a port where nothing answers
    config = garden_config(
        {
            "transcription": {
                "lookahead": "off",
                "backend": "wyoming",
                "wyoming": {"port": free_port()},
            }
        }
    )
    store = data_dir / "earmark.db"
    saved = _saved_and_backed_up(config, data_dir, tmp_path / "before.log")
    newest = backups(store)[0]
    _corrupt(store, how)
    damaged = store.read_bytes()

    daemon = Daemon(config, tmp_path / "after.log")
    try:
        daemon.wait_playing()
        assert _highlight_ids(config) == {saved}
    finally:
        assert daemon.terminate() == 0, daemon.log[-2000:]
    (aside,) = data_dir.glob("earmark.db.corrupt-*[!lm]")  # not its -wal or -shm
    assert aside.read_bytes() == damaged and _mode(aside) == 0o600
    loud = [line for line in daemon.log.splitlines() if "STORE CORRUPT" in line]
    assert len(loud) == 1, daemon.log[-3000:]
    assert " ERROR " in loud[0] and str(aside) in loud[0] and str(newest) in loud[0]
    result = earmark(config, "doctor")
    line = next(x for x in result.stdout.splitlines() if x.split()[1:2] == ["store"])
    assert line.startswith("FAIL") and str(aside) in line, result.stdout
    assert result.returncode == 1


def test_a_corrupt_store_without_a_backup_is_refused_untouched(
    write_config: Callable[..., Path], data_dir: Path
) -> None:
    config = write_config()
    store = data_dir / "earmark.db"
    Database(store).close()
    for backup in backups(store):
        backup.unlink()
    _corrupt(store, "pages")
    before = {p.name: p.read_bytes() for p in data_dir.glob("earmark.db*")}

    result = earmark(config, "run")

    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "corrupt" in lines[0] and "no good backup" in lines[0], lines
    assert ".recover" in lines[0] and "empty store" in lines[0]
    after = {p.name: p.read_bytes() for p in data_dir.glob("earmark.db*")}
    assert after == before
    assert backups(store) == []


def test_doctor_says_the_store_is_sound_and_backed_up(
    write_config: Callable[..., Path], data_dir: Path
) -> None:
    config = write_config()
    Database(data_dir / "earmark.db").close()
    result = earmark(config, "doctor")
    line = next(x for x in result.stdout.splitlines() if x.split()[1:2] == ["store"])
    assert line.startswith("ok") and "integrity ok; 1 backups, newest" in line, line


def test_doctor_fails_a_day_old_store_without_a_backup(
    write_config: Callable[..., Path], data_dir: Path
) -> None:
    store = data_dir / "earmark.db"
    Database(store).close()
    for backup in backups(store):
        backup.unlink()
    with sqlite3.connect(store) as conn:  # made long ago
        conn.execute("UPDATE schema_version SET applied_at = '2000-01-01T00:00:00.000Z'")
    result = earmark(write_config(), "doctor")
    line = next(x for x in result.stdout.splitlines() if x.split()[1:2] == ["store"])
    assert line.startswith("FAIL") and "no backup in" in line, line
