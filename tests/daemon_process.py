"""Run the real daemon as a subprocess, the way systemd does, and talk to it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
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
