"""A refused second daemon touches nothing: the instance lock, with real processes."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

from earmark.single_instance import InstanceLock

from .daemon_process import Daemon, earmark

# takes the lock the way the daemon does and turns a refusal into the CLI's line
# and exit code; then, holding it, makes its other files and waits for stdin
HOLDER = """
import sys
from pathlib import Path
from earmark.errors import EarmarkError
from earmark.single_instance import InstanceLock

data = Path(sys.argv[1])
lock = InstanceLock(data)
try:
    lock.acquire()
except EarmarkError as exc:
    print(f"earmark: {exc}", file=sys.stderr)
    sys.exit(exc.exit_code)
(data / "earmark.db").write_bytes(b"the first daemon's database")
(data / "earmark.sock").write_bytes(b"the first daemon's socket")
print("holding", flush=True)
sys.stdin.read()
lock.release()
"""


def _start(data_dir: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(data_dir)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _snapshot(folder: Path) -> dict[str, tuple[bytes, int, int]]:
    return {
        p.name: (p.read_bytes(), p.stat().st_ino, p.stat().st_mtime_ns)
        for p in sorted(folder.iterdir())
    }


def test_second_daemon_is_refused_with_one_line_and_touches_nothing(data_dir: Path) -> None:
    first = _start(data_dir)
    try:
        assert first.stdout is not None
        assert first.stdout.readline() == "holding\n"
        before = _snapshot(data_dir)

        second = subprocess.run(
            [sys.executable, "-c", HOLDER, str(data_dir)],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=30,
        )

        assert second.returncode == 3
        assert second.stdout == ""
        lines = second.stderr.splitlines()
        assert len(lines) == 1, second.stderr
        assert str(data_dir / "earmark.lock") in lines[0]
        assert f"pid {first.pid}" in lines[0]
        assert _snapshot(data_dir) == before
        assert first.poll() is None
    finally:
        first.communicate("", timeout=30)
    assert first.returncode == 0


def test_lock_is_free_again_once_the_holder_exits(data_dir: Path) -> None:
    first = _start(data_dir)
    assert first.stdout is not None
    assert first.stdout.readline() == "holding\n"
    first.kill()  # however the holder ends, the kernel drops the lock
    first.wait(30)

    lock = InstanceLock(data_dir)
    lock.acquire()
    try:
        assert (data_dir / "earmark.lock").read_text() == f"{os.getpid()}\n"
    finally:
        lock.release()


def test_the_lock_makes_a_new_data_dir_private(tmp_path: Path) -> None:
    """The lock is taken before the store, so it is what creates the data dir."""
    from earmark.single_instance import InstanceLock

    data = tmp_path / "new" / "data"
    with InstanceLock(data):
        assert data.stat().st_mode & 0o777 == 0o700
        assert (data / "earmark.lock").stat().st_mode & 0o777 == 0o600


def test_a_second_daemon_started_by_hand_leaves_the_playing_one_untouched(
    garden_daemon: Daemon, data_dir: Path
) -> None:
    """The real daemon, playing: a second `earmark run` on its config is refused in
    one line, and the first plays on, takes a snip and keeps a sound store."""
    playing = garden_daemon.wait_playing()
    at = float(playing["player"]["position"])

    second = earmark(garden_daemon.config, "run", timeout=60)

    assert second.returncode == 3 and second.stdout == ""
    assert second.stderr.splitlines() == [
        f"earmark: earmark is already running (pid {garden_daemon.process.pid} holds"
        f" {data_dir / 'earmark.lock'}); stop it first, or give this one another data_dir"
    ]
    garden_daemon.wait_playing(min_position=at + 2)  # it plays on
    snipped = earmark(garden_daemon.config, "snip")
    assert snipped.returncode == 0, snipped.stderr
    snip_id = snipped.stdout.split()[2].removeprefix("id=")
    assert garden_daemon.terminate() == 0
    with sqlite3.connect(f"{(data_dir / 'earmark.db').as_uri()}?mode=ro", uri=True) as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        assert db.execute("SELECT id FROM highlights").fetchall() == [(snip_id,)]
