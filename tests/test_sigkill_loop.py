"""SIGKILL at random moments, fifty times over: while the speaker starts
(migrations, the start-up backup), plays, saves snips and cuts and transcribes
them. After every kill the store passes SQLite's integrity check, every backup
on disk is a whole database, and every snip the speaker acknowledged is there;
the last start finds nothing to restore.

The moments come from a seeded generator (the seed is in the failure message):
every other start is killed at any moment up to the time one start takes to
its first acknowledged snip (measured in the same run), the others at such a
moment after their first snip was acknowledged, so a loaded machine shifts the
moments instead of the outcome.
"""

from __future__ import annotations

import contextlib
import random
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path

from earmark.control import request
from earmark.errors import EarmarkError
from earmark.store.safekeeping import backups

from .conftest import Episode
from .daemon_process import Daemon
from .support import wait_for

KILLS = 50


class Presser(threading.Thread):
    """The listener pressing the button again and again while the speaker runs;
    what the speaker answered with an id is acknowledged."""

    def __init__(self, socket_path: Path, duration: float, seed: int) -> None:
        super().__init__(daemon=True)
        self.socket_path = socket_path
        self.duration = duration
        self.positions = random.Random(seed)
        self.acknowledged: set[str] = set()
        self.stop = threading.Event()

    def wait_for_a_snip(self, what: str) -> None:
        wait_for(lambda: self.acknowledged, 120, 0.01, what)

    def run(self) -> None:
        while not self.stop.is_set():
            try:
                reply = request(self.socket_path, "snip", timeout=5)
            except (EarmarkError, OSError):
                reply = {}  # not up yet, nothing playing yet, or killed mid-answer
            if reply.get("ok") and reply.get("id"):
                self.acknowledged.add(reply["id"])
                # elsewhere in the episode, so that the next press is a new snip (and
                # never within player.played_near_end of its end, which finishes it)
                where = self.positions.uniform(0, self.duration - 40)
                with contextlib.suppress(EarmarkError, OSError):
                    request(self.socket_path, "seek", timeout=5, position=where)
            self.stop.wait(0.05)


def _check(database: Path) -> tuple[str, set[str]]:
    with sqlite3.connect(database, timeout=10) as conn:
        verdict = conn.execute("PRAGMA integrity_check").fetchone()[0]
        ids = {row[0] for row in conn.execute("SELECT id FROM highlights")}
    return verdict, ids


def _statuses(database: Path, ids: set[str]) -> set[str]:
    with sqlite3.connect(database, timeout=10) as conn:
        rows = conn.execute("SELECT id, status FROM highlights").fetchall()
    return {status for id_, status in rows if id_ in ids}


def _whole(backup: Path) -> str:
    with sqlite3.connect(f"file:{backup}?mode=ro", uri=True, timeout=10) as conn:
        return str(conn.execute("PRAGMA integrity_check").fetchone()[0])


def test_fifty_sigkills_leave_a_whole_store_and_every_acknowledged_snip(
    garden_config: Callable[..., Path], garden_episode: Episode, data_dir: Path, tmp_path: Path
) -> None:
    short = {"before": 3, "after": 2}  # windows far apart: each press a new snip
    config = garden_config({"transcription": {"lookahead": "off"}, "snip": short})
    database = data_dir / "earmark.db"
    socket_path = tmp_path / "earmark.sock"
    seed = random.randrange(1 << 30)
    moments = random.Random(seed)
    acknowledged: set[str] = set()

    # one undisturbed start measures the window: spawn to first acknowledged snip
    began = time.monotonic()
    first = Daemon(config, tmp_path / "measure.log")
    presser = Presser(socket_path, garden_episode.duration, seed)
    presser.start()
    try:
        presser.wait_for_a_snip("a first acknowledged snip")
        window = time.monotonic() - began
    finally:
        presser.stop.set()
        presser.join()
        acknowledged |= presser.acknowledged
        assert first.terminate() == 0, first.log[-3000:]

    for kill in range(KILLS):
        daemon = Daemon(config, tmp_path / f"kill-{kill}.log")
        presser = Presser(socket_path, garden_episode.duration, seed + kill)
        presser.start()
        try:
            if kill % 2:  # any moment of a start, up to its first snip
                time.sleep(moments.uniform(0, window))
            else:  # a moment after a snip was acknowledged: cutting, transcribing...
                presser.wait_for_a_snip(f"a snip in start {kill}")
                time.sleep(moments.uniform(0, window))
        finally:
            daemon.kill()
            presser.stop.set()
            presser.join()
        acknowledged |= presser.acknowledged
        where = f"kill {kill} (seed {seed}, window {window:.1f}s)"
        verdict, stored = _check(database)
        assert verdict == "ok", f"{where}: {verdict}"
        assert acknowledged <= stored, f"{where}: lost {acknowledged - stored}"
        for backup in backups(database):
            assert _whole(backup) == "ok", f"{where}: backup {backup.name} is not whole"

    # the last start restores nothing and finishes every snip the kills interrupted
    last = Daemon(config, tmp_path / "last.log")
    try:
        wait_for(
            lambda: _statuses(database, acknowledged) == {"done"},
            600,
            0.5,
            f"every acknowledged snip to be done (seed {seed})",
        )
    finally:
        assert last.terminate() == 0, last.log[-3000:]
    assert "STORE CORRUPT" not in last.log
