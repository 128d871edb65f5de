"""Doctor's lines for a Pi: whether the clock is set (no real-time clock until
network time answers) and free memory against what the speaker needs. Each line
is ok, WARN or FAIL with what to do.

systemd-timedated does not run here: a stand-in ``timedatectl`` on PATH answers
as the real one does (``show --property=NTPSynchronized --value`` prints yes or
no), the only part of it doctor reads."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest


def _doctor_line(config: Path, name: str, path: str) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "earmark", "-c", str(config), "doctor"],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PATH": path},
    )
    return next(line for line in result.stdout.splitlines() if line.split()[1:2] == [name])


@pytest.mark.parametrize(
    ("answer", "code", "expected"),
    [
        ("yes", 0, "ok    clock    synchronised with network time"),
        ("no", 0, "WARN  clock    the clock is not synchronised with network time"),
        ("", 1, "WARN  clock    cannot tell whether the clock is synchronised"),
    ],
)
def test_the_clock_line_follows_what_timedatectl_says(
    write_config: Callable[..., Path], tmp_path: Path, answer: str, code: int, expected: str
) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    stand_in = bin_dir / "timedatectl"
    asked = "show --property=NTPSynchronized --value"
    stand_in.write_text(f"#!/bin/sh\n[ \"$*\" = '{asked}' ] && echo {answer}\nexit {code}\n")
    stand_in.chmod(0o755)
    line = _doctor_line(write_config(), "clock", f"{bin_dir}:{os.environ['PATH']}")
    assert line.startswith(expected), line


def test_the_memory_line_says_what_is_available_and_what_is_needed(
    write_config: Callable[..., Path],
) -> None:
    line = _doctor_line(write_config(), "memory", os.environ["PATH"])
    available = (
        int(
            next(
                x
                for x in Path("/proc/meminfo").read_text().splitlines()
                if x.startswith("MemAvailable")
            ).split()[1]
        )
        // 1024
    )
    assert "MB available of" in line and "the speaker needs about 450 MB" in line
    shown = int(line.split("MB available")[0].split()[-1].replace(",", ""))
    assert abs(shown - available) < 200  # the same reading, a moment apart
    assert line.startswith("ok") == (shown >= 450)
