"""``player.fallback_audio_device``: none by default, and a mistake in it refused
at its line, naming the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from earmark.config import load
from earmark.errors import ConfigError

BUDS = "AA:BB:CC:DD:EE:01"


def load_player(tmp_path: Path, *lines: str) -> Path:
    path = tmp_path / "box.yaml"
    path.write_text("device_id: box\nplayer:\n" + "".join(f"  {line}\n" for line in lines))
    return path


def test_no_fallback_by_default_so_playback_pauses_while_the_headset_is_away(
    tmp_path: Path,
) -> None:
    config = load(load_player(tmp_path, f"bluetooth_headset: {BUDS}"))
    assert config.player.fallback_audio_device is None


def test_a_fallback_with_a_headset_is_taken(tmp_path: Path) -> None:
    path = load_player(tmp_path, f"bluetooth_headset: {BUDS}", "fallback_audio_device: alsa/jack")
    assert load(path).player.fallback_audio_device == "alsa/jack"


@pytest.mark.parametrize(
    ("lines", "said"),
    [
        (("fallback_audio_device: alsa/jack",), "is used only with bluetooth_headset"),
        ((f"bluetooth_headset: {BUDS}", "fallback_audio_device: ''"), "is empty"),
        (
            (
                f"bluetooth_headset: {BUDS}",
                "audio_device: alsa/jack",
                "fallback_audio_device: alsa/jack",
            ),
            "is audio_device itself",
        ),
    ],
)
def test_a_fallback_that_cannot_work_is_refused_at_its_line(
    tmp_path: Path, lines: tuple[str, ...], said: str
) -> None:
    path = load_player(tmp_path, *lines)
    with pytest.raises(ConfigError, match=said) as caught:
        load(path)
    assert caught.value.key == "player.fallback_audio_device"
    assert caught.value.line == 2 + len(lines)  # the last line: the fallback's
    assert str(path) in str(caught.value)
