"""Numbers outside what makes sense are refused at their line, naming the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from earmark.config import load
from earmark.errors import ConfigError


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "box.yaml"
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    ("section", "option", "value"),
    [
        ("mqtt", "port", "70000"),
        ("mqtt", "port", "0"),
        ("mqtt", "local_port", "-1"),
        ("mqtt", "keepalive", "0"),
        ("player", "volume", "101"),
        ("player", "volume", "-5"),
        ("player", "speed", "5"),
        ("player", "speed", "0.1"),
        ("player", "speed", ".nan"),
        ("player", "skip_back", "-15"),
        ("player", "skip_forward", "-1"),
        ("player", "position_save_interval", "0"),
        ("player", "played_near_end", "-30"),
        ("player", "skip_forward", ".inf"),
        ("library", "refresh_minutes", "0"),
        ("snip", "before", "-5"),
        ("snip", "after", "-1"),
        ("transcription", "cpu_threads", "0"),
        ("transcription", "beam_size", "0"),
        ("jobs", "max_attempts", "0"),
        ("jobs", "backoff_seconds", "-1"),
    ],
)
def test_a_number_out_of_range_is_refused_at_its_line(
    tmp_path: Path, section: str, option: str, value: str
) -> None:
    path = write(tmp_path, f"device_id: box\n{section}:\n  {option}: {value}\n")
    with pytest.raises(ConfigError) as caught:
        load(path)
    assert (caught.value.line, caught.value.key) == (3, f"{section}.{option}")
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize(
    ("section", "option"),
    [("wyoming", "port"), ("wyoming", "timeout"), ("openai", "timeout")],
)
def test_a_transcription_server_number_out_of_range_is_refused(
    tmp_path: Path, section: str, option: str
) -> None:
    path = write(tmp_path, f"transcription:\n  {section}:\n    {option}: 0\n")
    with pytest.raises(ConfigError) as caught:
        load(path)
    assert (caught.value.line, caught.value.key) == (3, f"transcription.{section}.{option}")


def test_the_port_message_says_the_allowed_range(tmp_path: Path) -> None:
    path = write(tmp_path, "mqtt:\n  port: 70000\n")
    with pytest.raises(ConfigError, match="between 1 and 65535"):
        load(path)


def test_the_edges_of_each_range_are_allowed(tmp_path: Path) -> None:
    text = (
        "mqtt: {port: 65535, local_port: 1, keepalive: 1}\n"
        "player: {volume: 0, speed: 3.0, skip_back: 0}\n"
        "jobs: {backoff_seconds: 0}\n"
    )
    config = load(write(tmp_path, text))
    assert (config.mqtt.port, config.player.volume, config.player.speed) == (65535, 0.0, 3.0)
    assert load(write(tmp_path, "player: {volume: 100, speed: 0.5}\n")).player.speed == 0.5


@pytest.mark.parametrize(
    ("text", "line", "key"),
    [
        ("inputs:\n  buttons:\n    - pin: -1\n", 3, "inputs.buttons[0].pin"),
        ("inputs:\n  led:\n    pin: 40\n", 3, "inputs.led.pin"),
        ("inputs:\n  led:\n    brightness: 2\n", 3, "inputs.led.brightness"),
        ("inputs:\n  headphones:\n    flood_limit: 1\n", 3, "inputs.headphones.flood_limit"),
    ],
)
def test_an_input_number_out_of_range_is_refused_at_its_line(
    tmp_path: Path, text: str, line: int, key: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        load(write(tmp_path, text))
    assert (caught.value.line, caught.value.key) == (line, key)
