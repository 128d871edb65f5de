"""Jobs: durable units of work with attempts and backoff.

A job is a row; the worker claims the most urgent ready one (lower priority
number first, so snips run before look-ahead). On start, jobs left ``running``
by a crash go back to ``queued``.

When a job may run (``run_after``) is kept on the queue's ``JobClock``: the
wall clock read once at start, then advanced by the monotonic clock, so a clock
that jumps while the speaker runs (a Pi without RTC meeting NTP) neither fires a
backoff at once nor delays it a year. Across a restart the stored times meet a
new start's wall clock: a job is then never kept waiting longer than it was
asked to wait when queued (its ``updated_at`` is stamped from the same clock).
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import UTC, datetime
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


class JobClock:
    """Seconds since the epoch as the wall clock said at start, advanced since by
    the monotonic clock: durations and readiness survive clock jumps, and the
    figures still read as dates for display."""

    def __init__(
        self,
        wall: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.monotonic = monotonic
        self._offset = wall() - monotonic()

    def __call__(self) -> float:
        return self._offset + self.monotonic()


# the process's queue clock, for writers that hold only a connection
PROCESS_CLOCK = JobClock()


def stamp(moment: float) -> str:
    """``moment`` as the store writes times (UTC ISO-8601, milliseconds)."""
    return datetime.fromtimestamp(moment, UTC).isoformat(timespec="milliseconds")[:-6] + "Z"


def _job(row: sqlite3.Row) -> Job:
    return Job(**{k: row[k] for k in row.keys()})  # noqa: SIM118 (a Row is no dict)


def _seconds(stamped: str) -> float:
    try:
        return datetime.fromisoformat(stamped).timestamp()
    except ValueError:
        return 0.0  # not a stamp of ours: the job keeps the time it has


def enqueue(
    conn: sqlite3.Connection,
    kind: JobKind,
    *,
    highlight_id: str | None = None,
    episode_id: int | None = None,
    priority: int = SNIP_PRIORITY,
    delay: float = 0.0,
    target: str | None = None,
    clock: Callable[[], float] = PROCESS_CLOCK,
) -> int:
    moment = clock()
    now = stamp(moment)
    run_after = moment + delay if delay > 0 else 0.0
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
    def __init__(
        self,
        db: Database,
        max_attempts: int = 5,
        backoff_seconds: float = 5.0,
        clock: Callable[[], float] = PROCESS_CLOCK,
    ) -> None:
        self.db = db
        self.max_attempts = max_attempts
        self.backoff_seconds = backoff_seconds
        self.clock = clock

    def now(self) -> float:
        """The queue's clock (see ``JobClock``)."""
        return self.clock()

    def resume_interrupted(self) -> int:
        """Jobs a crash left running go back in the queue; returns how many. Jobs
        waiting further ahead than they were asked to wait (the clock went back
        since) wait only that long from now."""
        moment = self.clock()
        with self.db.transaction() as conn:
            cursor = conn.execute(
                "UPDATE jobs SET status = 'queued', updated_at = ? WHERE status = 'running'",
                (stamp(moment),),
            )
            waiting = conn.execute(
                "SELECT id, run_after, updated_at FROM jobs WHERE status = 'queued'"
                " AND run_after > ?",
                (moment,),
            ).fetchall()
            for row in waiting:
                asked = row["run_after"] - _seconds(row["updated_at"])
                if moment + max(0.0, asked) < row["run_after"]:
                    conn.execute(
                        "UPDATE jobs SET run_after = ? WHERE id = ?",
                        (moment + max(0.0, asked), row["id"]),
                    )
            return cursor.rowcount

    def release_running(self) -> list[tuple[int, str]]:
        """Jobs left running at a stop go back in the queue, the attempt not
        counted (the stop was not their failure); (id, kind) of each."""
        with self.db.transaction() as conn:
            rows = conn.execute("SELECT id, kind FROM jobs WHERE status = 'running'").fetchall()
            conn.execute(
                "UPDATE jobs SET status = 'queued', attempts = max(0, attempts - 1),"
                " updated_at = ? WHERE status = 'running'",
                (stamp(self.clock()),),
            )
        return [(int(r["id"]), str(r["kind"])) for r in rows]

    def release(self, job_id: int) -> bool:
        """One job claimed but not finished (the database refused its result) goes
        back in the queue, the attempt not counted; whether it was still running."""
        with self.db.transaction() as conn:
            cursor = conn.execute(
                "UPDATE jobs SET status = 'queued', attempts = max(0, attempts - 1),"
                " updated_at = ? WHERE id = ? AND status = 'running'",
                (stamp(self.clock()), job_id),
            )
            return cursor.rowcount > 0

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
                (self.clock(), *(kinds or ())),
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
        moment = self.clock()
        with self.db.transaction() as conn:
            conn.execute(
                "UPDATE jobs SET status = ?, last_error = ?, run_after = ?, updated_at = ? "
                "WHERE id = ?",
                (
                    "failed" if final else "queued",
                    error[:500],
                    moment + delay,
                    stamp(moment),
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
        """When the next queued job is ready, on the queue's clock; None if none waits."""
        rows = self.db.query("SELECT min(run_after) FROM jobs WHERE status = 'queued'")
        return rows[0][0]

    def seconds_to_next(self) -> float | None:
        """Seconds until the next queued job is ready (0 or less: one is); None if
        none waits."""
        wakeup = self.next_wakeup()
        return None if wakeup is None else wakeup - self.clock()

    def list(self, limit: int = 50) -> list[Job]:
        rows = self.db.query(
            "SELECT * FROM jobs ORDER BY CASE status WHEN 'running' THEN 0 WHEN 'queued' THEN 1 "
            "WHEN 'failed' THEN 2 ELSE 3 END, id DESC LIMIT ?",
            (limit,),
        )
        return [_job(r) for r in rows]
