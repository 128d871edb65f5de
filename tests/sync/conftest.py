"""A store, a link to the test broker and a relay on them (all real)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from earmark.store.database import Database
from earmark.sync.broker import LocalBroker
from earmark.sync.mqtt import BrokerAddress, MqttLink
from earmark.sync.relay import OutboxRelay
from tests.support import wait_for

BASE_TOPIC = "earmark/testbox"


class Acks:
    """Every PUBACK the link reports, handed on to the relay."""

    def __init__(self) -> None:
        self.mids: list[int] = []
        self.relay: OutboxRelay | None = None
        self._lock = threading.Lock()

    def __call__(self, mid: int) -> None:
        with self._lock:
            self.mids.append(mid)
        if self.relay is not None:
            self.relay.acked(mid)

    def count(self) -> int:
        with self._lock:
            return len(self.mids)


def start_relay(
    db: Database, make_link: Callable[..., MqttLink], **options: Any
) -> tuple[MqttLink, OutboxRelay, Acks]:
    """A started link and relay on the test broker (``options`` go to the relay),
    the relay told of every PUBACK; returns once the link is connected."""
    acks = Acks()
    link = make_link(on_acked=acks)
    relay = OutboxRelay(db, link, poll_seconds=0.05, **options)
    acks.relay = relay
    link.start()
    relay.start()
    wait_for(lambda: link.connected, 10, what="link connected")
    return link, relay, acks


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    database = Database(tmp_path / "earmark.db")
    yield database
    database.close()


@pytest.fixture
def make_link(broker: LocalBroker) -> Iterator[Callable[..., MqttLink]]:
    """Build (not start) a link to the test broker; stopped at the end."""
    links: list[MqttLink] = []

    def make(**callbacks: Any) -> MqttLink:
        link = MqttLink(
            BrokerAddress("127.0.0.1", broker.port, keepalive=5),
            BASE_TOPIC,
            "earmark-testbox",
            **callbacks,
        )
        links.append(link)
        return link

    yield make
    for link in links:
        link.stop()
