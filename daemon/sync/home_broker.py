"""Which broker the speaker talks to: the configured one, or a mosquitto of its
own on localhost when none is configured (so a newcomer sees the whole loop)."""

from __future__ import annotations

import logging

from earmark.config.model import MqttConfig
from earmark.sync.broker import BrokerError, LocalBroker, port_answers, speaks_mqtt
from earmark.sync.mqtt import BrokerAddress

log = logging.getLogger(__name__)


def broker_address(m: MqttConfig) -> BrokerAddress:
    host, port = (m.host, m.port) if m.host else ("127.0.0.1", m.local_port)
    return BrokerAddress(
        host,
        port,
        m.username,
        m.password,
        m.tls,
        str(m.ca_file) if m.ca_file else None,
        m.keepalive,
    )


def start_local_broker(m: MqttConfig) -> LocalBroker | None:
    """Start mosquitto on ``mqtt.local_port`` when no broker is configured and
    none answers there; a port held by something else is one error line."""
    if m.host is not None:
        return None
    if port_answers("127.0.0.1", m.local_port):
        if speaks_mqtt("127.0.0.1", m.local_port):
            log.info("using the broker already on 127.0.0.1:%d", m.local_port)
        else:
            log.error(
                "mqtt.local_port %d is in use by something that is not an MQTT "
                "broker; set another port; snips wait in the outbox",
                m.local_port,
            )
        return None
    try:
        broker = LocalBroker(m.local_port).start()
    except BrokerError as exc:
        log.error("no local broker: %s; snips wait in the outbox", exc)
        return None
    log.info("local mosquitto started port=%d", m.local_port)
    return broker
