"""Highlights: the saved moments, and their outbox rows in the same transaction."""

from __future__ import annotations

import dataclasses
import json
import sqlite3
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from earmark.payloads import HighlightPayload
from earmark.store import jobs as job_table
from earmark.store import outbox
from earmark.store.database import Database, utc_now

PENDING, CLIPPED, TRANSCRIBED, DONE, FAILED = "pending", "clipped", "transcribed", "done", "failed"


@dataclass(frozen=True)
class Highlight:
    id: str
    status: str
    pressed_at: str
    press_position: float
    start: float
    end: float
    episode_id: int | None = None
    podcast_title: str = ""
    episode_title: str = ""
    source_url: str = ""
    input_source: str = ""
    version: int = 1
    transcript: str | None = None
    transcript_source: str | None = None
    title: str | None = None
    takeaways: tuple[str, ...] = field(default_factory=tuple)
    clip_path: str | None = None
    clip_seconds: float | None = None
    clip_start: float | None = None
    error: str | None = None
    updated_at: str = ""
    # why there is no transcript, when there is none for a reason the listener
    # should see (the model cannot transcribe the podcast's language)
    transcript_unavailable: str | None = None
    # passages of the transcript heard with low confidence: never takeaways
    low_confidence: tuple[str, ...] = field(default_factory=tuple)
    # the listener's own (``edit``): kept through every later stage
    note: str = ""
    starred: bool = False
    tags: tuple[str, ...] = field(default_factory=tuple)
    deleted: bool = False
    title_edited: bool = False  # the title is the listener's: the summarizer keeps it
    # the sentence the listener pressed for, word for word, and where it begins
    quote: str | None = None
    quote_at: float | None = None
    summarizer: str | None = None  # what wrote title and takeaways: "minilm 1"
    summary_fallback: str | None = None  # why not the configured summarizer

    @staticmethod
    def elsewhere(
        highlight_id: str, start: float, podcast: str, episode: str, source_url: str
    ) -> Highlight:
        """A highlight another speaker holds, as much of it as finds its moment here."""
        return Highlight(
            id=highlight_id,
            status=DONE,
            pressed_at="",
            press_position=start,
            start=start,
            end=start,
            podcast_title=podcast,
            episode_title=episode,
            source_url=source_url,
        )

    @staticmethod
    def new_id() -> str:
        return uuid.uuid4().hex

    def payload(self, device_id: str, artwork: str | None = None) -> HighlightPayload:
        return HighlightPayload(
            id=self.id,
            version=self.version,
            status=self.status,
            device_id=device_id,
            pressed_at=self.pressed_at,
            updated_at=self.updated_at,
            input_source=self.input_source,
            podcast=self.podcast_title,
            episode=self.episode_title,
            source_url=self.source_url,
            press_position=round(self.press_position, 3),
            start=round(self.start, 3),
            end=round(self.end, 3),
            transcript=self.transcript,
            transcript_source=self.transcript_source,
            title=self.title,
            takeaways=list(self.takeaways),
            clip_seconds=self.clip_seconds,
            error=self.error,
            transcript_unavailable=self.transcript_unavailable,
            low_confidence=list(self.low_confidence),
            note=self.note,
            starred=self.starred,
            tags=list(self.tags),
            deleted=self.deleted,
            quote=self.quote,
            quote_at=round(self.quote_at, 3) if self.quote_at is not None else None,
            summarizer=self.summarizer,
            summary_fallback=self.summary_fallback,
            episode_id=self.episode_id,
            artwork=artwork,
        )


_COLUMNS = (
    "id",
    "version",
    "episode_id",
    "podcast_title",
    "episode_title",
    "source_url",
    "status",
    "input_source",
    "pressed_at",
    "press_position",
    "start",
    "end",
    "transcript",
    "transcript_source",
    "title",
    "takeaways_json",
    "clip_path",
    "clip_seconds",
    "clip_start",
    "error",
    "updated_at",
    "transcript_unavailable",
    "low_confidence_json",
    "note",
    "starred",
    "tags_json",
    "deleted",
    "title_edited",
    "quote",
    "quote_at",
    "summarizer",
    "summary_fallback",
)
_FLAGS = ("starred", "deleted", "title_edited")


