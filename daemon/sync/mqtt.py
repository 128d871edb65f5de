"""The one wrapper around paho-mqtt: a link to the broker for one speaker.

It publishes ``status`` (retained, with ``offline`` as the last will), hands
commands from ``cmd/<action>`` to a callback, reports connection changes, and
reports broker acknowledgements (PUBACK) so the outbox relay can mark rows
sent. Paho's callbacks run on its network thread; the callbacks given here
must not block.

Commands are subscribed with MQTT 5 options: ``retain_as_published`` on, so a
command that carries the retain flag is seen as such whether it arrives live
or is replayed because we subscribed (the decoder refuses both, and the link
clears it from the broker so it never replays), and ``no_local``, so what this
link publishes under ``cmd/`` (its answers, the clearing of a retained
command) never comes back as a command.
"""

from __future__ import annotations

import contextlib
import logging
import ssl
import threading
from collections.abc import Callable
from dataclasses import dataclass

import paho.mqtt.client as paho
from paho.mqtt.subscribeoptions import SubscribeOptions

log = logging.getLogger(__name__)

# action, payload, retained (the message carried the retain flag)
OnCommand = Callable[[str, bytes, bool], None]


@dataclass(frozen=True)
class BrokerAddress:
    host: str
    port: int
    username: str | None = None
    password: str | None = None
    tls: bool = False
    ca_file: str | None = None
    keepalive: int = 30


class MqttLink:
    def __init__(
        self,
        address: BrokerAddress,
        base_topic: str,
        client_id: str,
        on_command: OnCommand | None = None,
        on_acked: Callable[[int], None] | None = None,
        on_connected: Callable[[], None] | None = None,
        on_disconnected: Callable[[str], None] | None = None,
    ) -> None:
        self.address = address
        self.base_topic = base_topic.rstrip("/")
        self._on_command = on_command
        self._on_acked = on_acked
        self._on_connected = on_connected
        self._on_disconnected = on_disconnected
        self._connected = threading.Event()
        self._connections = 0
        # absolute topics outside our own (Home Assistant's birth message), each
        # subscribed on every connect and handed to its callback on paho's thread
        self._watched: dict[str, Callable[[bytes], None]] = {}
        self._stopping = False
        self.client = paho.Client(
            paho.CallbackAPIVersion.VERSION2, client_id=client_id, protocol=paho.MQTTv5
        )
        if address.username:
            self.client.username_pw_set(address.username, address.password)
        if address.tls:
            self.client.tls_set(ca_certs=address.ca_file, cert_reqs=ssl.CERT_REQUIRED)
        self.client.will_set(self.topic("status"), b"offline", qos=1, retain=True)
        self.client.reconnect_delay_set(min_delay=1, max_delay=10)
        self.client.on_connect = self._connected_cb
        self.client.on_disconnect = self._disconnected_cb
        self.client.on_publish = self._published_cb
        self.client.on_message = self._message_cb

    def topic(self, relative: str) -> str:
        return f"{self.base_topic}/{relative}"

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    @property
    def connections(self) -> int:
        """How many times the link has connected: a message id is only worth
        waiting for on the connection it was sent on."""
        return self._connections

    def watch(self, topic: str, callback: Callable[[bytes], None]) -> None:
        """Hear ``topic`` (absolute, no wildcards) from the next connect on; the
        callback runs on paho's thread and must only hand over."""
        self._watched[topic] = callback
        if self.connected:
            self.client.subscribe(topic, qos=1)

    def start(self) -> None:
        """Connect in the background; paho keeps reconnecting while the broker is away."""
        self.client.connect_async(self.address.host, self.address.port, self.address.keepalive)
        self.client.loop_start()

    def publish(
        self, relative_topic: str, payload: bytes, qos: int = 1, retain: bool = False
    ) -> int | None:
        """Send a message; the message id to watch for its PUBACK, or None if not sent.

        The PUBACK (``on_acked``) may arrive on paho's thread before this returns.
        """
        if not self.connected:
            return None
        info = self.client.publish(self.topic(relative_topic), payload, qos=qos, retain=retain)
        if info.rc != paho.MQTT_ERR_SUCCESS:
            return None
        return int(info.mid)

    def stop(self) -> None:
        self._stopping = True
        if self.connected:
            info = self.client.publish(self.topic("status"), b"offline", qos=1, retain=True)
            with contextlib.suppress(RuntimeError, ValueError):
                info.wait_for_publish(2)
        self.client.disconnect()
        self.client.loop_stop()

    # paho callbacks (network thread)
    def _connected_cb(
        self,
        client: paho.Client,
        userdata: object,
        flags: object,
        reason: paho.ReasonCode,
        properties: object,
    ) -> None:
        if reason.is_failure:
            log.warning(
                "mqtt connect refused by %s:%s: %s", self.address.host, self.address.port, reason
            )
            return
        again = " again" if self._connections else ""
        self._connections += 1
        self._connected.set()
        log.info("mqtt connected%s broker=%s:%s", again, self.address.host, self.address.port)
        client.publish(self.topic("status"), b"online", qos=1, retain=True)
        options = SubscribeOptions(qos=1, noLocal=True, retainAsPublished=True)
        client.subscribe(self.topic("cmd/+"), options=options)
        for topic in self._watched:
            client.subscribe(topic, qos=1)
        if self._on_connected is not None:
            self._on_connected()

    def _disconnected_cb(
        self,
        client: paho.Client,
        userdata: object,
        flags: object,
        reason: paho.ReasonCode,
        properties: object,
    ) -> None:
        if not self._connected.is_set():
            return  # a connect attempt that failed: nothing was up
        self._connected.clear()
        if not self._stopping:
            log.warning(
                "mqtt disconnected from %s:%s: %s; will retry",
                self.address.host,
                self.address.port,
                reason,
            )
        if self._on_disconnected is not None:
            self._on_disconnected("stopped" if self._stopping else str(reason))

    def _published_cb(
        self,
        client: paho.Client,
        userdata: object,
        mid: int,
        reason: paho.ReasonCode,
        properties: object,
    ) -> None:
        if reason.is_failure:
            log.warning("mqtt broker refused message mid=%d: %s", mid, reason)
            return
        if self._on_acked is not None:
            self._on_acked(mid)

    def _message_cb(self, client: paho.Client, userdata: object, message: paho.MQTTMessage) -> None:
        watcher = self._watched.get(message.topic)
        if watcher is not None:
            watcher(bytes(message.payload))
            return
        prefix = self.topic("cmd/")
        if self._on_command is None or not message.topic.startswith(prefix):
            return
        action = message.topic[len(prefix) :]
        if action == "result":
            return  # our own answers
        retained = bool(message.retain)
        if retained and message.payload:
            # left on the broker, it would come back on every reconnect; where the
            # broker's ACL refuses, the refusal is logged by _published_cb
            log.info("mqtt retained command on the broker topic=%s; clearing it", message.topic)
            client.publish(message.topic, b"", qos=1, retain=True)
        self._on_command(action, bytes(message.payload), retained)
