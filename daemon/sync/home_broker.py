"""Which broker the speaker talks to: the configured one, or a mosquitto of its
own on localhost when none is configured (so a newcomer sees the whole loop)."""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping

from earmark.config.model import MqttConfig
from earmark.errors import EarmarkError
from earmark.sync.broker import BrokerError, LocalBroker, port_answers, speaks_mqtt
from earmark.sync.mqtt import BrokerAddress

log = logging.getLogger(__name__)


class BrokerPasswordError(EarmarkError):
    """The broker password named by mqtt.password_file or mqtt.password_env is not there."""


def broker_address(m: MqttConfig, environ: Mapping[str, str] | None = None) -> BrokerAddress:
    """Where and how to connect; the password read from its file or variable now."""
    host, port = (m.host, m.port) if m.host else ("127.0.0.1", m.local_port)
    return BrokerAddress(
        host,
        port,
        username=m.username,
        password=broker_password(m, os.environ if environ is None else environ),
        tls=m.tls,
        ca_file=_text(m.ca_file),
        keepalive=m.keepalive,
        client_cert=_text(m.client_cert),
        client_key=_text(m.client_key),
        reconnect_min=m.reconnect_min_seconds,
        reconnect_max=m.reconnect_max_seconds,
    )


def broker_password(m: MqttConfig, environ: Mapping[str, str]) -> str | None:
    if m.password_file is not None:
        try:
            text = m.password_file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            why = getattr(exc, "strerror", None) or "not UTF-8 text"
            raise BrokerPasswordError(
                f"mqtt.password_file {m.password_file} cannot be read ({why})"
            ) from None
        first = text.splitlines()[0].strip() if text.strip() else ""
        if not first:
            raise BrokerPasswordError(
                f"mqtt.password_file {m.password_file} is empty; put the password on its first line"
            )
        return first
    if m.password_env is not None:
        value = environ.get(m.password_env)
        if not value:
            raise BrokerPasswordError(
                f"mqtt.password_env names ${m.password_env}, which is not set; "
                "set it in the service's environment"
            )
        return value
    return m.password


def _text(path: object) -> str | None:
    return str(path) if path is not None else None


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
