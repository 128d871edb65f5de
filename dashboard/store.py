"""The dashboard's own store: a mirror of every speaker's highlights, built
only from what the broker delivers (it never opens a speaker's database).

SQLite in WAL mode, so the page reads while MQTT writes; FTS5 for search. One
row per highlight holds its newest version: a version that is not newer than
the stored one changes nothing, whatever order the broker delivers them in.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from earmark.payloads import EpisodePayload, ExportsPayload, HighlightPayload, StatePayload

SCHEMA = """
CREATE TABLE IF NOT EXISTS highlights (
    id          TEXT PRIMARY KEY,
    version     INTEGER NOT NULL,
    device_id   TEXT NOT NULL,
    pressed_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL,
    podcast     TEXT NOT NULL,
    episode_key TEXT NOT NULL,
    starred     INTEGER NOT NULL,
    deleted     INTEGER NOT NULL,
    payload     TEXT NOT NULL
);
DROP INDEX IF EXISTS highlights_newest;
CREATE INDEX IF NOT EXISTS highlights_newest_first
    ON highlights (deleted, pressed_at DESC, id DESC);
CREATE INDEX IF NOT EXISTS highlights_episode ON highlights (episode_key, pressed_at);
CREATE INDEX IF NOT EXISTS highlights_device ON highlights (device_id, updated_at);
CREATE INDEX IF NOT EXISTS highlights_podcast ON highlights (podcast);
CREATE VIRTUAL TABLE IF NOT EXISTS search USING fts5(
    title, quote, takeaways, note, transcript, tags, tokenize = 'porter unicode61'
);
CREATE TABLE IF NOT EXISTS clips (
    highlight_id TEXT PRIMARY KEY,
    device_id    TEXT NOT NULL,
    data         BLOB NOT NULL,
    received_at  TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS key_points (
    device_id   TEXT NOT NULL,
    episode_id  INTEGER NOT NULL,
    episode_key TEXT NOT NULL,
    payload     TEXT NOT NULL,
    PRIMARY KEY (device_id, episode_id)
);
CREATE TABLE IF NOT EXISTS speaker_exports (
    device_id TEXT PRIMARY KEY,
    payload   TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS speakers (
    device_id TEXT PRIMARY KEY,
    online    INTEGER NOT NULL DEFAULT 0,
    state     TEXT,
    seen_at   TEXT NOT NULL
);
"""
SEARCHED = ("title", "quote", "takeaways", "note", "transcript", "tags")
# FTS5's highlight() puts these around each match; the view escapes the text and
# only then turns them into <mark>, so a match never opens a door for markup
MARK_OPEN, MARK_CLOSE = "\ue000", "\ue001"
PAGE = 50
CURSOR_SEPARATOR = "~"  # in neither an ISO time nor a highlight id


def page_cursor(last: HighlightPayload) -> str:
    """Where the next (older) page starts: after the last highlight shown."""
    return f"{last.pressed_at}{CURSOR_SEPARATOR}{last.id}"


def episode_key(podcast: str, episode: str) -> str:
    """One episode across every speaker that played it."""
    return hashlib.sha1(f"{podcast}\0{episode}".encode()).hexdigest()[:16]


@dataclass(frozen=True)
class Filters:
    podcast: str | None = None
    device_id: str | None = None
    starred: bool = False
    since: str | None = None  # YYYY-MM-DD, inclusive
    until: str | None = None  # YYYY-MM-DD, inclusive
    query: str | None = None

    def matches(self, h: HighlightPayload) -> bool:
        """Would this highlight be listed (search aside)?"""
        day = h.pressed_at[:10]
        return (
            not h.deleted
            and (self.podcast is None or h.podcast == self.podcast)
            and (self.device_id is None or h.device_id == self.device_id)
            and (not self.starred or h.starred)
            and (self.since is None or day >= self.since)
            and (self.until is None or day <= self.until)
        )


@dataclass(frozen=True)
class Stored:
    """A highlight as the page shows it."""

    highlight: HighlightPayload
    episode_key: str
    has_clip: bool
    # search only: field -> its text with matches between MARK_OPEN and MARK_CLOSE
    marked: dict[str, str] | None = None


@dataclass(frozen=True)
class Speaker:
    device_id: str
    online: bool
    state: StatePayload | None
    seen_at: str
    # where its highlights go: [{"target", "items", "parked"}, ...]
    exports: list[dict[str, Any]] = field(default_factory=list)


class Mirror:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.lock = threading.RLock()
        self.conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self.conn.row_factory = sqlite3.Row
        self.conn.execute("PRAGMA journal_mode = WAL")
        self.conn.execute("PRAGMA synchronous = NORMAL")
        self.conn.executescript(SCHEMA)

    def close(self) -> None:
        with self.lock:
            self.conn.close()

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self.lock:
            self.conn.execute("BEGIN IMMEDIATE")
            try:
                yield self.conn
            except BaseException:
                self.conn.execute("ROLLBACK")
                raise
            self.conn.execute("COMMIT")

    def _rows(self, sql: str, params: tuple[Any, ...] = ()) -> list[sqlite3.Row]:
        with self.lock:
            return self.conn.execute(sql, params).fetchall()

    # -- what the broker delivers ----------------------------------------------

    def apply(self, h: HighlightPayload) -> str:
        """Store a version: 'new' (first seen), 'updated', or 'stale' (not newer)."""
        key = episode_key(h.podcast, h.episode)
        with self._transaction() as conn:
            row = conn.execute(
                "SELECT rowid, version FROM highlights WHERE id = ?", (h.id,)
            ).fetchone()
            if row is not None and row["version"] >= h.version:
                return "stale"
            values = (
                h.version,
                h.device_id,
                h.pressed_at,
                h.updated_at,
                h.podcast,
                key,
                int(h.starred),
                int(h.deleted),
                json.dumps(asdict(h), ensure_ascii=False),
            )
            if row is None:
                cursor = conn.execute(
                    "INSERT INTO highlights (version, device_id, pressed_at, updated_at, podcast,"
                    " episode_key, starred, deleted, payload, id) VALUES (?,?,?,?,?,?,?,?,?,?)",
                    (*values, h.id),
                )
                rowid = cursor.lastrowid
            else:
                rowid = row["rowid"]
                conn.execute(
                    "UPDATE highlights SET version = ?, device_id = ?, pressed_at = ?,"
                    " updated_at = ?, podcast = ?, episode_key = ?, starred = ?, deleted = ?,"
                    " payload = ? WHERE id = ?",
                    (*values, h.id),
                )
                conn.execute("DELETE FROM search WHERE rowid = ?", (rowid,))
            conn.execute(
                "INSERT INTO search (rowid, title, quote, takeaways, note, transcript, tags)"
                " VALUES (?,?,?,?,?,?,?)",
                (
                    rowid,
                    h.title or "",
                    h.quote or "",
                    "\n".join(h.takeaways),
                    h.note,
                    h.transcript or "",
                    " ".join(h.tags),
                ),
            )
        return "new" if row is None else "updated"

    def add_clip(self, highlight_id: str, device_id: str, data: bytes) -> None:
        """A clip replaces the one before (a re-cut window); it may come before its
        highlight (a resync after a lost session), so it is kept either way."""
        with self._transaction() as conn:
            conn.execute(
                "INSERT INTO clips (highlight_id, device_id, data, received_at) VALUES (?,?,?,?)"
                " ON CONFLICT (highlight_id) DO UPDATE SET data = excluded.data,"
                " device_id = excluded.device_id, received_at = excluded.received_at",
                (highlight_id, device_id, data, _now()),
            )

    def set_key_points(self, e: EpisodePayload) -> None:
        with self._transaction() as conn:
            conn.execute(
                "INSERT INTO key_points (device_id, episode_id, episode_key, payload)"
                " VALUES (?,?,?,?) ON CONFLICT (device_id, episode_id) DO UPDATE SET"
                " episode_key = excluded.episode_key, payload = excluded.payload",
                (
                    e.device_id,
                    e.episode_id,
                    episode_key(e.podcast, e.episode),
                    e.to_json().decode(),
                ),
            )

    def set_online(self, device_id: str, online: bool) -> None:
        with self._transaction() as conn:
            conn.execute(
                "INSERT INTO speakers (device_id, online, seen_at) VALUES (?,?,?)"
                " ON CONFLICT (device_id) DO UPDATE SET online = excluded.online,"
                " seen_at = excluded.seen_at",
                (device_id, int(online), _now()),
            )

    def set_exports(self, exports: ExportsPayload) -> None:
        with self._transaction() as conn:
            conn.execute(
                "INSERT INTO speaker_exports (device_id, payload) VALUES (?, ?)"
                " ON CONFLICT (device_id) DO UPDATE SET payload = excluded.payload",
                (exports.device_id, exports.to_json().decode()),
            )

    def set_state(self, device_id: str, state: StatePayload) -> None:
        with self._transaction() as conn:
            conn.execute(
                "INSERT INTO speakers (device_id, state, seen_at) VALUES (?,?,?)"
                " ON CONFLICT (device_id) DO UPDATE SET state = excluded.state,"
                " seen_at = excluded.seen_at",
                (device_id, state.to_json().decode(), _now()),
            )

    # -- what the page reads ---------------------------------------------------

    def highlight(self, highlight_id: str) -> Stored | None:
        rows = self._rows(
            "SELECT h.payload, h.episode_key, c.highlight_id IS NOT NULL AS has_clip"
            " FROM highlights h LEFT JOIN clips c ON c.highlight_id = h.id WHERE h.id = ?",
            (highlight_id,),
        )
        return _stored(rows[0]) if rows else None

    def clip(self, highlight_id: str) -> bytes | None:
        rows = self._rows("SELECT data FROM clips WHERE highlight_id = ?", (highlight_id,))
        return bytes(rows[0]["data"]) if rows else None

    def highlights(
        self, filters: Filters, before: str | None = None, limit: int = PAGE
    ) -> list[Stored]:
        """Newest first; with a query, the best matches of FTS5 first, marked."""
        where, params = ["h.deleted = 0"], []
        for column, value in (("h.podcast", filters.podcast), ("h.device_id", filters.device_id)):
            if value is not None:
                where.append(f"{column} = ?")
                params.append(value)
        if filters.starred:
            where.append("h.starred = 1")
        if filters.since:
            where.append("h.pressed_at >= ?")
            params.append(filters.since)
        if filters.until:
            where.append("h.pressed_at < ?")
            params.append(filters.until + "T99")  # the whole day, whatever the time
        if before:
            # a page ends at (pressed_at, id): two speakers can press in the same
            # millisecond, and a cursor on the time alone would skip the second
            pressed_at, _, highlight_id = before.partition(CURSOR_SEPARATOR)
            where.append("(h.pressed_at, h.id) < (?, ?)" if highlight_id else "h.pressed_at < ?")
            params.extend((pressed_at, highlight_id) if highlight_id else (pressed_at,))
        columns = "h.payload, h.episode_key, c.highlight_id IS NOT NULL AS has_clip"
        clips = "LEFT JOIN clips c ON c.highlight_id = h.id"
        if not filters.query:
            sql = f"SELECT {columns} FROM highlights h {clips} WHERE {' AND '.join(where)}"
            return [
                _stored(r)
                for r in self._rows(
                    f"{sql} ORDER BY h.pressed_at DESC, h.id DESC LIMIT ?", (*params, limit)
                )
            ]
        marks = ", ".join(
            f"highlight(search, {i}, '{MARK_OPEN}', '{MARK_CLOSE}') AS m_{name}"
            for i, name in enumerate(SEARCHED)
        )
        sql = (
            f"SELECT {columns}, {marks} FROM search"
            f" JOIN highlights h ON h.rowid = search.rowid {clips}"
            f" WHERE search MATCH ? AND {' AND '.join(where)}"
            " ORDER BY bm25(search), h.pressed_at DESC LIMIT ?"
        )
        rows = self._rows(sql, (fts_query(filters.query), *params, limit))
        return [_stored(r, {name: r[f"m_{name}"] for name in SEARCHED}) for r in rows]

    def episode(self, key: str) -> tuple[list[Stored], list[EpisodePayload]]:
        """One episode's highlights in the order they were pressed, and its key points."""
        rows = self._rows(
            "SELECT h.payload, h.episode_key, c.highlight_id IS NOT NULL AS has_clip"
            " FROM highlights h LEFT JOIN clips c ON c.highlight_id = h.id"
            " WHERE h.episode_key = ? AND h.deleted = 0 ORDER BY h.pressed_at",
            (key,),
        )
        points = self._rows("SELECT payload FROM key_points WHERE episode_key = ?", (key,))
        return [_stored(r) for r in rows], [
            EpisodePayload(**json.loads(p["payload"])) for p in points
        ]

    def everything(self, key: str | None = None) -> list[Stored]:
        """For a Markdown export: one episode's highlights, or all, oldest first."""
        where = "h.deleted = 0" + (" AND h.episode_key = ?" if key else "")
        rows = self._rows(
            "SELECT h.payload, h.episode_key, 0 AS has_clip FROM highlights h"
            f" WHERE {where} ORDER BY h.pressed_at",
            (key,) if key else (),
        )
        return [_stored(r) for r in rows]

    def speakers(self) -> list[Speaker]:
        rows = self._rows(
            "SELECT s.*, x.payload AS exports FROM speakers s"
            " LEFT JOIN speaker_exports x ON x.device_id = s.device_id ORDER BY s.device_id"
        )
        return [
            Speaker(
                r["device_id"],
                bool(r["online"]),
                StatePayload(**json.loads(r["state"])) if r["state"] else None,
                r["seen_at"],
                json.loads(r["exports"])["targets"] if r["exports"] else [],
            )
            for r in rows
        ]

    def podcasts(self) -> list[str]:
        return [
            r[0] for r in self._rows("SELECT DISTINCT podcast FROM highlights ORDER BY podcast")
        ]

    def last_update(self, device_id: str) -> str | None:
        """The newest ``updated_at`` of a speaker's highlights: a resync asks from there."""
        rows = self._rows(
            "SELECT max(updated_at) FROM highlights WHERE device_id = ?", (device_id,)
        )
        return rows[0][0] if rows else None

    def count(self) -> int:
        return int(self._rows("SELECT count(*) FROM highlights")[0][0])


def fts_query(text: str) -> str:
    """The listener's words as FTS5 terms (each quoted, so no word is taken as
    FTS5 syntax), all of them required; the last one also as a prefix."""
    words = [w.replace('"', '""') for w in text.split() if w.strip('"')]
    if not words:
        return '""'
    terms = [f'"{w}"' for w in words]
    terms[-1] += "*"
    return " ".join(terms)


def _stored(row: sqlite3.Row, marked: dict[str, str] | None = None) -> Stored:
    return Stored(
        HighlightPayload(**json.loads(row["payload"])),
        row["episode_key"],
        bool(row["has_clip"]),
        marked,
    )


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