def _row(h: Highlight) -> tuple:
    values = dataclasses.asdict(h)
    values["takeaways_json"] = json.dumps(list(h.takeaways))
    values["low_confidence_json"] = json.dumps(list(h.low_confidence))
    values["tags_json"] = json.dumps(list(h.tags))
    return tuple(values[c] for c in _COLUMNS)


def _from_row(row: sqlite3.Row) -> Highlight:
    data = {c: row[c] for c in _COLUMNS if not c.endswith("_json")}
    data["takeaways"] = tuple(json.loads(row["takeaways_json"] or "[]"))
    data["low_confidence"] = tuple(json.loads(row["low_confidence_json"] or "[]"))
    data["tags"] = tuple(json.loads(row["tags_json"] or "[]"))
    data.update({flag: bool(row[flag]) for flag in _FLAGS})
    return Highlight(**data)


class HighlightBook:
    """Every write of a highlight also queues its whole payload for MQTT."""

    def __init__(
        self,
        db: Database,
        device_id: str,
        on_change: Callable[[Highlight], None] = lambda highlight: None,
    ) -> None:
        self.db = db
        self.device_id = device_id
        # told of every committed version, on the writing thread, after the commit
        self.on_change = on_change

    def add(
        self, highlight: Highlight, jobs: Sequence[tuple[job_table.JobKind, int]] = ()
    ) -> Highlight:
        """Insert a new highlight with its first jobs ((kind, priority), ...) in one commit."""
        saved = dataclasses.replace(highlight, updated_at=utc_now())
        placeholders = ", ".join("?" for _ in _COLUMNS)
        columns = ", ".join(f'"{c}"' for c in _COLUMNS)
        with self.db.transaction() as conn:
            conn.execute(f"INSERT INTO highlights ({columns}) VALUES ({placeholders})", _row(saved))
            for kind, priority in jobs:
                job_table.enqueue(conn, kind, highlight_id=saved.id, priority=priority)
            self._queue(conn, saved)
        return saved

    def update(
        self, highlight_id: str, conn: sqlite3.Connection | None = None, **changes: object
    ) -> Highlight:
        """Apply ``changes``, bump the version, queue the payload: one transaction
        (or the caller's, when ``conn`` is given)."""
        if conn is None:
            with self.db.transaction() as own:
                return self.update(highlight_id, own, **changes)
        current = self._get(conn, highlight_id)
        if current is None:
            raise KeyError(highlight_id)
        if current.title_edited and "title_edited" not in changes:
            changes.pop("title", None)  # the listener's title: only ``edit`` changes it
        updated = dataclasses.replace(
            current,
            version=current.version + 1,
            updated_at=utc_now(),
            **changes,  # type: ignore[arg-type]
        )
        assignments = ", ".join(f'"{c}" = ?' for c in _COLUMNS[1:])
        conn.execute(
            f"UPDATE highlights SET {assignments} WHERE id = ?", (*_row(updated)[1:], updated.id)
        )
        self._queue(conn, updated)
        return updated

    def mark_failed(
        self, conn: sqlite3.Connection, highlight_id: str, error: str
    ) -> Highlight | None:
        """Mark the highlight failed with ``error`` in the caller's transaction; None
        if it was deleted meanwhile."""
        if self.version(conn, highlight_id) is None:
            return None
        return self.update(highlight_id, conn, status=FAILED, error=error)

    def extend(
        self, highlight_id: str, end: float, first: job_table.JobKind, reason: str
    ) -> Highlight:
        """Give the highlight a later ``end`` and start its stages again from ``first``:
        its jobs still waiting for the shorter window are dropped (``reason``), all
        in one transaction."""
        with self.db.transaction() as conn:
            extended = self.update(highlight_id, conn, end=end, status=PENDING, error=None)
            self._start_again(conn, highlight_id, first, reason)
        return extended

    def edit(self, highlight_id: str, changes: dict[str, object]) -> Highlight:
        """The listener's changes (title, note, starred, tags, deleted, start, end) as
        one new version; a title of None or "" gives the title back to the summarizer,
        which makes it again the next time takeaways run. A new window (start, end:
        checked by the caller) makes the highlight pending and queues its clip again,
        its waiting stages dropped, in the same transaction. Unchanged: no new version."""
        with self.db.transaction() as conn:
            current = self._get(conn, highlight_id)
            if current is None:
                raise KeyError(highlight_id)
            wanted = dict(changes)
            for edge in ("start", "end"):
                # the payload rounds the window to milliseconds: that value is no move
                if edge in wanted and _same_time(wanted[edge], getattr(current, edge)):
                    del wanted[edge]
            moved = "start" in wanted or "end" in wanted
            if "title" in wanted:
                title = wanted["title"] or None
                wanted["title_edited"] = title is not None
                wanted["title"] = title if title is not None else current.title
            if "tags" in wanted:
                wanted["tags"] = tuple(wanted["tags"])  # type: ignore[arg-type]
            if "note" in wanted:
                wanted["note"] = wanted["note"] or ""
            if all(getattr(current, key) == value for key, value in wanted.items()):
                return current
            if not moved:
                return self.update(highlight_id, conn, **wanted)
            edited = self.update(highlight_id, conn, **wanted, status=PENDING, error=None)
            self._start_again(
                conn, highlight_id, job_table.JobKind.CLIP, "superseded by the listener's window"
            )
            return edited

    @staticmethod
    def _start_again(
        conn: sqlite3.Connection, highlight_id: str, first: job_table.JobKind, reason: str
    ) -> None:
        """The highlight's stages from ``first`` again: its jobs still waiting for the
        old window are dropped (``reason``), in the caller's transaction."""
        job_table.supersede_queued(conn, highlight_id, reason)
        job_table.enqueue(conn, first, highlight_id=highlight_id)

    def keep_summary(
        self,
        conn: sqlite3.Connection,
        highlight: Highlight,
        title: str | None,
        backend: str,
        backend_version: str,
    ) -> None:
        """Keep the summary that ``highlight`` (a version just written) carries, with
        the summarizer's own ``title`` (the listener's may stand in the highlight)."""
        conn.execute(
            "INSERT INTO summaries (highlight_id, version, backend, backend_version, title,"
            " quote, quote_at, takeaways_json, fallback_reason, created_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                highlight.id,
                highlight.version,
                backend,
                backend_version,
                title,
                highlight.quote,
                highlight.quote_at,
                json.dumps(list(highlight.takeaways), ensure_ascii=False),
                highlight.summary_fallback,
                utc_now(),
            ),
        )

    def summaries(self, highlight_id: str) -> list[dict[str, object]]:
        """Every summary the highlight was given, oldest first."""
        rows = self.db.query(
            "SELECT version, backend, backend_version, title, quote, quote_at, takeaways_json,"
            " fallback_reason, created_at FROM summaries WHERE highlight_id = ? ORDER BY id",
            (highlight_id,),
        )
        return [
            {
                **{k: r[k] for k in r.keys() if k != "takeaways_json"},  # noqa: SIM118
                "takeaways": json.loads(r["takeaways_json"]),
            }
            for r in rows
        ]

    def regenerate(self, highlight_ids: Sequence[str]) -> int:
        """Queue the takeaways stage again for each highlight (one that is waiting
        for it already is left as it is), in one transaction; returns how many."""
        kind = job_table.JobKind.TAKEAWAYS
        queued = 0
        with self.db.transaction() as conn:
            for highlight_id in highlight_ids:
                if not job_table.waiting_for_highlight(conn, kind, highlight_id):
                    job_table.enqueue(
                        conn,
                        kind,
                        highlight_id=highlight_id,
                        priority=job_table.REGENERATE_PRIORITY,
                    )
                    queued += 1
        return queued

    def _queue(self, conn: sqlite3.Connection, highlight: Highlight) -> None:
        outbox.enqueue(conn, "highlight", self.payload_json(conn, highlight))
        self.db.after_commit(lambda: self.on_change(highlight))

    def published(self, conn: sqlite3.Connection, highlight_id: str) -> bytes | None:
        """The current version's payload, read inside the caller's transaction."""
        highlight = self._get(conn, highlight_id)
        return self.payload_json(conn, highlight) if highlight else None

    def payload_json(self, conn: sqlite3.Connection, highlight: Highlight) -> bytes:
        """The highlight as it is published, with its episode's artwork."""
        artwork = None
        if highlight.episode_id is not None:
            row = conn.execute(
                "SELECT coalesce(e.image_url, p.image_url) FROM episodes e"
                " JOIN podcasts p ON p.id = e.podcast_id WHERE e.id = ?",
                (highlight.episode_id,),
            ).fetchone()
            artwork = row[0] if row else None
        return highlight.payload(self.device_id, artwork).to_json()

    @staticmethod
    def _get(conn: sqlite3.Connection, highlight_id: str) -> Highlight | None:
        row = conn.execute("SELECT * FROM highlights WHERE id = ?", (highlight_id,)).fetchone()
        return _from_row(row) if row else None

    @staticmethod
    def window(conn: sqlite3.Connection, highlight_id: str) -> tuple[float, float] | None:
        """The stored (start, end) of the highlight, inside the caller's transaction."""
        found = conn.execute(
            'SELECT start, "end" FROM highlights WHERE id = ?', (highlight_id,)
        ).fetchone()
        return (float(found[0]), float(found[1])) if found is not None else None

    @staticmethod
    def version(conn: sqlite3.Connection, highlight_id: str) -> int | None:
        """The stored version of the highlight, inside the caller's transaction."""
        row = conn.execute("SELECT version FROM highlights WHERE id = ?", (highlight_id,))
        found = row.fetchone()
        return int(found[0]) if found is not None else None

    def get(self, highlight_id: str) -> Highlight | None:
        with self.db.lock:
            return self._get(self.db.connection, highlight_id)

    def latest(self, limit: int = 20) -> list[Highlight]:
        """The newest highlights the listener has not deleted."""
        rows = self.db.query(
            "SELECT * FROM highlights WHERE deleted = 0 ORDER BY pressed_at DESC LIMIT ?",
            (limit,),
        )
        return [_from_row(r) for r in rows]

    def with_transcript(self) -> list[str]:
        """The ids of every highlight whose takeaways can be made again (oldest first)."""
        rows = self.db.query(
            "SELECT id FROM highlights WHERE deleted = 0 AND transcript IS NOT NULL"
            " AND transcript_unavailable IS NULL AND status IN (?, ?) ORDER BY pressed_at",
            (DONE, FAILED),
        )
        return [str(r["id"]) for r in rows]

    def recent_for_source(self, source_url: str, since_position: float) -> Highlight | None:
        """The newest highlight of ``source_url`` whose window, or its press, reaches
        ``since_position`` (snapping may have ended a window before its press)."""
        rows = self.db.query(
            'SELECT * FROM highlights WHERE source_url = ? AND max("end", press_position) >= ?'
            " AND status != ? ORDER BY pressed_at DESC LIMIT 1",
            (source_url, since_position, FAILED),
        )
        return _from_row(rows[0]) if rows else None


def _same_time(wanted: object, stored: float) -> bool:
    """``wanted`` (seconds) is ``stored`` as a payload shows it (to the millisecond)."""
    return isinstance(wanted, (int, float)) and round(float(wanted), 3) == round(stored, 3)
