"""What the foundation must survive: broken config, a missing model, ports in
use, a broker that is down, commands with no daemon."""

from __future__ import annotations

import socket
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest

from earmark.errors import StoreError
from earmark.payloads import HighlightPayload
from earmark.store.database import Database
from earmark.sync.broker import LocalBroker, free_port

from .daemon_process import Daemon, earmark
from .support import MqttListener, wait_for


def test_malformed_yaml_names_file_and_line(tmp_path: Path) -> None:
    config = tmp_path / "broken.yaml"
    config.write_text("device_id: box\nsnip:\n  before: [45\n")
    result = earmark(config, "config", "check")
    assert result.returncode == 2
    assert f"{config}:" in result.stderr and "malformed YAML" in result.stderr
    assert "Traceback" not in result.stderr


def test_unknown_key_names_file_line_and_key(tmp_path: Path) -> None:
    config = tmp_path / "earmark.yaml"
    config.write_text("device_id: box\nsnip:\n  befor: 45\n")
    result = earmark(config, "run")
    assert result.returncode == 2
    assert f"{config}:3: key 'snip.befor': unknown option" in result.stderr


def test_wrong_type_names_the_key(tmp_path: Path) -> None:
    config = tmp_path / "earmark.yaml"
    config.write_text("mqtt:\n  port: lots\n")
    result = earmark(config, "config", "check")
    assert result.returncode == 2
    assert "key 'mqtt.port': expected a whole number" in result.stderr


def test_missing_config_file_is_one_line(tmp_path: Path) -> None:
    result = earmark(tmp_path / "nope.yaml", "config", "check")
    assert result.returncode == 2
    assert "nope.yaml: file not found" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_missing_model_path_is_named_by_config_check(tmp_path: Path) -> None:
    config = tmp_path / "earmark.yaml"
    config.write_text(
        f"data_dir: {tmp_path}/data\ntranscription:\n  model_path: {tmp_path}/no-model\n"
    )
    result = earmark(config, "config", "check")
    assert result.returncode == 2
    assert f"{config}:3: key 'transcription.model_path'" in result.stderr


def test_snip_with_no_daemon_says_so(write_config: Callable[..., Path]) -> None:
    result = earmark(write_config(), "snip")
    assert result.returncode == 3
    assert "earmark is not running" in result.stderr and "earmark run" in result.stderr


def test_database_from_a_newer_earmark_is_refused_untouched(tmp_path: Path) -> None:
    path = tmp_path / "earmark.db"
    Database(path).close()
    with sqlite3.connect(path) as conn:
        conn.execute("INSERT INTO schema_version (version, applied_at) VALUES (999, 'later')")
    before = path.read_bytes()
    with pytest.raises(StoreError, match="schema version 999"):
        Database(path)
    assert path.read_bytes() == before


def test_second_daemon_refuses_to_share_the_control_socket(
    write_config: Callable[..., Path], broker: LocalBroker, tmp_path: Path
) -> None:
    config = write_config({"mqtt": {"host": "127.0.0.1", "port": broker.port}})
    first = Daemon(config, tmp_path / "first.log")
    try:
        wait_for(lambda: first.status() is not None, 30, 0.2, "the first daemon")
        second = earmark(config, "run", timeout=30)
        assert second.returncode == 3
        assert "already running" in second.stderr
    finally:
        first.terminate()


def test_local_broker_port_taken_by_something_else_keeps_the_speaker_playing(
    write_config: Callable[..., Path], garden_feed: str, tmp_path: Path
) -> None:
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        port = squatter.getsockname()[1]
        config = write_config(
            {"mqtt": {"local_port": port}, "library": {"demo": False, "feeds": [garden_feed]}}
        )
        daemon = Daemon(config, tmp_path / "daemon.log")
        try:
            daemon.wait_playing()
            result = earmark(config, "snip")
            assert result.returncode == 0, result.stderr
        finally:
            daemon.terminate()
    assert "is in use by something that is not an MQTT broker" in daemon.log


def test_snip_saved_while_broker_is_down_is_published_when_it_returns(
    write_config: Callable[..., Path], garden_feed: str, tmp_path: Path
) -> None:
    port = free_port()
    broker = LocalBroker(port)
    # a dashboard's persistent session, so the broker queues what arrives while it is away
    broker.start()
    MqttListener(port, "earmark/#", client_id="dashboard", persistent=True).close()
    broker.stop()

    config = write_config(
        {
            "mqtt": {"host": "127.0.0.1", "port": port},
            "library": {"demo": False, "feeds": [garden_feed]},
        }
    )
    daemon = Daemon(config, tmp_path / "daemon.log")
    try:
        daemon.wait_playing(min_position=1)
        result = earmark(config, "snip")
        assert result.returncode == 0, result.stderr
        highlight_id = result.stdout.split("id=")[1].split()[0]
        wait_for(lambda: "snip done" in daemon.log, 120, 0.2, "the snip to finish offline")
        assert daemon.status()["outbox_pending"] >= 4

        broker.start()
        listener = MqttListener(port, "earmark/#", client_id="dashboard", persistent=True)
        try:

            def done() -> bool:
                return any(
                    m.topic.endswith("/highlight")
                    and HighlightPayload.from_json(m.payload).id == highlight_id
                    and HighlightPayload.from_json(m.payload).status == "done"
                    for m in list(listener.messages)
                )

            wait_for(done, 60, 0.2, "the highlight after the broker returned")
            wait_for(lambda: daemon.status()["outbox_pending"] == 0, 30, 0.2, "an empty outbox")
        finally:
            listener.close()
    finally:
        daemon.terminate()
        broker.close()


def test_a_broken_feed_is_one_line_and_the_good_one_still_plays(
    write_config: Callable[..., Path], broker: LocalBroker, garden_feed: str, tmp_path: Path
) -> None:
    broken = garden_feed.replace("feed.xml", "missing.xml")
    config = write_config(
        {
            "mqtt": {"host": "127.0.0.1", "port": broker.port},
            "library": {
                "demo": False,
                "feeds": [broken, garden_feed, f"http://127.0.0.1:{free_port()}/x"],
            },
        }
    )
    daemon = Daemon(config, tmp_path / "daemon.log")
    try:
        status = daemon.wait_playing()
        assert status["player"]["episode"] == "Compost"
    finally:
        daemon.terminate()
    skipped = [line for line in daemon.log.splitlines() if "feed not refreshed" in line]
    assert len(skipped) == 2 and all("Traceback" not in line for line in skipped)
    assert "Traceback" not in daemon.log
