"""`earmark inputs --watch` runs until Ctrl-C and leaves cleanly."""

from __future__ import annotations

import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from .support import wait_for


def test_inputs_watch_says_what_it_watches_and_stops_on_ctrl_c(
    write_config: Callable[..., Path], tmp_path: Path
) -> None:
    out = tmp_path / "watch.txt"
    with out.open("wb") as sink:
        watch = subprocess.Popen(
            [sys.executable, "-m", "earmark", "-c", str(write_config()), "inputs", "--watch"],
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
        try:
            wait_for(lambda: "watching" in out.read_text(), 20, 0.1, "the watch to start")
            watch.send_signal(signal.SIGINT)
            assert watch.wait(10) == 0
        finally:
            if watch.poll() is None:
                watch.kill()
    assert "Traceback" not in out.read_text()
