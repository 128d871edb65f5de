"""The daemon SIGKILLed between a highlight's commit and its PUBACK (the broker
frozen, so it has answered nothing): after the restart every version of the
highlight arrives, none is lost and consumers see each (id, version) at least
once. Real daemon, real mosquitto."""

from __future__ import annotations

import os
import signal
from collections.abc import Callable
from pathlib import Path

from earmark.payloads import HighlightPayload
from earmark.sync.broker import LocalBroker
from tests.daemon_process import Daemon, earmark
from tests.support import MqttListener, wait_for


def received(listener: MqttListener) -> list[HighlightPayload]:
    return [
        HighlightPayload.from_json(m.payload)
        for m in list(listener.messages)
        if m.topic.endswith("/highlight")
    ]


def test_a_snip_committed_but_never_acknowledged_arrives_after_a_kill(
    garden_config: Callable[..., Path],
    broker: LocalBroker,
    mqtt_listener: MqttListener,
    tmp_path: Path,
) -> None:
    config = garden_config({"transcription": {"lookahead": "off"}})
    first = Daemon(config, tmp_path / "first.log")
    first.wait_playing(min_position=20)
    assert broker.pid is not None
    os.kill(broker.pid, signal.SIGSTOP)  # it takes what is sent and answers nothing
    try:
        snipped = earmark(config, "snip")
        assert snipped.returncode == 0, snipped.stderr
        highlight_id = snipped.stdout.split("id=")[1].split()[0]
        first.kill()  # SIGKILL: committed in the database, never acknowledged
    finally:
        os.kill(broker.pid, signal.SIGCONT)

    second = Daemon(config, tmp_path / "second.log")
    try:
        done = wait_for(
            lambda: [
                h for h in received(mqtt_listener) if h.id == highlight_id and h.status == "done"
            ],
            180,
            0.2,
            "the snip done after the restart",
        )[0]
    finally:
        assert second.terminate() == 0, second.log[-2000:]
    versions = [h.version for h in received(mqtt_listener) if h.id == highlight_id]
    # every version from the first, uncommitted-to-the-broker one to done: none lost
    assert sorted(set(versions)) == list(range(1, done.version + 1)), versions
    assert done.transcript and done.title
