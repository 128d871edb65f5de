"""The data dir on a full disk (a small tmpfs, filled): the speaker keeps playing,
a snip pressed meanwhile is refused in one line, the snips saved before survive,
a snip works again once space is freed, and starting or stopping there is one
line, never a traceback. Needs root (mount)."""

from __future__ import annotations

import os
import sqlite3
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from .daemon_process import Daemon, earmark
from .support import wait_for

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="mounting a small disk needs root")


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    mount = tmp_path / "disk"
    mount.mkdir()
    subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=8m,mode=0700", "tmpfs", str(mount)], check=True
    )
    try:
        yield mount
    finally:
        subprocess.run(["umount", "--lazy", str(mount)], check=True)


@pytest.fixture
def on_small_disk(
    garden_config: Callable[..., Path], garden_feed: str, small_disk: Path
) -> Callable[[], Path]:
    """A garden speaker config whose data dir is the small disk: streamed, no
    look-ahead, two-second snip windows (so presses a few seconds apart are two)."""

    def write() -> Path:
        return garden_config(
            {
                "data_dir": str(small_disk / "data"),
                "library": {"demo": False, "feeds": [garden_feed], "download": False},
                "transcription": {"lookahead": "off"},
                "snip": {"before": 1.0, "after": 1.0},
            }
        )

    return write


def fill(folder: Path) -> Path:
    """Write zeros into ``folder`` until the disk says no more; the filler's path."""
    filler = folder / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        while True:
            os.write(fd, bytes(64 * 1024))
    except OSError as exc:
        assert exc.errno == 28, exc  # ENOSPC, nothing else
    finally:
        os.close(fd)
    assert os.statvfs(folder).f_bavail == 0
    return filler


def position(daemon: Daemon) -> float:
    return float(daemon.player()["position"])


def snip(config: Path) -> subprocess.CompletedProcess[str]:
    return earmark(config, "snip")


def snip_id(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("snip saved id="), result.stdout
    return result.stdout.split()[2].removeprefix("id=")


def highlight_ids(database: Path) -> set[str]:
    with sqlite3.connect(f"{database.as_uri()}?mode=ro", uri=True) as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        return {row[0] for row in db.execute("SELECT id FROM highlights")}


def test_a_snip_on_a_full_disk_is_refused_in_one_line_and_playing_goes_on(
    on_small_disk: Callable[[], Path], small_disk: Path, tmp_path: Path
) -> None:
    config = on_small_disk()
    daemon = Daemon(config, tmp_path / "daemon.log")
    filler = None
    try:
        daemon.wait_playing()
        before = snip_id(snip(config))
        filler = fill(small_disk)
        full_at = position(daemon)

        refused = snip(config)

        assert refused.returncode != 0 and refused.stdout == ""
        assert refused.stderr.splitlines() == [
            f"earmark: the snip could not be saved: the disk holding {small_disk / 'data'}"
            " is full; free some space there"
        ]
        wait_for(lambda: "snip not saved" in daemon.log, 10, 0.1, "the refusal in the log")
        # it plays on, position saves failing meanwhile (said once)
        wait_for(lambda: position(daemon) > full_at + 3, 30, 0.2, "the speaker to play on")
        wait_for(lambda: "position not saved" in daemon.log, 30, 0.2, "a refused position save")

        filler.unlink()
        filler = None
        after = snip_id(snip(config))

        assert after != before
        assert daemon.terminate() == 0
        assert highlight_ids(small_disk / "data" / "earmark.db") == {before, after}
        log = daemon.log
        assert "Traceback" not in log, log[-4000:]
        assert log.count("position not saved") == 1
    finally:
        if filler is not None:
            filler.unlink()
        daemon.terminate()


def test_stopping_on_a_full_disk_is_clean(
    on_small_disk: Callable[[], Path], small_disk: Path, tmp_path: Path
) -> None:
    config = on_small_disk()
    daemon = Daemon(config, tmp_path / "daemon.log")
    try:
        daemon.wait_playing()
        saved = snip_id(snip(config))  # its clip job may be running when the disk fills
        fill(small_disk)
        assert snip(config).returncode != 0

        assert daemon.terminate() == 0
        assert "Traceback" not in daemon.log, daemon.log[-4000:]
        assert saved in highlight_ids(small_disk / "data" / "earmark.db")
    finally:
        daemon.terminate()


def refused_start(config: Path, line: str) -> str:
    """Start the daemon, see it refuse with ``line`` alone; its log."""
    log = config.parent / "refused.log"
    daemon = Daemon(config, log)
    assert daemon.process.wait(60) != 0
    daemon.terminate()
    said = daemon.log
    assert said.splitlines()[-1] == f"earmark: {line}", said[-4000:]
    assert "Traceback" not in said, said[-4000:]
    return said


def test_a_first_start_on_a_full_disk_is_one_line(
    on_small_disk: Callable[[], Path], small_disk: Path
) -> None:
    config = on_small_disk()
    fill(small_disk)
    data = small_disk / "data"
    refused_start(
        config,
        f"cannot open database {data / 'earmark.db'}: the disk holding it is full;"
        f" free some space in {data}",
    )


def test_a_start_on_a_full_disk_is_one_line_and_leaves_the_store_whole(
    on_small_disk: Callable[[], Path], small_disk: Path, tmp_path: Path
) -> None:
    """Stopped cleanly, the store has no -wal or -shm file, and SQLite cannot make
    them (it says 'disk I/O error')."""
    config = on_small_disk()
    first = Daemon(config, tmp_path / "first.log")
    first.wait_playing()
    saved = snip_id(snip(config))
    assert first.terminate() == 0
    filler = fill(small_disk)
    data = small_disk / "data"

    refused_start(
        config,
        f"cannot check database {data / 'earmark.db'}: the disk holding it is full;"
        f" free some space in {data}",
    )

    filler.unlink()  # reading it needs room for its -shm too
    assert saved in highlight_ids(data / "earmark.db")


def test_a_start_after_a_power_cut_on_a_full_disk_is_one_line(
    on_small_disk: Callable[[], Path], small_disk: Path, tmp_path: Path
) -> None:
    """Killed, the store keeps its -wal and -shm: it opens, and the first write
    at start (jobs left running go back in the queue) meets the full disk."""
    config = on_small_disk()
    first = Daemon(config, tmp_path / "first.log")
    first.wait_playing()
    saved = snip_id(snip(config))
    first.kill()
    filler = fill(small_disk)
    data = small_disk / "data"

    refused_start(config, f"the disk holding {data} is full; free some space there")

    filler.unlink()
    assert saved in highlight_ids(data / "earmark.db")
