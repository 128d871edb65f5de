"""Which file is read, and a file that cannot be read: one line and exit 2."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from earmark.config import load
from earmark.errors import ConfigError


def run_earmark(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "earmark", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **env},
    )


def test_a_file_that_is_not_utf8_is_refused_at_the_line_of_the_bad_byte(tmp_path: Path) -> None:
    path = tmp_path / "box.yaml"
    path.write_bytes(b"device_id: box\nplayer:\n  audio_device: caf\xe9\n")
    with pytest.raises(ConfigError) as caught:
        load(path)
    assert (caught.value.path, caught.value.line) == (str(path), 3)
    assert "UTF-8" in str(caught.value)


def test_config_check_of_a_file_that_is_not_utf8_is_one_line_with_exit_2(tmp_path: Path) -> None:
    path = tmp_path / "box.yaml"
    path.write_bytes(b"device_id: \xff\xfe\n")
    result = run_earmark("--config", str(path), "config", "check", env={})
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1
    assert f"{path}:1:" in result.stderr and "UTF-8" in result.stderr


def test_earmark_config_naming_a_missing_file_is_an_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    missing = tmp_path / "nowhere.yaml"
    monkeypatch.setenv("EARMARK_CONFIG", str(missing))
    with pytest.raises(ConfigError) as caught:
        load()
    assert caught.value.path == str(missing)
    assert "$EARMARK_CONFIG" in str(caught.value)


def test_earmark_config_names_the_file_that_is_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "box.yaml"
    path.write_text("device_id: named-by-env\n")
    monkeypatch.setenv("EARMARK_CONFIG", str(path))
    assert load().device_id == "named-by-env"


def test_config_check_with_earmark_config_missing_is_one_line_with_exit_2(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.yaml"
    result = run_earmark("config", "check", env={"EARMARK_CONFIG": str(missing)})
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"earmark: {missing}: file not found (named by $EARMARK_CONFIG); "
        "copy config/earmark.example.yaml there or unset $EARMARK_CONFIG"
    ]
