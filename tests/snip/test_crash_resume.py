"""A crash in the middle of a transcription loses nothing and repeats nothing
that was committed: the real daemon, SIGKILLed while faster-whisper runs, is
started again and the highlight ends done exactly once."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

from earmark.payloads import HighlightPayload
from earmark.sync.broker import LocalBroker

from ..daemon_process import Daemon, earmark
from ..support import MqttListener, wait_for


def _job_status(database: Path, highlight_id: str, kind: str) -> str | None:
    with sqlite3.connect(database, timeout=5) as conn:
        row = conn.execute(
            "SELECT status FROM jobs WHERE highlight_id = ? AND kind = ?", (highlight_id, kind)
        ).fetchone()
    return row[0] if row else None


def test_snip_killed_mid_transcription_ends_done_exactly_once(
    write_config: Callable[..., Path],
    broker: LocalBroker,
    mqtt_listener: MqttListener,
    garden_feed: str,
    data_dir: Path,
    tmp_path: Path,
) -> None:
    config = write_config(
        {
            "mqtt": {"host": "127.0.0.1", "port": broker.port},
            "library": {"demo": False, "feeds": [garden_feed]},
            # a long window, so the transcription lasts long enough to be killed in
            "snip": {"before": 45, "after": 15},
            "transcription": {"lookahead": "off"},
        }
    )
    database = data_dir / "earmark.db"
    daemon = Daemon(config, tmp_path / "first.log")
    try:
        daemon.wait_playing()
        assert earmark(config, "seek", "48").returncode == 0
        daemon.wait_playing(min_position=48)
        result = earmark(config, "snip")
        assert result.returncode == 0, result.stderr
        highlight_id = result.stdout.split("id=")[1].split()[0]
        # with nothing stored, a local episode's words are heard in the transcribe job
        wait_for(
            lambda: "whisper model loaded" in daemon.log,
            60,
            0.005,
            "the transcription to start",
        )
    finally:
        daemon.kill()
    assert _job_status(database, highlight_id, "transcribe") == "running", "killed too late"

    again = Daemon(config, tmp_path / "second.log")
    try:

        def done() -> list[HighlightPayload]:
            return [
                p
                for p in (
                    HighlightPayload.from_json(m.payload)
                    for m in list(mqtt_listener.messages)
                    if m.topic.endswith("/highlight")
                )
                if p.id == highlight_id and p.status == "done"
            ]

        finished = wait_for(done, 120, 0.1, "the resumed highlight on MQTT")
        wait_for(lambda: (again.status() or {}).get("outbox_pending") == 0, 30, 0.2, "the outbox")
    finally:
        assert again.terminate() == 0, again.log[-2000:]
    assert "jobs resumed count=1" in again.log
    assert len(done()) == 1, [p.version for p in done()]
    assert finished[0].transcript and finished[0].transcript_source == "faster-whisper"
    with sqlite3.connect(database) as conn:
        statuses = conn.execute(
            "SELECT status FROM highlights WHERE id = ?", (highlight_id,)
        ).fetchall()
        jobs = conn.execute(
            "SELECT kind, status FROM jobs WHERE highlight_id = ? ORDER BY id", (highlight_id,)
        ).fetchall()
    assert statuses == [("done",)]
    assert jobs == [("clip", "done"), ("transcribe", "done"), ("takeaways", "done")]
