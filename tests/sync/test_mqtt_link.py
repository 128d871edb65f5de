"""The MQTT link: commands with their retain flag, connection events."""

from __future__ import annotations

import threading
from collections.abc import Callable

import paho.mqtt.client as paho

from earmark.sync.broker import LocalBroker
from earmark.sync.mqtt import MqttLink
from tests.support import MqttListener, wait_for

from .conftest import BASE_TOPIC


class Commands:
    def __init__(self) -> None:
        self.received: list[tuple[str, bytes, bool]] = []
        self._lock = threading.Lock()

    def __call__(self, action: str, payload: bytes, retained: bool) -> None:
        with self._lock:
            self.received.append((action, payload, retained))

    def actions(self) -> list[str]:
        return [action for action, _, _ in self.all()]

    def all(self) -> list[tuple[str, bytes, bool]]:
        """What came, without the test's own ``ready`` markers."""
        with self._lock:
            return [c for c in self.received if c[0] != "ready"]

    def saw(self, action: str, payload: bytes) -> bool:
        with self._lock:
            return any(c[:2] == (action, payload) for c in self.received)


def _send(port: int, relative: str, payload: bytes, retain: bool = False) -> None:
    """Publish as a controller would (QoS 1, waits for the broker to have it)."""
    client = paho.Client(paho.CallbackAPIVersion.VERSION2, protocol=paho.MQTTv5)
    client.connect("127.0.0.1", port)
    client.loop_start()
    try:
        client.publish(f"{BASE_TOPIC}/{relative}", payload, qos=1, retain=retain).wait_for_publish(
            10
        )
    finally:
        client.disconnect()
        client.loop_stop()


def _subscribed(port: int, commands: Commands, tag: str) -> None:
    """Wait until the link hears commands: a retained marker reaches it whether
    it was published before or after the link subscribed."""
    _send(port, "cmd/ready", tag.encode(), retain=True)
    wait_for(lambda: commands.saw("ready", tag.encode()), 15, what=f"link subscribed ({tag})")


def _retained_on_broker(port: int, relative: str) -> list[bytes]:
    """What a new subscriber to ``relative`` is handed as retained. A marker sent
    after the subscription arrives after anything retained, so its arrival ends
    the wait."""
    listener = MqttListener(port, f"{BASE_TOPIC}/#")
    try:
        _send(port, "marker", b"end")
        wait_for(lambda: listener.payloads("/marker"), 10, what="marker")
        with listener._lock:
            return [
                bytes(m.payload) for m in listener.messages if m.topic == f"{BASE_TOPIC}/{relative}"
            ]
    finally:
        listener.close()


def _force_reconnect(link: MqttLink, port: int) -> None:
    """A second client with the link's id makes the broker drop the link."""
    before = link.connections
    intruder = paho.Client(
        paho.CallbackAPIVersion.VERSION2, client_id="earmark-testbox", protocol=paho.MQTTv5
    )
    intruder.connect("127.0.0.1", port)
    intruder.loop_start()
    try:
        wait_for(lambda: not link.connected, 10, what="link dropped")
    finally:
        intruder.disconnect()
        intruder.loop_stop()
    wait_for(lambda: link.connected and link.connections > before, 15, what="link back")


def test_retained_command_is_reported_once_as_retained_and_cleared(
    broker: LocalBroker, make_link: Callable[..., MqttLink]
) -> None:
    _send(broker.port, "cmd/snip", b'{"schema": 1}', retain=True)
    commands = Commands()
    link = make_link(on_command=commands)
    link.start()
    wait_for(lambda: commands.actions(), 10, what="the retained command")
    assert commands.all() == [("snip", b'{"schema": 1}', True)]
    wait_for(lambda: not _retained_on_broker(broker.port, "cmd/snip"), 10, what="cleared")

    _force_reconnect(link, broker.port)
    _subscribed(broker.port, commands, "after reconnect")
    _send(broker.port, "cmd/pause", b"{}")
    wait_for(lambda: "pause" in commands.actions(), 10, what="a live command")
    # the clearing publish did not come back as a command, nor did the snip replay
    assert commands.all() == [("snip", b'{"schema": 1}', True), ("pause", b"{}", False)]


def test_live_command_published_with_retain_is_reported_as_retained_and_cleared(
    broker: LocalBroker, make_link: Callable[..., MqttLink]
) -> None:
    commands = Commands()
    link = make_link(on_command=commands)
    link.start()
    _subscribed(broker.port, commands, "start")
    _send(broker.port, "cmd/snip", b"{}", retain=True)
    wait_for(lambda: commands.actions(), 10, what="live retained command")
    assert commands.all() == [("snip", b"{}", True)]
    wait_for(lambda: not _retained_on_broker(broker.port, "cmd/snip"), 10, what="cleared")


def test_link_answers_on_cmd_result_without_hearing_itself(
    broker: LocalBroker, make_link: Callable[..., MqttLink], mqtt_listener: MqttListener
) -> None:
    commands = Commands()
    link = make_link(on_command=commands)
    link.start()
    _subscribed(broker.port, commands, "start")
    _send(broker.port, "cmd/next", b"{}")
    wait_for(lambda: commands.actions(), 10, what="command")
    assert link.publish("cmd/result", b'{"ok": true}') is not None
    assert link.publish("cmd/stop", b"{}") is not None
    wait_for(lambda: mqtt_listener.payloads("/cmd/stop"), 10, what="own publish on the broker")
    _send(broker.port, "cmd/pause", b"{}")
    wait_for(lambda: "pause" in commands.actions(), 10, what="second command")
    assert commands.actions() == ["next", "pause"]


def test_connection_events_follow_the_broker(
    broker: LocalBroker, make_link: Callable[..., MqttLink]
) -> None:
    events: list[str] = []
    lock = threading.Lock()

    def record(event: str) -> None:
        with lock:
            events.append(event)

    def seen() -> list[str]:
        with lock:
            return list(events)

    link = make_link(
        on_connected=lambda: record("connected"),
        on_disconnected=lambda reason: record(f"disconnected: {reason}"),
    )
    assert not link.connected
    link.start()
    wait_for(lambda: seen() == ["connected"], 10, what="connected event")
    assert link.connected

    broker.stop(kill=True)
    wait_for(lambda: len(seen()) == 2, 15, what="disconnected event")
    assert not link.connected
    assert seen()[1].startswith("disconnected: ")
    assert seen()[1] != "disconnected: "

    broker.start()
    wait_for(lambda: len(seen()) == 3, 20, what="connected again")
    assert seen()[2] == "connected"
    assert link.connected

    link.stop()
    wait_for(lambda: len(seen()) == 4, 10, what="disconnected on stop")
    assert seen()[3] == "disconnected: stopped"
    assert not link.connected
