"""Episodes' key points, and their outbox row (retained on ``episode/<id>``) in the
same transaction."""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from earmark.store import outbox
from earmark.store.database import Database, utc_now


def save(
    conn: sqlite3.Connection,
    episode_id: int,
    summarizer: str,
    points: list[dict[str, Any]],
    payload: bytes,
) -> None:
    """Store the episode's key points (replacing any) and queue ``payload``."""
    conn.execute(
        "INSERT INTO episode_key_points (episode_id, summarizer, points_json, made_at)"
        " VALUES (?, ?, ?, ?) ON CONFLICT(episode_id) DO UPDATE SET"
        " summarizer = excluded.summarizer, points_json = excluded.points_json,"
        " made_at = excluded.made_at",
        (episode_id, summarizer, json.dumps(points, ensure_ascii=False), utc_now()),
    )
    outbox.enqueue(conn, f"episode/{episode_id}", payload, retain=True)


def made(conn: sqlite3.Connection, episode_id: int) -> bool:
    row = conn.execute("SELECT 1 FROM episode_key_points WHERE episode_id = ?", (episode_id,))
    return row.fetchone() is not None


def points(db: Database, episode_id: int) -> list[dict[str, Any]] | None:
    rows = db.query(
        "SELECT points_json FROM episode_key_points WHERE episode_id = ?", (episode_id,)
    )
    return json.loads(rows[0]["points_json"]) if rows else None
