"""device_id and the MQTT prefixes become parts of topics: a character that would break
a topic is refused at its line."""

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
    ("text", "line", "key"),
    [
        ("device_id: kitchen+hall\n", 1, "device_id"),
        ("device_id: 'kitchen#1'\n", 1, "device_id"),
        ("device_id: kitchen/left\n", 1, "device_id"),
        ('device_id: "kitchen\\0"\n', 1, "device_id"),
        ("device_id: ''\n", 1, "device_id"),
        ("mqtt:\n  topic_prefix: home/+\n", 2, "mqtt.topic_prefix"),
        ("mqtt:\n  topic_prefix: '#'\n", 2, "mqtt.topic_prefix"),
        ("mqtt:\n  topic_prefix: ''\n", 2, "mqtt.topic_prefix"),
        ("mqtt:\n  topic_prefix: home//earmark\n", 2, "mqtt.topic_prefix"),
        ("mqtt:\n  topic_prefix: earmark/\n", 2, "mqtt.topic_prefix"),
        ('mqtt:\n  topic_prefix: "ear\\0mark"\n', 2, "mqtt.topic_prefix"),
        (
            "home_assistant:\n  discovery_prefix: home+assistant\n",
            2,
            "home_assistant.discovery_prefix",
        ),
    ],
)
def test_a_character_that_breaks_a_topic_is_refused_at_its_line(
    tmp_path: Path, text: str, line: int, key: str
) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        load(path)
    assert (caught.value.path, caught.value.line, caught.value.key) == (str(path), line, key)
    assert "\n" not in str(caught.value)


def test_a_prefix_of_several_levels_is_fine(tmp_path: Path) -> None:
    config = load(write(tmp_path, "device_id: kitchen-1\nmqtt:\n  topic_prefix: home/earmark\n"))
    assert (config.device_id, config.mqtt.topic_prefix) == ("kitchen-1", "home/earmark")
