"""Exports as the running speaker does them, against a local server that keeps
Readwise's documented contract: a refused token parks the target with one line
until it changes, a 429 waits what was asked, and SIGKILL at any moment still
leaves exactly one Readwise highlight per snip."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from earmark import config as config_module
from earmark.store.database import Database
from earmark.store.highlights import DONE, PENDING, Highlight, HighlightBook
from earmark.sync.broker import LocalBroker, free_port

from ..daemon_process import Daemon, earmark
from ..support import MqttListener, wait_for
from .readwise_server import ReadwiseServer

TOKEN = "rw-test-token"


@pytest.fixture
def readwise() -> Iterator[ReadwiseServer]:
    with ReadwiseServer(TOKEN) as server:
        yield server


def _seed(config: Path, count: int) -> list[str]:
    """``count`` done highlights in the speaker's store, as a crash leaves them:
    done, never exported."""
    db = Database(config_module.load(config).database_path)
    book = HighlightBook(db, "testbox")
    ids = []
    for n in range(count):
        h = book.add(
            Highlight(
                id=Highlight.new_id(),
                status=PENDING,
                pressed_at=f"2026-11-26T10:{n // 60:02d}:{n % 60:02d}Z",
                press_position=40.0 + n,
                start=10.0 + n,
                end=50.0 + n,
                podcast_title="The Slow Garden",
                episode_title="Compost",
                source_url="http://127.0.0.1/garden.mp3",
            )
        )
        book.update(h.id, status=DONE, title=f"Snip {n}", quote=f"Words of snip {n}.")
        ids.append(h.id)
    db.close()
    return ids


def _config(
    write_config: Callable[..., Path],
    readwise: ReadwiseServer,
    token: str,
    broker: LocalBroker | None = None,
) -> Path:
    mqtt = {"host": "127.0.0.1", "port": broker.port} if broker else {"local_port": free_port()}
    return write_config(
        {
            "mqtt": mqtt,
            "jobs": {"backoff_seconds": 0.2},
            "exports": {"readwise": {"token": token, "base_url": readwise.url}},
        }
    )


def _exported(readwise: ReadwiseServer) -> list[str]:
    with readwise._lock:
        return sorted(h["highlight_url"] for h in readwise.highlights.values())


def test_a_refused_token_parks_readwise_until_the_token_changes(
    write_config: Callable[..., Path], readwise: ReadwiseServer, tmp_path: Path
) -> None:
    config = _config(write_config, readwise, "not-the-token")
    ids = _seed(config, 3)
    daemon = Daemon(config, tmp_path / "wrong.log")
    try:
        wait_for(lambda: "export to readwise parked" in daemon.log, 60, 0.1, "the parking")
        assert earmark(config, "status").returncode == 0
    finally:
        daemon.terminate()
    assert daemon.log.count("export to readwise parked") == 1  # one line, no hot retries
    assert len(readwise.seen("POST", "/api/v2/highlights/")) == 1
    assert "not-the-token" not in daemon.log
    # the same wrong token next start: still parked, still nothing sent
    again = Daemon(config, tmp_path / "again.log")
    try:
        wait_for(lambda: "export to readwise is parked" in again.log, 60, 0.1, "the reminder")
    finally:
        again.terminate()
    assert len(readwise.seen("POST", "/api/v2/highlights/")) == 1
    fixed = _config(write_config, readwise, TOKEN)
    daemon = Daemon(fixed, tmp_path / "fixed.log")
    try:
        assert "runs again" in wait_for(
            lambda: daemon.log if "export to readwise runs again" in daemon.log else None,
            60,
            0.1,
            "the unparking",
        )
        wait_for(lambda: len(_exported(readwise)) == 3, 60, 0.1, "three Readwise highlights")
    finally:
        daemon.terminate()
    assert _exported(readwise) == sorted(f"https://earmark.invalid/highlights/{i}" for i in ids)


def test_a_parked_target_and_a_paused_player_reach_a_broker_that_comes_up_late(
    write_config: Callable[..., Path], readwise: ReadwiseServer, garden_feed: str, tmp_path: Path
) -> None:
    """Both retained messages are published before the first connection (the
    broker is not up yet, as after a power cut that started the Pi first); they
    are sent on connecting, not only at their next change (days away for a
    parked target or a paused player)."""
    port = free_port()
    config = write_config(
        {
            "mqtt": {"host": "127.0.0.1", "port": port},
            "library": {"demo": False, "feeds": [garden_feed]},
            "exports": {"readwise": {"token": "not-the-token", "base_url": readwise.url}},
        }
    )
    _seed(config, 1)
    daemon = Daemon(config, tmp_path / "daemon.log")
    broker = LocalBroker(port)
    try:
        wait_for(lambda: "export to readwise parked" in daemon.log, 60, 0.1, "the parking")
        daemon.wait_playing()
        assert earmark(config, "pause").returncode == 0
        wait_for(lambda: daemon.player()["status"] == "paused", 30, 0.1, "the pause")
        broker.start()
        listener = MqttListener(port, "earmark/+/+")
        try:
            exports = wait_for(
                lambda: listener.payloads("/exports"), 60, 0.1, "the exports message"
            )
            [target] = exports[-1]["targets"]
            assert (target["target"], target["items"]) == ("readwise", 0)
            assert target["parked"].startswith("Readwise refused the token")
            state = wait_for(lambda: listener.payloads("/state"), 60, 0.1, "the state message")
            assert state[-1]["status"] == "paused"
        finally:
            listener.close()
    finally:
        daemon.terminate()
        broker.close()


def test_a_429_waits_what_readwise_asked_then_exports(
    write_config: Callable[..., Path], readwise: ReadwiseServer, tmp_path: Path
) -> None:
    config = _config(write_config, readwise, TOKEN)
    _seed(config, 1)
    readwise.fail(429, retry_after="2")
    readwise.fail(500)
    daemon = Daemon(config, tmp_path / "daemon.log")
    try:
        wait_for(lambda: len(_exported(readwise)) == 1, 60, 0.1, "the export")
    finally:
        daemon.terminate()
    assert "asks to slow down (HTTP 429); again in 2 s" in daemon.log
    assert "failed (HTTP 500)" in daemon.log


def test_sigkill_at_random_moments_leaves_one_readwise_highlight_per_snip(
    write_config: Callable[..., Path], readwise: ReadwiseServer, tmp_path: Path
) -> None:
    config = _config(write_config, readwise, TOKEN)
    ids = _seed(config, 12)
    shuffle = random.Random(7)
    for round_ in range(6):
        for _ in range(2):
            readwise.slow(shuffle.uniform(0.05, 0.4))  # answers late: a kill lands mid-export
        daemon = Daemon(config, tmp_path / f"round{round_}.log")
        try:
            before = len(readwise.requests)
            wait_for(
                lambda seen=before: len(readwise.requests) > seen, 60, 0.02, "an export under way"
            )
        finally:
            daemon.process.send_signal(signal.SIGKILL)
            daemon.kill()
    daemon = Daemon(config, tmp_path / "last.log")
    try:
        wait_for(lambda: len(_exported(readwise)) == len(ids), 120, 0.1, "every export")
        wait_for(lambda: _done(config, ids), 60, 0.1, "every export recorded")
    finally:
        daemon.terminate()
    assert _exported(readwise) == sorted(f"https://earmark.invalid/highlights/{i}" for i in ids)
    assert _done(config, ids)


def _done(config: Path, ids: list[str]) -> bool:
    db = Database(config_module.load(config).database_path, read_only=True)
    try:
        rows = db.query("SELECT highlight_id FROM exports WHERE target = 'readwise'")
        return sorted(r[0] for r in rows) == sorted(ids)
    finally:
        db.close()


def test_a_config_with_a_token_for_everyone_to_read_is_refused_under_systemd(
    write_config: Callable[..., Path], readwise: ReadwiseServer, tmp_path: Path
) -> None:
    config = _config(write_config, readwise, TOKEN)
    config.chmod(0o644)
    check = earmark(config, "config", "check")
    assert check.returncode == 0 and "exports.readwise.token" in check.stderr
    assert "chmod 600" in check.stderr and TOKEN not in check.stderr + check.stdout
    under_systemd = subprocess.run(
        [sys.executable, "-m", "earmark", "-c", str(config), "run"],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "INVOCATION_ID": "0123456789abcdef"},
    )
    assert under_systemd.returncode == 2
    assert "every user can read it" in under_systemd.stderr and TOKEN not in under_systemd.stderr
    config.chmod(0o600)
    assert "warning" not in earmark(config, "config", "check").stderr


def test_doctor_and_status_say_which_target_is_parked_and_why(
    write_config: Callable[..., Path], readwise: ReadwiseServer, tmp_path: Path
) -> None:
    wrong = _config(write_config, readwise, "not-the-token")
    _seed(wrong, 1)
    doctor = earmark(wrong, "doctor", timeout=120)
    line = next(x for x in doctor.stdout.splitlines() if "exports" in x)
    assert line.startswith("FAIL") and "refused the token (HTTP 401)" in line
    daemon = Daemon(wrong, tmp_path / "daemon.log")
    try:
        wait_for(lambda: "export to readwise parked" in daemon.log, 60, 0.1, "the parking")
        status = earmark(wrong, "status").stdout
        assert "export:     readwise holds 0  PARKED: Readwise refused the token" in status
    finally:
        daemon.terminate()
    doctor = earmark(wrong, "doctor", timeout=120)
    assert "readwise is parked" in doctor.stdout
    right = _config(write_config, readwise, TOKEN)
    doctor = earmark(right, "doctor", timeout=120)
    line = next(x for x in doctor.stdout.splitlines() if "exports" in x)
    assert line.startswith("ok") and "Readwise accepts the token" in line
    assert "the next start runs it" in line
