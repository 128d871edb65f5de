"""The walking skeleton, end to end on real parts: the daemon as a subprocess
with real mpv, mosquitto, ffmpeg and faster-whisper; a snip from the CLI; the
transcribed highlight on MQTT."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from earmark.payloads import HighlightPayload
from earmark.store.catalog import Catalog
from earmark.store.database import Database
from earmark.sync.broker import LocalBroker

from .conftest import Episode
from .daemon_process import Daemon, earmark
from .support import MqttListener, wait_for, word_error_rate


@pytest.fixture
def daemon_config(write_config: Callable[..., Path], broker: LocalBroker, garden_feed: str) -> Path:
    return write_config(
        {
            "mqtt": {"host": "127.0.0.1", "port": broker.port},
            "library": {"demo": False, "feeds": [garden_feed]},
            # a window of several sentences, so one misheard word does not decide the test
            "snip": {"before": 30, "after": 10},
        }
    )


def done_highlights(listener: MqttListener) -> list[HighlightPayload]:
    return [
        HighlightPayload.from_json(m.payload)
        for m in listener.messages
        if m.topic.endswith("/highlight") and HighlightPayload.from_json(m.payload).status == "done"
    ]


def test_snip_travels_from_cli_to_mqtt_with_the_spoken_words(
    daemon_config: Path, mqtt_listener: MqttListener, garden_episode: Episode, tmp_path: Path
) -> None:
    daemon = Daemon(daemon_config, tmp_path / "daemon.log")
    try:
        daemon.wait_playing()
        assert earmark(daemon_config, "seek", "30").returncode == 0
        daemon.wait_playing(min_position=30)
        result = earmark(daemon_config, "snip")
        assert result.returncode == 0, result.stderr
        assert "snip saved" in result.stdout

        done = wait_for(lambda: done_highlights(mqtt_listener), 120, 0.2, "a done highlight")
        highlight = done[0]
        assert highlight.schema == 1 and highlight.episode == "Compost"
        # the window, moved to whole sentences, still holds the moment of the press
        assert highlight.start <= 30 <= highlight.end
        expected = garden_episode.audio.words_between(highlight.start, highlight.end)
        assert expected, "the window holds whole sentences"
        wer = word_error_rate(expected, highlight.transcript or "")
        assert wer <= 0.15, (wer, expected, highlight.transcript)
        statuses = [
            HighlightPayload.from_json(m.payload).status
            for m in mqtt_listener.messages
            if m.topic.endswith("/highlight")
        ]
        assert statuses[:4] == ["pending", "clipped", "transcribed", "done"]
        wait_for(
            lambda: any(m.topic.endswith(f"/clip/{highlight.id}") for m in mqtt_listener.messages),
            10,
            what="the clip",
        )
    finally:
        code = daemon.terminate()
    # it stopped by itself on SIGTERM (not killed), and said goodbye on MQTT
    assert code == 0, daemon.log[-2000:]
    status = [m.payload for m in mqtt_listener.messages if m.topic.endswith("/status")]
    assert status[-1] == b"offline"


def test_sigterm_saves_the_position_and_it_resumes_there(
    daemon_config: Path, tmp_path: Path, data_dir: Path
) -> None:
    daemon = Daemon(daemon_config, tmp_path / "daemon.log")
    try:
        daemon.wait_playing()
        earmark(daemon_config, "seek", "25")
        daemon.wait_playing(min_position=25)
    finally:
        assert daemon.terminate() == 0
    catalog = Catalog(Database(data_dir / "earmark.db"))
    episode = catalog.episodes()[0]
    assert catalog.position(episode.id) >= 25

    again = Daemon(daemon_config, tmp_path / "daemon2.log")
    try:
        status = again.wait_playing()
        assert status["player"]["position"] >= 24
    finally:
        again.terminate()
