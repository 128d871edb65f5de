"""Jobs: durable units of work with attempts and backoff.

A job is a row; the worker claims the most urgent ready one (lower priority
number first, so snips run before look-ahead). On start, jobs left ``running``
by a crash go back to ``queued``.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Collection
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING

from earmark.store.database import Database, utc_now

if TYPE_CHECKING:
    from earmark.store.highlights import HighlightBook


class JobKind(StrEnum):
    """What a job does; the values are what the ``jobs`` table stores."""

    CLIP = "clip"  # secure the audio of a snip's window
    TRANSCRIBE = "transcribe"  # the snip's words, its window snapped to sentences
    TAKEAWAYS = "takeaways"  # title, takeaways and the final clip: the snip is done
    REFINE = "refine"  # an LLM's takeaways after the on-device ones: the next version
    KEY_POINTS = "key_points"  # an episode's key points, once it is transcribed to its end
    LOOKAHEAD = "lookahead"  # transcribe the playing episode ahead of the listener
    EXPORT = "export"  # a done highlight (or its change) to one export target


# priorities: lower runs first
SNIP_PRIORITY = 0
REGENERATE_PRIORITY = 5  # takeaways made again on request: after new snips' stages
LOOKAHEAD_PRIORITY = 10


@dataclass(frozen=True)
class Job:
    id: int
    kind: str
    highlight_id: str | None
    episode_id: int | None
    priority: int
    status: str
    attempts: int
    run_after: float
    last_error: str | None
    created_at: str
    updated_at: str
    target: str | None = None  # an export job's target


def _job(row: sqlite3.Row) -> Job:
    return Job(**{k: row[k] for k in row.keys()})  # noqa: SIM118 (a Row is no dict)


def enqueue(
    conn: sqlite3.Connection,
    kind: JobKind,
    *,
    highlight_id: str | None = None,
    episode_id: int | None = None,
    priority: int = SNIP_PRIORITY,
    delay: float = 0.0,
    target: str | None = None,
) -> int:
    now = utc_now()
    run_after = time.time() + delay if delay > 0 else 0.0
    cursor = conn.execute(
        "INSERT INTO jobs (kind, highlight_id, episode_id, priority, status, run_after,"
        " created_at, updated_at, target) VALUES (?, ?, ?, ?, 'queued', ?, ?, ?, ?)",
        (kind, highlight_id, episode_id, priority, run_after, now, now, target),
    )
    return int(cursor.lastrowid or 0)


def supersede_queued(conn: sqlite3.Connection, highlight_id: str, reason: str) -> int:
    """Drop the highlight's jobs still waiting (mark them done with ``reason``), in
    the caller's transaction; returns how many."""
    cursor = conn.execute(
        "UPDATE jobs SET status = 'done', last_error = ?, updated_at = ? "
        "WHERE highlight_id = ? AND status = 'queued'",
        (reason, utc_now(), highlight_id),
    )
    return cursor.rowcount


def waiting_for_episode(conn: sqlite3.Connection, kind: JobKind, episode_id: int) -> bool:
    """True when a ``kind`` job for ``episode_id`` is queued or running."""
    return _waiting(conn, kind, "episode_id", episode_id)


def waiting_for_highlight(conn: sqlite3.Connection, kind: JobKind, highlight_id: str) -> bool:
    """True when a ``kind`` job for ``highlight_id`` is queued or running."""
    return _waiting(conn, kind, "highlight_id", highlight_id)


def _waiting(conn: sqlite3.Connection, kind: JobKind, column: str, value: object) -> bool:
    row = conn.execute(
        f"SELECT 1 FROM jobs WHERE kind = ? AND {column} = ? "
        "AND status IN ('queued', 'running') LIMIT 1",
        (kind, value),
    ).fetchone()
    return row is not None


class JobQueue:
    def __init__(self, db: Database, max_attempts: int = 5, backoff_seconds: float = 5.0) -> None:
        self.db = db
        self.max_attempts = max_attempts
        self.backoff_seconds = backoff_seconds

    def resume_interrupted(self) -> int:
        """Jobs a crash left running go back in the queue; returns how many."""
        with self.db.transaction() as conn:
            cursor = conn.execute(
                "UPDATE jobs SET status = 'queued', updated_at = ? WHERE status = 'running'",
                (utc_now(),),
            )
            return cursor.rowcount

    def claim(
        self, max_priority: int | None = None, kinds: Collection[str] | None = None
    ) -> Job | None:
        """Mark the most urgent ready job running (of ``kinds``, when given) and
        return it."""
        limit = "" if max_priority is None else f"AND priority <= {int(max_priority)}"
        only = "" if kinds is None else f"AND kind IN ({', '.join('?' for _ in kinds)})"
        with self.db.transaction() as conn:
            row = conn.execute(
                f"SELECT * FROM jobs WHERE status = 'queued' AND run_after <= ? {limit} {only} "
                "ORDER BY priority, id LIMIT 1",
                (time.time(), *(kinds or ())),
            ).fetchone()
            if row is None:
                return None
            conn.execute(
                "UPDATE jobs SET status = 'running', attempts = attempts + 1, updated_at = ? "
                "WHERE id = ?",
                (utc_now(), row["id"]),
            )
            row = conn.execute("SELECT * FROM jobs WHERE id = ?", (row["id"],)).fetchone()
        return _job(row)

    def finish(self, conn: sqlite3.Connection, job: Job) -> None:
        """Mark ``job`` done inside the caller's transaction (with the result it wrote)."""
        conn.execute(
            "UPDATE jobs SET status = 'done', last_error = NULL, updated_at = ? WHERE id = ?",
            (utc_now(), job.id),
        )

    def fail(
        self,
        job: Job,
        error: str,
        retry: bool = True,
        highlight_book: HighlightBook | None = None,
        delay: float | None = None,
    ) -> bool:
        """Record ``error``; requeue with backoff (or after ``delay`` seconds, what a
        server asked for) unless out of attempts. True if final.

        With ``highlight_book``, a final failure also marks the job's highlight
        failed (with its outbox row) in the same transaction: no crash can leave a
        failed job beside a highlight still waiting for it.
        """
        final = not retry or job.attempts >= self.max_attempts
        if delay is None:
            delay = self.backoff_seconds * (2 ** max(0, job.attempts - 1))
        with self.db.transaction() as conn:
            conn.execute(
                "UPDATE jobs SET status = ?, last_error = ?, run_after = ?, updated_at = ? "
                "WHERE id = ?",
                (
                    "failed" if final else "queued",
                    error[:500],
                    time.time() + delay,
                    utc_now(),
                    job.id,
                ),
            )
            if final and highlight_book is not None and job.highlight_id:
                highlight_book.mark_failed(conn, job.highlight_id, error)
        return final

    def retry(self, job_id: int) -> bool:
        with self.db.transaction() as conn:
            cursor = conn.execute(
                "UPDATE jobs SET status = 'queued', attempts = 0, run_after = 0, updated_at = ? "
                "WHERE id = ? AND status IN ('failed', 'queued')",
                (utc_now(), job_id),
            )
            return cursor.rowcount == 1

    def next_wakeup(self) -> float | None:
        rows = self.db.query("SELECT min(run_after) FROM jobs WHERE status = 'queued'")
        return rows[0][0]

    def list(self, limit: int = 50) -> list[Job]:
        rows = self.db.query(
            "SELECT * FROM jobs ORDER BY CASE status WHEN 'running' THEN 0 WHEN 'queued' THEN 1 "
            "WHEN 'failed' THEN 2 ELSE 3 END, id DESC LIMIT ?",
            (limit,),
        )
        return [_job(r) for r in rows]
