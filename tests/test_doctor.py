"""`earmark doctor`: one line per check (ok, WARN or FAIL and what to do), the
audio device really checked by mpv, and the basic checks failing as they should."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from earmark import doctor
from earmark.config import load

from .daemon_process import earmark


def test_doctor_names_an_audio_device_mpv_cannot_open(write_config: Callable[..., Path]) -> None:
    config = write_config({"player": {"audio_output": "auto", "audio_device": "alsa/nowhere"}})
    result = earmark(config, "doctor")
    assert result.returncode == 1
    line = next(x for x in result.stdout.splitlines() if x.split()[1:2] == ["audio"])
    assert line.startswith("FAIL") and "'alsa/nowhere' is not among the devices" in line


def test_doctor_accepts_a_device_mpv_lists(write_config: Callable[..., Path]) -> None:
    config = write_config({"player": {"audio_output": "null", "audio_device": "auto"}})
    result = earmark(config, "doctor")
    lines = {x.split()[1]: x for x in result.stdout.splitlines() if x[:4] in ("ok  ", "FAIL")}
    assert lines["audio"].startswith("ok")
    assert lines["mpv"].startswith("ok") and lines["model"].startswith("ok")


def test_doctor_says_which_model_path_is_wrong(
    write_config: Callable[..., Path], tmp_path: Path
) -> None:
    config = write_config({"transcription": {"model_path": str(tmp_path / "none")}})
    result = earmark(config, "doctor")
    assert result.returncode == 1
    assert "transcription.model_path" in result.stdout


def test_doctor_says_a_corrupt_takeaways_model_and_what_still_works(
    write_config: Callable[..., Path], tmp_path: Path
) -> None:
    corrupt = tmp_path / "model.onnx"
    corrupt.write_bytes(b"not an onnx graph")
    lines: list[str] = []
    doctor.run(load(write_config({"takeaways": {"model_path": str(corrupt)}})), lines.append)
    said = [line for line in lines if "takeaways" in line]
    assert len(said) == 1 and said[0].startswith("FAIL"), lines
    assert "cannot load the embedding model" in said[0] and "plain titles" in said[0]


def test_doctor_says_the_pinned_takeaways_model_loads(write_config: Callable[..., Path]) -> None:
    lines: list[str] = []
    doctor.run(load(write_config()), lines.append)
    assert any(line.startswith("ok") and "takeaways by minilm" in line for line in lines), lines


def _lines(stdout: str) -> dict[str, str]:
    """Each check's line by its name; every line is ok, WARN, FAIL or the one note."""
    lines = {}
    for line in stdout.splitlines():
        level, name = line.split()[:2]
        assert level in ("ok", "WARN", "FAIL", "note"), line
        lines[name] = line
    return lines


def test_every_check_says_one_line_and_the_box_here_passes_the_core_ones(
    write_config: Callable[..., Path],
) -> None:
    result = earmark(write_config(), "doctor", timeout=120)
    lines = _lines(result.stdout)
    expected = {"mpv", "earcon", "ffmpeg", "broker", "data", "store", "model", "takeaways"}
    expected |= {"exports", "clock", "memory", "audio", "inputs", "bluetooth"}
    assert expected <= set(lines), result.stdout
    assert re.match(r"ok +mpv +mpv \d+\.\d+", lines["mpv"]), lines["mpv"]
    assert lines["ffmpeg"].startswith("ok") and "ffprobe" in lines["ffmpeg"]
    assert re.search(r"ok +data .* writable, [\d,]+ MB free", lines["data"]), lines["data"]
    assert not result.stderr.strip(), result.stderr


def test_missing_ffmpeg_is_a_fail_that_says_what_to_install(
    write_config: Callable[..., Path], tmp_path: Path
) -> None:
    bare = tmp_path / "bin"  # a PATH with mpv and sox but no ffmpeg
    bare.mkdir()
    for tool in ("mpv", "sox", "mosquitto"):
        found = shutil.which(tool) or f"/usr/sbin/{tool}"
        (bare / tool).symlink_to(found)
    result = subprocess.run(
        [sys.executable, "-m", "earmark", "-c", str(write_config()), "doctor"],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PATH": str(bare)},
    )
    line = _lines(result.stdout)["ffmpeg"]
    assert line.startswith("FAIL") and "apt-get install ffmpeg" in line, line
    assert result.returncode == 1


def test_a_data_dir_that_cannot_be_written_fails_with_what_to_do(
    write_config: Callable[..., Path], tmp_path: Path
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    result = earmark(write_config({"data_dir": str(blocker / "data")}), "doctor", timeout=120)
    line = _lines(result.stdout)["data"]
    assert line.startswith("FAIL") and "not writable" in line and "set data_dir" in line, line


@pytest.mark.skipif(os.geteuid() != 0, reason="mounting a small disk needs root")
def test_a_data_dir_nearly_full_fails(write_config: Callable[..., Path], tmp_path: Path) -> None:
    disk = tmp_path / "disk"
    disk.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(disk)], check=True)
    try:
        result = earmark(write_config({"data_dir": str(disk)}), "doctor", timeout=120)
    finally:
        subprocess.run(["umount", "-l", str(disk)], check=True)
    line = _lines(result.stdout)["data"]
    assert line.startswith("FAIL") and "MB free; snips need room" in line, line
