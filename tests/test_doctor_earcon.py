"""`earmark doctor` plays a real earcon through the configured output with mpv,
names what mpv said when it cannot, and never plays over the listener."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from earmark.config import load
from earmark.errors import EarmarkError
from earmark.player.earcons import play_once

from .daemon_process import Daemon, earmark
from .support import wait_for


def _earcon_line(stdout: str) -> str:
    lines = [x for x in stdout.splitlines() if x.split()[1:2] == ["earcon"]]
    assert len(lines) == 1, stdout
    return lines[0]


def test_doctor_plays_an_earcon_through_the_configured_output(
    write_config: Callable[..., Path],
) -> None:
    result = earmark(write_config({"player": {"audio_output": "null"}}), "doctor")
    line = _earcon_line(result.stdout)
    assert line.startswith("ok"), line
    assert "played the snip-saved earcon through audio output null" in line
    assert "AO: [null]" in line  # mpv's own word for what it opened


def test_doctor_fails_with_mpvs_words_on_a_device_it_cannot_open(
    write_config: Callable[..., Path],
) -> None:
    config = write_config({"player": {"audio_output": "alsa", "audio_device": "alsa/nosuch"}})
    result = earmark(config, "doctor")
    assert result.returncode == 1
    line = _earcon_line(result.stdout)
    assert line.startswith("FAIL"), line
    assert "through audio output alsa device alsa/nosuch" in line
    assert "[ao/alsa] Playback open error" in line  # what mpv said
    assert "check player.audio_device" in line  # what to do
    assert "Traceback" not in result.stdout + result.stderr


def test_an_output_that_does_not_finish_in_time_is_killed_and_named(
    write_config: Callable[..., Path],
) -> None:
    player = load(write_config({"player": {"audio_output": "null"}})).player
    with pytest.raises(EarmarkError, match=r"after 0\.01 s \(killed\): the output hangs"):
        play_once(player, timeout=0.01)  # mpv cannot even start in that time


def test_doctor_does_not_play_over_the_listener(garden_daemon: Daemon) -> None:
    result = earmark(garden_daemon.config, "doctor")
    line = _earcon_line(result.stdout)
    assert line.startswith("ok") and "not played: the speaker is playing" in line, line
    assert garden_daemon.status()["player"]["status"] == "playing"  # type: ignore[index]


def test_doctor_plays_the_earcon_while_the_speaker_is_paused(garden_daemon: Daemon) -> None:
    assert earmark(garden_daemon.config, "pause").returncode == 0

    def paused() -> bool:
        status = garden_daemon.status()
        return status is not None and status["player"]["status"] == "paused"

    wait_for(paused, 30, 0.1, "the speaker to pause")
    line = _earcon_line(earmark(garden_daemon.config, "doctor").stdout)
    assert line.startswith("ok") and "played the snip-saved earcon" in line, line
