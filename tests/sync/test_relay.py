"""The outbox relay marks a row sent only on the PUBACK of that row's own message."""

from __future__ import annotations

import json
import os
import signal
from collections.abc import Callable

from earmark.store import outbox
from earmark.store.database import Database
from earmark.sync.broker import LocalBroker
from earmark.sync.mqtt import MqttLink
from earmark.sync.relay import OutboxRelay
from tests.support import MqttListener, wait_for

from .conftest import BASE_TOPIC, Acks, start_relay

MESSAGE_IDS = 65_535  # paho's message ids run 1..65535, then start again


def _highlight(db: Database, highlight_id: str) -> int:
    payload = json.dumps({"schema": 1, "id": highlight_id}).encode()
    with db.transaction() as conn:
        # retained, so a subscriber that comes later still sees what the broker has
        return outbox.enqueue(conn, "highlight", payload, retain=True)


def test_highlight_waits_for_its_own_puback_after_message_ids_wrap(
    broker: LocalBroker, db: Database, make_link: Callable[..., MqttLink]
) -> None:
    link, relay, acks = start_relay(db, make_link)
    try:
        # every message id acknowledged at least once by messages that are not the relay's
        sent = 0
        while sent < MESSAGE_IDS + 100:
            batch = 5_000
            for _ in range(batch):
                assert link.publish("state", b"{}", qos=1) is not None
            sent += batch
            wait_for(lambda s=sent: acks.count() >= s, 60, what=f"{sent} PUBACKs")

        assert broker.pid is not None
        os.kill(broker.pid, signal.SIGSTOP)  # the broker takes the message but never answers
        _highlight(db, "h-wrapped")
        relay.notify()
        wait_for(
            lambda: relay.awaiting_ack == 1 or outbox.pending_count(db) == 0,
            10,
            what="highlight published",
        )
        assert outbox.pending_count(db) == 1, "marked sent without its PUBACK"

        broker.stop(kill=True)  # the broker dies without ever having read it
        wait_for(lambda: not link.connected, 10, what="link sees the broker gone")
        assert outbox.pending_count(db) == 1
        broker.start()

        wait_for(lambda: outbox.pending_count(db) == 0, 30, what="highlight acknowledged")
        assert not outbox.unsent(db)
        listener = MqttListener(broker.port, f"{BASE_TOPIC}/highlight")
        try:
            wait_for(lambda: listener.payloads("highlight"), 10, what="highlight on the broker")
            assert listener.payloads("highlight") == [{"schema": 1, "id": "h-wrapped"}]
        finally:
            listener.close()
    finally:
        relay.stop(flush_seconds=0)


class AckBeforeReturnLink(MqttLink):
    """A real link whose publish returns only after paho has reported the PUBACK,
    the order paho's network thread may produce on its own."""

    acked: Acks

    def publish(
        self, relative_topic: str, payload: bytes, qos: int = 1, retain: bool = False
    ) -> int | None:
        before = self.acked.count()
        mid = super().publish(relative_topic, payload, qos, retain)
        if mid is not None and qos > 0:
            wait_for(lambda: self.acked.count() > before, 10, what="PUBACK before return")
        return mid


def test_puback_reported_before_publish_returns_still_marks_the_row(
    broker: LocalBroker, db: Database, make_link: Callable[..., MqttLink]
) -> None:
    acks = Acks()
    link = AckBeforeReturnLink(make_link().address, BASE_TOPIC, "earmark-racer", on_acked=acks)
    link.acked = acks
    relay = OutboxRelay(db, link, poll_seconds=0.05)
    acks.relay = relay
    link.start()
    relay.start()
    try:
        wait_for(lambda: link.connected, 10, what="link connected")
        _highlight(db, "h-early")
        relay.notify()
        wait_for(lambda: outbox.pending_count(db) == 0, 10, what="highlight marked sent")
        assert relay.awaiting_ack == 0
    finally:
        relay.stop(flush_seconds=0)
        link.stop()


def test_highlight_enqueued_while_broker_is_away_arrives_when_it_returns(
    broker: LocalBroker, db: Database, make_link: Callable[..., MqttLink]
) -> None:
    link, relay, _ = start_relay(db, make_link)
    try:
        broker.stop()
        wait_for(lambda: not link.connected, 10, what="link sees the broker gone")
        _highlight(db, "h-offline")
        relay.notify()
        broker.start()
        wait_for(lambda: outbox.pending_count(db) == 0, 30, what="highlight acknowledged")
        listener = MqttListener(broker.port, f"{BASE_TOPIC}/highlight")
        try:
            wait_for(lambda: listener.payloads("highlight"), 10, what="highlight on the broker")
            assert listener.payloads("highlight") == [{"schema": 1, "id": "h-offline"}]
        finally:
            listener.close()
    finally:
        relay.stop(flush_seconds=0)
