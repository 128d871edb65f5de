"""Run the real daemon as a subprocess, the way systemd does, and talk to it."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from .support import wait_for


def earmark(config: Path, *args: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    """Run one ``earmark`` CLI command and return what it did."""
    return subprocess.run(
        [sys.executable, "-m", "earmark", "-c", str(config), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
    )


class Daemon:
    def __init__(self, config: Path, log_path: Path, environ: dict[str, str] | None = None) -> None:
        self.config = config
        self.log_path = log_path
        self._log = log_path.open("ab")
        env = {**(os.environ if environ is None else environ), "PYTHONUNBUFFERED": "1"}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "earmark", "-c", str(config), "run"],
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env=env,
        )

    @property
    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def status(self) -> dict[str, Any] | None:
        result = earmark(self.config, "status", "--json", timeout=10)
        return json.loads(result.stdout) if result.returncode == 0 else None

    def player(self) -> dict[str, Any]:
        """The player part of ``status --json``; fails with the log's tail when the
        daemon does not answer."""
        status = self.status()
        assert status is not None, self.log[-3000:]
        return dict(status["player"])

    def wait_playing(self, timeout: float = 60, min_position: float = 0.0) -> dict[str, Any]:
        def playing() -> dict[str, Any] | None:
            assert self.process.poll() is None, f"daemon exited:\n{self.log[-3000:]}"
            status = self.status()
            player = (status or {}).get("player", {})
            if player.get("status") == "playing" and player.get("position", 0) >= min_position:
                return status
            return None

        return wait_for(playing, timeout, 0.2, "the daemon to play")

    def terminate(self, timeout: float = 60) -> int:
        """SIGTERM, then the exit code; SIGKILL (-9) only if it has not stopped by
        itself in ``timeout`` (its own waits are bounded far below that, even on a
        machine as loaded as the suite's stress runs)."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log.close()
        return int(self.process.returncode)

    def kill(self) -> None:
        self.process.kill()
        self.process.wait()
        self._log.close()


class Systemd:
    """The notify socket systemd would give, and what arrives on it, with when."""

    def __init__(self, path: Path, watchdog_seconds: float) -> None:
        self.path = path
        self.watchdog_seconds = watchdog_seconds
        self.received: list[tuple[float, str]] = []
        self._socket = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self._socket.bind(str(path))
        self._socket.settimeout(0.2)
        self._open = True
        threading.Thread(target=self._listen, daemon=True).start()

    def environ(self) -> dict[str, str]:
        usec = str(int(self.watchdog_seconds * 1e6))
        return {**os.environ, "NOTIFY_SOCKET": str(self.path), "WATCHDOG_USEC": usec}

    def _listen(self) -> None:
        while self._open:
            try:
                message = self._socket.recv(4096).decode()
            except TimeoutError:
                continue
            except OSError:
                return
            self.received.append((time.monotonic(), message))

    def pings(self) -> list[float]:
        return [at for at, message in list(self.received) if message == "WATCHDOG=1"]

    def ready(self) -> bool:
        return any(m.startswith("READY=1") for _, m in list(self.received))

    def close(self) -> None:
        self._open = False
        self._socket.close()
