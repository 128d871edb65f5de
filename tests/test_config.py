"""The configuration file: defaults, the example, and mistakes named precisely."""

from __future__ import annotations

from pathlib import Path

import pytest

from earmark.config import Config, load_file, load_text
from earmark.errors import ConfigError

EXAMPLE = Path(__file__).parent.parent / "config" / "earmark.example.yaml"


def test_example_config_loads_and_matches_the_defaults() -> None:
    example = load_file(EXAMPLE, Config)
    defaults = Config()
    assert example.mqtt == defaults.mqtt
    assert example.player == defaults.player
    assert example.snip == defaults.snip
    assert example.transcription == defaults.transcription
    assert example.jobs == defaults.jobs
    assert example.inputs == defaults.inputs


def test_empty_file_means_defaults() -> None:
    assert load_text("", Config).snip.before == 45.0


@pytest.mark.parametrize(
    ("text", "line", "key", "message"),
    [
        ("snip:\n  before: 10\n  afterr: 3\n", 3, "snip.afterr", "unknown option"),
        ("player:\n  speed: fast\n", 2, "player.speed", "expected a number"),
        ("library:\n  feeds: http://x\n", 2, "library.feeds", "expected a list"),
        ("mqtt: 5\n", 1, "mqtt", "expected a mapping"),
        ("player:\n  autoplay: 'yes'\n", 2, "player.autoplay", "expected true or false"),
    ],
)
def test_mistakes_name_file_line_and_key(text: str, line: int, key: str, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_text(text, Config, "box.yaml")
    error = caught.value
    assert (error.path, error.line, error.key) == ("box.yaml", line, key)
    assert message in str(error)
    assert str(error).startswith(f"box.yaml:{line}: key '{key}':")


def test_a_snip_window_of_nothing_is_refused() -> None:
    with pytest.raises(ConfigError, match="snip.before and snip.after must not both be 0"):
        load_text("snip:\n  before: 0\n  after: 0\n", Config, "box.yaml")
