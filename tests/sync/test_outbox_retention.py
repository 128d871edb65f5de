"""Rows the broker acknowledged leave the outbox after the retention; unsent rows stay."""

from __future__ import annotations

import json
import os
import signal
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from earmark.store import outbox
from earmark.store.database import Database
from earmark.sync.broker import LocalBroker
from earmark.sync.mqtt import MqttLink
from earmark.sync.relay import OutboxRelay
from tests.support import wait_for

from .conftest import start_relay


class Clock:
    """The relay's idea of now, moved on by the test."""

    def __init__(self) -> None:
        self.ahead = timedelta(0)

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.ahead


def _queue(db: Database, count: int, name: str = "h") -> None:
    with db.transaction() as conn:
        for i in range(count):
            payload = json.dumps({"schema": 1, "id": f"{name}{i}", "version": 1}).encode()
            outbox.enqueue(conn, "highlight", payload)


def _relay(
    db: Database, make_link: Callable[..., MqttLink], clock: Clock, prune_every: float
) -> tuple[MqttLink, OutboxRelay]:
    link, relay, _ = start_relay(
        db, make_link, retention_days=7, prune_every=prune_every, clock=clock
    )
    return link, relay


def _prune_rounds(relay: OutboxRelay, rounds: int) -> None:
    done = relay.prunes + rounds
    wait_for(lambda: relay.prunes >= done, 10, what=f"{rounds} more prune rounds")


def test_sent_rows_go_after_the_retention_and_an_unsent_row_never(
    broker: LocalBroker, db: Database, make_link: Callable[..., MqttLink]
) -> None:
    clock = Clock()
    _, relay = _relay(db, make_link, clock, prune_every=0.05)
    assert broker.pid is not None
    try:
        _queue(db, 3, "sent")
        relay.notify()
        wait_for(lambda: outbox.pending_count(db) == 0, 10, what="three rows acknowledged")
        _prune_rounds(relay, 2)
        assert outbox.stored_count(db) == 3, "pruned inside the retention"

        os.kill(broker.pid, signal.SIGSTOP)  # the broker takes the next message, never answers
        _queue(db, 1, "unacked")
        relay.notify()
        wait_for(lambda: relay.awaiting_ack == 1, 10, what="row published, no PUBACK")
        clock.ahead = timedelta(days=8)
        wait_for(lambda: outbox.stored_count(db) == 1, 10, what="sent rows pruned")
        _prune_rounds(relay, 2)
        assert outbox.stored_count(db) == outbox.pending_count(db) == 1

        os.kill(broker.pid, signal.SIGCONT)
        wait_for(lambda: outbox.pending_count(db) == 0, 30, what="the last row acknowledged")
        wait_for(lambda: outbox.stored_count(db) == 0, 10, what="the last row pruned once sent")
    finally:
        os.kill(broker.pid, signal.SIGCONT)
        relay.stop(flush_seconds=0)


def test_the_relay_prunes_old_sent_rows_as_it_starts(
    broker: LocalBroker, db: Database, make_link: Callable[..., MqttLink]
) -> None:
    _queue(db, 5, "old")
    outbox.mark_sent(db, [m.id for m in outbox.unsent(db)])
    _queue(db, 2, "new")
    clock = Clock()
    clock.ahead = timedelta(days=8)
    broker.stop()  # nothing new can be sent: what goes is what start-up pruned
    relay = OutboxRelay(db, make_link(), poll_seconds=0.05, retention_days=7, clock=clock)
    relay.start()
    try:
        wait_for(lambda: relay.prunes >= 1, 10, what="the prune at start")
        assert outbox.stored_count(db) == outbox.pending_count(db) == 2
    finally:
        relay.stop(flush_seconds=0)


def test_pruning_goes_on_in_batches_until_every_old_sent_row_is_gone(db: Database) -> None:
    _queue(db, 1_250)
    messages = outbox.unsent(db, limit=2_000)
    outbox.mark_sent(db, [m.id for m in messages[:1_200]])

    deleted = outbox.prune_sent(db, datetime.now(UTC) + timedelta(seconds=1), batch=500)

    assert deleted == 1_200
    assert outbox.stored_count(db) == outbox.pending_count(db) == 50
    assert [m.id for m in outbox.unsent(db)] == [m.id for m in messages[1_200:]]
