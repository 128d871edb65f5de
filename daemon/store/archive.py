"""Every highlight with where its episode lives, for an archive; and an archive
taken in on a new box (moving house)."""

from __future__ import annotations

import dataclasses
import sqlite3
from dataclasses import dataclass

from earmark.store.database import Database
from earmark.store.highlights import _COLUMNS, Highlight, _from_row, _row


@dataclass(frozen=True)
class Kept:
    """A highlight and how a new box finds its episode again."""

    highlight: Highlight
    feed_url: str | None
    guid: str | None


def kept(db: Database, podcast: str | None = None, since: str | None = None) -> list[Kept]:
    """Highlights in the order pressed (deleted ones too: an archive is complete),
    those of ``podcast`` (a title) or changed since ``since`` only, when given."""
    where, params = ["1 = 1"], []
    if podcast:
        where.append("lower(h.podcast_title) = lower(?)")
        params.append(podcast)
    if since:
        where.append("h.updated_at >= ?")
        params.append(since)
    rows = db.query(
        "SELECT h.*, p.feed_url AS archive_feed_url, e.guid AS archive_guid FROM highlights h"
        " LEFT JOIN episodes e ON e.id = h.episode_id LEFT JOIN podcasts p ON p.id = e.podcast_id"
        f" WHERE {' AND '.join(where)} ORDER BY h.pressed_at",
        tuple(params),
    )
    return [Kept(_from_row(r), r["archive_feed_url"], r["archive_guid"]) for r in rows]


def take_in(conn: sqlite3.Connection, item: Kept) -> bool:
    """Store an imported highlight unless this box holds it at that version or a
    newer one; its episode is this box's episode of the same feed and GUID, if
    subscribed here. True when stored."""
    h = item.highlight
    found = conn.execute("SELECT version FROM highlights WHERE id = ?", (h.id,)).fetchone()
    if found is not None and int(found[0]) >= h.version:
        return False
    episode_id = None
    if item.feed_url and item.guid:
        row = conn.execute(
            "SELECT e.id FROM episodes e JOIN podcasts p ON p.id = e.podcast_id"
            " WHERE p.feed_url = ? AND e.guid = ?",
            (item.feed_url, item.guid),
        ).fetchone()
        episode_id = row[0] if row else None
    h = dataclasses.replace(h, episode_id=episode_id)
    if found is None:
        columns = ", ".join(f'"{c}"' for c in _COLUMNS)
        placeholders = ", ".join("?" for _ in _COLUMNS)
        conn.execute(f"INSERT INTO highlights ({columns}) VALUES ({placeholders})", _row(h))
    else:  # an update in place: what refers to the row (jobs, exports) stays
        assignments = ", ".join(f'"{c}" = ?' for c in _COLUMNS[1:])
        conn.execute(f"UPDATE highlights SET {assignments} WHERE id = ?", (*_row(h)[1:], h.id))
    return True
