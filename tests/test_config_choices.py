"""Choice options are enums: a typo names file, line, key and the allowed values, and
YAML 1.1's unquoted off/no/on/yes keep the word the listener wrote."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from earmark.config import load
from earmark.config.choices import AudioOutput, LogLevel, Lookahead
from earmark.config.model import PlayerConfig
from earmark.errors import ConfigError


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "box.yaml"
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    ("text", "line", "key", "allowed"),
    [
        ("device_id: box\nlog_level: loud\n", 2, "log_level", "debug, info, warning, error"),
        ("player:\n  audio_output: alsaa\n", 2, "player.audio_output", "auto, null, alsa"),
        ("transcription:\n  backend: whisper\n", 2, "transcription.backend", "faster-whisper"),
        ("transcription:\n  compute_type: int4\n", 2, "transcription.compute_type", "int8"),
        ("transcription:\n  lookahead: later\n", 2, "transcription.lookahead", "ahead, behind"),
        ("inputs:\n  gpio: pigpio\n", 2, "inputs.gpio", "gpio, mock, none"),
    ],
)
def test_a_typo_in_a_choice_names_line_key_and_the_allowed_values(
    tmp_path: Path, text: str, line: int, key: str, allowed: str
) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        load(path)
    assert (caught.value.line, caught.value.key) == (line, key)
    assert str(caught.value).startswith(f"{path}:{line}: key '{key}': ")
    assert allowed in str(caught.value)


def test_choices_are_enums_that_still_equal_their_names(tmp_path: Path) -> None:
    config = load(write(tmp_path, "transcription:\n  lookahead: behind\n"))
    assert config.transcription.lookahead is Lookahead.BEHIND
    assert config.transcription.lookahead == "behind"
    assert config.player.audio_output is AudioOutput.AUTO


def test_unquoted_off_means_the_off_choice(tmp_path: Path) -> None:
    config = load(write(tmp_path, "transcription:\n  lookahead: off\n"))
    assert config.transcription.lookahead is Lookahead.OFF


def test_a_yaml_boolean_word_that_is_no_choice_is_shown_as_written(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load(write(tmp_path, "inputs:\n  gpio: off\n"))
    assert "'off' is not one of: gpio, mock, none" in str(caught.value)


def test_unquoted_no_as_a_language_stays_the_word_no(tmp_path: Path) -> None:
    config = load(write(tmp_path, "transcription:\n  language: no\n"))
    assert config.transcription.language == "no"


def test_log_level_ignores_case(tmp_path: Path) -> None:
    assert load(write(tmp_path, "log_level: WARNING\n")).log_level is LogLevel.WARNING


def test_a_choice_given_in_python_is_checked_and_becomes_the_enum() -> None:
    assert PlayerConfig(audio_output="null").audio_output is AudioOutput.NULL
    with pytest.raises(ValueError, match="'alsaa' is not one of"):
        PlayerConfig(audio_output="alsaa")


def test_config_check_refuses_a_typo_in_one_line_with_exit_2(tmp_path: Path) -> None:
    path = write(tmp_path, "player:\n  audio_output: alsaa\n")
    result = subprocess.run(
        [sys.executable, "-m", "earmark", "--config", str(path), "config", "check"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"earmark: {path}:2: key 'player.audio_output': 'alsaa' is not one of: "
        "auto, null, alsa, pulse, pipewire"
    ]
