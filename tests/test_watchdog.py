"""systemd's watchdog against the real daemon: the test is systemd here. It
hands the speaker a ``NOTIFY_SOCKET`` and a ``WATCHDOG_USEC`` and listens.

The pings come from the event loop, so the watchdog restarts a speaker whose
loop hangs, and leaves alone one that is busy transcribing on its worker
thread. The hang is a real one: journald stops reading the speaker's output
(a pipe shrunk to one page), the loop blocks in its next log line, the pings
stop, systemd sends SIGABRT as ``WatchdogSec=`` does, and the next start plays on
with every snip that was saved.
"""

from __future__ import annotations

import fcntl
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

from .daemon_process import Daemon, Systemd, earmark
from .support import wait_for

F_SETPIPE_SZ = 1031  # fcntl.h; Python 3.11's fcntl does not name it


class Journal:
    """journald reading the speaker's stdout through a one-page pipe, until it
    stops reading."""

    def __init__(self) -> None:
        self.read_end, self.write_end = os.pipe()
        fcntl.fcntl(self.write_end, F_SETPIPE_SZ, 4096)
        self.lines: list[str] = []
        self.reading = threading.Event()
        self.reading.set()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        with os.fdopen(self.read_end, "rb") as pipe:
            while True:
                self.reading.wait()
                line = pipe.readline()
                if not line:
                    return
                self.lines.append(line.decode(errors="replace"))


def _status(database: Path, highlight_id: str) -> str | None:
    with sqlite3.connect(database, timeout=5) as conn:
        row = conn.execute("SELECT status FROM highlights WHERE id = ?", (highlight_id,)).fetchone()
    return row[0] if row else None


def _late_command(socket_path: Path) -> bool:
    """A control command that arrives after its deadline: the loop drops it and
    logs one line. False when the loop no longer answers."""
    assert socket_path.exists()
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(2)
        try:
            s.connect(str(socket_path))
            s.sendall(json.dumps({"command": "status", "expires_at": 1}).encode() + b"\n")
            return bool(s.recv(4096))
        except (TimeoutError, OSError):
            return False


def test_a_hung_loop_stops_the_pings_and_the_watchdog_restarts_the_speaker(
    garden_config: Callable[..., Path], data_dir: Path, tmp_path: Path
) -> None:
    config = garden_config({"transcription": {"lookahead": "off"}})
    systemd = Systemd(tmp_path / "notify", watchdog_seconds=2.0)
    journal = Journal()
    process = subprocess.Popen(
        [sys.executable, "-m", "earmark", "-c", str(config), "run"],
        stdout=journal.write_end,
        stderr=subprocess.DEVNULL,  # faulthandler's dump on SIGABRT would block on the pipe too
        env={**systemd.environ(), "PYTHONUNBUFFERED": "1"},
    )
    os.close(journal.write_end)
    try:
        wait_for(systemd.ready, 60, 0.05, "READY=1")
        result = earmark(config, "snip")
        assert result.returncode == 0, result.stderr
        saved = result.stdout.split("id=")[1].split()[0]
        wait_for(lambda: len(systemd.pings()) >= 3, 30, 0.05, "watchdog pings")

        journal.reading.clear()  # journald stalls
        wait_for(
            lambda: not _late_command(tmp_path / "earmark.sock"),
            120,
            0,
            "the loop to block on its full output",
        )
        hung_at = time.monotonic()
        # systemd's view: no ping for WATCHDOG_USEC, and the process is still there
        wait_for(
            lambda: time.monotonic() - max(systemd.pings()) > systemd.watchdog_seconds,
            30,
            0.1,
            "the watchdog to run out",
        )
        time.sleep(systemd.watchdog_seconds)  # a ping now would have come by this time
        assert max(systemd.pings()) < hung_at, "a hung loop went on pinging"
        assert process.poll() is None, "the speaker died instead of hanging"
        process.send_signal(signal.SIGABRT)  # WatchdogSignal=
        try:
            process.wait(10)  # TimeoutAbortSec=, then SIGKILL
        except subprocess.TimeoutExpired:
            process.kill()
        assert process.wait(10) in (-signal.SIGABRT, -signal.SIGKILL)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        journal.reading.set()
        systemd.close()

    # Restart=on-failure: the speaker comes back playing, the snip is still there
    again = Daemon(config, tmp_path / "restarted.log")
    try:
        again.wait_playing()
        assert _status(data_dir / "earmark.db", saved) is not None
    finally:
        assert again.terminate() == 0, again.log[-3000:]


def test_a_busy_transcription_goes_on_pinging(
    garden_config: Callable[..., Path], data_dir: Path, tmp_path: Path
) -> None:
    config = garden_config({"transcription": {"lookahead": "off"}, "snip": {"before": 45}})
    systemd = Systemd(tmp_path / "notify", watchdog_seconds=3.0)
    daemon = Daemon(config, tmp_path / "daemon.log", environ=systemd.environ())
    try:
        daemon.wait_playing(min_position=0.5)
        assert earmark(config, "seek", "50").returncode == 0
        daemon.wait_playing(min_position=50)
        result = earmark(config, "snip")
        assert result.returncode == 0, result.stderr
        highlight_id = result.stdout.split("id=")[1].split()[0]
        wait_for(lambda: "whisper model loaded" in daemon.log, 60, 0.01, "the transcription")
        started = time.monotonic()

        wait_for(
            lambda: _status(data_dir / "earmark.db", highlight_id) == "done",
            180,
            0.2,
            "the snip to be transcribed",
        )
        finished = time.monotonic()
    finally:
        assert daemon.terminate() == 0, daemon.log[-3000:]
        systemd.close()
    pings = systemd.pings()
    during = [at for at in pings if started <= at <= finished]
    assert during, "no ping while the worker transcribed"
    gaps = [b - a for a, b in zip(pings, pings[1:], strict=False) if b >= started and a <= finished]
    assert max(gaps) < systemd.watchdog_seconds, gaps
