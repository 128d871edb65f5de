"""A dashboard that was away catches up: resync queues every highlight's current
version again through the outbox, and the relay delivers each (id, version)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta, timezone

import pytest

from earmark.store import outbox
from earmark.store.database import Database, utc_now
from earmark.store.highlights import DONE, Highlight, HighlightBook
from earmark.sync.broker import LocalBroker
from earmark.sync.mqtt import MqttLink
from earmark.sync.relay import ResyncError, resync
from tests.support import MqttListener, wait_for

from .conftest import BASE_TOPIC, start_relay


def _snip(book: HighlightBook, name: str) -> Highlight:
    return book.add(
        Highlight(
            id=name, status="pending", pressed_at=utc_now(), press_position=60, start=15, end=75
        )
    )


def _seen(listener: MqttListener) -> list[tuple[str, int]]:
    return [(p["id"], p["version"]) for p in listener.payloads("/highlight")]


def test_listener_that_missed_highlights_gets_each_current_version_after_resync(
    broker: LocalBroker, db: Database, make_link: Callable[..., MqttLink]
) -> None:
    book = HighlightBook(db, "testbox")
    _, relay, _ = start_relay(db, make_link)
    try:
        for i in range(5):
            _snip(book, f"h{i}")
        for i in range(3):
            book.update(f"h{i}", status=DONE, title=f"moment {i}")
        relay.notify()
        wait_for(lambda: outbox.pending_count(db) == 0, 10, what="first delivery acknowledged")

        listener = MqttListener(broker.port, f"{BASE_TOPIC}/highlight")  # it was away
        try:
            assert _seen(listener) == []
            reply = resync(book, {})
            relay.notify()
            wait_for(lambda: outbox.pending_count(db) == 0, 10, what="resync acknowledged")
            current = {(h.id, h.version) for h in book.latest()}
            assert current == {("h0", 2), ("h1", 2), ("h2", 2), ("h3", 1), ("h4", 1)}
            wait_for(lambda: set(_seen(listener)) == current, 10, what="every version received")
            assert reply["queued"] == len(current) == 5
            # at-least-once: a redelivery may repeat one, never lose or invent one
            assert len(_seen(listener)) >= reply["queued"]
        finally:
            listener.close()
    finally:
        relay.stop(flush_seconds=0)


def test_resync_since_sends_only_highlights_changed_since_then(
    broker: LocalBroker, db: Database, make_link: Callable[..., MqttLink]
) -> None:
    book = HighlightBook(db, "testbox")
    _, relay, _ = start_relay(db, make_link)
    try:
        for name in ("old", "touched"):
            _snip(book, name)
        since = utc_now()
        wait_for(lambda: utc_now() > since, 1, interval=0.001, what="the clock moves on")
        book.update("touched", status=DONE)
        _snip(book, "new")
        relay.notify()
        wait_for(lambda: outbox.pending_count(db) == 0, 10, what="first delivery acknowledged")

        listener = MqttListener(broker.port, f"{BASE_TOPIC}/highlight")
        try:
            reply = resync(book, {"since": since})
            relay.notify()
            expected = {("touched", 2), ("new", 1)}
            wait_for(lambda: set(_seen(listener)) == expected, 10, what="changed ones received")
            wait_for(lambda: outbox.pending_count(db) == 0, 10, what="resync acknowledged")
            assert reply["queued"] == 2
            assert "old" not in {highlight_id for highlight_id, _ in _seen(listener)}
        finally:
            listener.close()
    finally:
        relay.stop(flush_seconds=0)


@pytest.mark.parametrize(
    ("since", "says"),
    [
        ("yesterday", "ISO-8601"),
        ("2026-11-26T08:00:00", "zone"),
        (1764144000, "ISO-8601"),
    ],
)
def test_resync_refuses_a_since_that_is_no_utc_time_and_queues_nothing(
    db: Database, since: object, says: str
) -> None:
    book = HighlightBook(db, "testbox")
    _snip(book, "h")
    before = outbox.stored_count(db)
    with pytest.raises(ResyncError, match=f"'since'.*{says}") as refused:
        resync(book, {"since": since})
    assert "\n" not in str(refused.value)
    assert outbox.stored_count(db) == before


def test_resync_takes_a_time_in_any_zone_as_that_instant(db: Database) -> None:
    book = HighlightBook(db, "testbox")
    saved = _snip(book, "h")
    changed = datetime.fromisoformat(saved.updated_at)
    in_paris = timezone(timedelta(hours=1))
    at_change = changed.astimezone(in_paris).isoformat()
    after_change = (changed + timedelta(milliseconds=1)).astimezone(in_paris).isoformat()
    assert resync(book, {"since": at_change})["queued"] == 1
    assert resync(book, {"since": after_change})["queued"] == 0
