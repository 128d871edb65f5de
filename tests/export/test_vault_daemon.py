"""The running speaker writes a snip to the vault by itself once it is done,
and rewrites the note when the listener edits it; the vault missing at first
only delays the note."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from earmark.payloads import HighlightPayload

from ..daemon_process import Daemon, earmark
from ..support import MqttListener, wait_for


def _done(listener: MqttListener) -> HighlightPayload | None:
    for payload in listener.payloads("/highlight"):
        if payload["status"] == "done":
            return HighlightPayload(**payload)
    return None


def test_a_done_snip_becomes_a_note_and_an_edit_updates_it(
    garden_config: Callable[..., Path], tmp_path: Path, mqtt_listener: MqttListener
) -> None:
    vault = tmp_path / "vault"  # not there yet: the export waits and retries
    config = garden_config(
        {
            "transcription": {"lookahead": "off"},
            "jobs": {"backoff_seconds": 0.2},
            "exports": {
                "markdown": {"folder": str(vault)},
                "dashboard_url": "http://dash.local:8080",
            },
        }
    )
    daemon = Daemon(config, tmp_path / "daemon.log")
    try:
        daemon.wait_playing(min_position=12)
        assert earmark(config, "snip").returncode == 0
        done = wait_for(lambda: _done(mqtt_listener), 180, 0.2, "a done highlight")
        wait_for(lambda: "does not exist" in daemon.log, 60, 0.2, "the missing vault said")
        vault.mkdir()
        notes = wait_for(lambda: list(vault.glob("*.md")), 120, 0.2, "the note")
        assert [n.name for n in notes] == ["The Slow Garden - Compost.md"]
        text = notes[0].read_text()
        assert f"### {done.title}" in text
        assert f"(http://dash.local:8080/highlights/{done.id})" in text
        notes[0].write_text(text + "\nMy own line.\n")
        edited = earmark(config, "edit", done.id, "--title", "Compost breathes", "--note", "try")
        assert edited.returncode == 0, edited.stderr
        wait_for(lambda: "### Compost breathes" in notes[0].read_text(), 120, 0.2, "the edit")
        after = notes[0].read_text()
        assert "**Note:** try" in after and "My own line." in after
    finally:
        daemon.terminate()
