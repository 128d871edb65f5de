"""`earmark doctor`: one line per check, and the audio device really checked by mpv."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

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
