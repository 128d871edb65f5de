"""The outbox: what must reach MQTT, written in the same transaction as the change.

Rows are deleted never; a row is marked sent when the broker acknowledges it.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

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


def mark_sent(db: Database, message_id: int) -> None:
    with db.transaction() as conn:
        conn.execute("UPDATE outbox SET sent_at = ? WHERE id = ?", (utc_now(), message_id))


def pending_count(db: Database) -> int:
    return int(db.query("SELECT count(*) FROM outbox WHERE sent_at IS NULL")[0][0])
