"""The one wrapper around paho-mqtt: a link to the broker for one speaker.

It publishes ``status`` (retained, with ``offline`` as the last will), hands
commands from ``cmd/<action>`` to a callback, and reports broker
acknowledgements (PUBACK) so the outbox relay can mark rows sent. Paho's
callbacks run on its network thread; the callbacks given here must not block.
"""

from __future__ import annotations

import contextlib
import logging
import ssl
import threading
from collections.abc import Callable
from dataclasses import dataclass

import paho.mqtt.client as paho

log = logging.getLogger(__name__)


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
        on_command: Callable[[str, bytes], None] | None = None,
        on_acked: Callable[[int], None] | None = None,
    ) -> None:
        self.address = address
        self.base_topic = base_topic.rstrip("/")
        self._on_command = on_command
        self._on_acked = on_acked
        self._connected = threading.Event()
        self._ever_connected = False
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

    def start(self) -> None:
        """Connect in the background; paho keeps reconnecting while the broker is away."""
        self.client.connect_async(self.address.host, self.address.port, self.address.keepalive)
        self.client.loop_start()

    def publish(
        self, relative_topic: str, payload: bytes, qos: int = 1, retain: bool = False
    ) -> int | None:
        """Send a message; the message id to watch for its PUBACK, or None if not sent."""
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
        self._connected.set()
        again = " again" if self._ever_connected else ""
        self._ever_connected = True
        log.info("mqtt connected%s broker=%s:%s", again, self.address.host, self.address.port)
        client.publish(self.topic("status"), b"online", qos=1, retain=True)
        client.subscribe(self.topic("cmd/+"), qos=1)

    def _disconnected_cb(
        self,
        client: paho.Client,
        userdata: object,
        flags: object,
        reason: paho.ReasonCode,
        properties: object,
    ) -> None:
        if self._connected.is_set() and not self._stopping:
            log.warning(
                "mqtt disconnected from %s:%s: %s; will retry",
                self.address.host,
                self.address.port,
                reason,
            )
        self._connected.clear()

    def _published_cb(
        self,
        client: paho.Client,
        userdata: object,
        mid: int,
        reason: paho.ReasonCode,
        properties: object,
    ) -> None:
        if self._on_acked is not None and not reason.is_failure:
            self._on_acked(mid)

    def _message_cb(self, client: paho.Client, userdata: object, message: paho.MQTTMessage) -> None:
        prefix = self.topic("cmd/")
        if self._on_command is None or not message.topic.startswith(prefix):
            return
        action = message.topic[len(prefix) :]
        if action == "result":
            return  # our own answers
        self._on_command(action, bytes(message.payload))
