"""The outbox: what must reach MQTT, written in the same transaction as the change.

A row is marked sent when the broker acknowledges it, and deleted only once it
has been sent for longer than the retention (``outbox.retention_days``); an
unsent row is never deleted.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime

from earmark.store.database import Database, utc_now


@dataclass(frozen=True)
class OutboxMessage:
    id: int
    topic: str
    payload: bytes | None
    payload_file: str | None
    qos: int
    retain: bool


def enqueue(
    conn: sqlite3.Connection,
    topic: str,
    payload: bytes | None = None,
    *,
    payload_file: str | None = None,
    qos: int = 1,
    retain: bool = False,
) -> int:
    cursor = conn.execute(
        "INSERT INTO outbox (topic, payload, payload_file, qos, retain, created_at) "
        "VALUES (?, ?, ?, ?, ?, ?)",
        (topic, payload, payload_file, qos, int(retain), utc_now()),
    )
    return int(cursor.lastrowid or 0)


def unsent(db: Database, after_id: int = 0, limit: int = 100) -> list[OutboxMessage]:
    rows = db.query(
        "SELECT id, topic, payload, payload_file, qos, retain FROM outbox "
        "WHERE sent_at IS NULL AND id > ? ORDER BY id LIMIT ?",
        (after_id, limit),
    )
    return [
        OutboxMessage(
            r["id"], r["topic"], r["payload"], r["payload_file"], r["qos"], bool(r["retain"])
        )
        for r in rows
    ]


def mark_sent(db: Database, message_ids: Iterable[int]) -> None:
    """Mark rows sent, all in one transaction (one fsync however many)."""
    now = utc_now()
    rows = [(now, message_id) for message_id in message_ids]
    if not rows:
        return
    with db.transaction() as conn:
        conn.executemany("UPDATE outbox SET sent_at = ? WHERE id = ?", rows)


def pending_count(db: Database) -> int:
    return int(db.query("SELECT count(*) FROM outbox WHERE sent_at IS NULL")[0][0])


def stored_count(db: Database) -> int:
    """Rows kept, sent or not."""
    return int(db.query("SELECT count(*) FROM outbox")[0][0])


def prune_sent(db: Database, sent_before: datetime, batch: int = 500) -> int:
    """Delete rows sent before ``sent_before`` (UTC), ``batch`` rows per
    transaction so no writer waits long; never an unsent row. How many went."""
    cutoff = sent_before.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    deleted = 0
    while True:
        with db.transaction() as conn:
            gone = conn.execute(
                "DELETE FROM outbox WHERE id IN (SELECT id FROM outbox "
                "WHERE sent_at IS NOT NULL AND sent_at < ? LIMIT ?)",
                (cutoff, batch),
            ).rowcount
        deleted += gone
        if gone < batch:
            return deleted


def requeue_highlights(
    db: Database,
    since: str | None,
    payload_of: Callable[[sqlite3.Connection, str], bytes | None],
) -> int:
    """Queue again the current payload of every highlight changed at or after
    ``since`` (UTC ISO-8601 as the store writes it; None: every highlight), oldest
    change first, in one transaction, so a newer version written meanwhile is
    queued after it. ``payload_of`` reads a highlight inside that transaction."""
    with db.transaction() as conn:
        ids = [
            row[0]
            for row in conn.execute(
                "SELECT id FROM highlights WHERE updated_at >= ? ORDER BY updated_at, id",
                (since or "",),
            )
        ]
        queued = 0
        for highlight_id in ids:
            payload = payload_of(conn, highlight_id)
            if payload is not None:
                enqueue(conn, "highlight", payload)
                queued += 1
    return queued
