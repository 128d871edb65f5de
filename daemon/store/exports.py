"""What each export target holds of each highlight, and which targets are parked.

The id a target gave an item is written in the same transaction as the job's
completion: a crash before it leaves the job to run again, and the exporter,
given no id, finds the item by the highlight's own stable key (Readwise's
``highlight_url``, a Notion property, a file name), so no second item is made.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

from earmark.store import jobs as job_table
from earmark.store.database import Database, utc_now
from earmark.store.highlights import DONE, Highlight, _from_row

EXPORT_PRIORITY = 20  # after snips and the look-ahead: nothing waits for an export


@dataclass(frozen=True)
class Exported:
    external_id: str | None
    version: int
    removed: bool


@dataclass(frozen=True)
class EpisodeRow:
    podcast: str
    title: str
    author: str
    feed_url: str
    url: str
    published_at: str | None
    artwork: str | None


class ExportBook:
    def __init__(self, db: Database) -> None:
        self.db = db

    def queue(self, conn: sqlite3.Connection, highlight_id: str, targets: list[str]) -> int:
        """An export job per target, unless one is already waiting; how many."""
        queued = 0
        for target in targets:
            waiting = conn.execute(
                "SELECT 1 FROM jobs WHERE kind = ? AND highlight_id = ? AND target = ?"
                " AND status = 'queued' LIMIT 1",
                (job_table.JobKind.EXPORT, highlight_id, target),
            ).fetchone()
            if waiting is None:
                job_table.enqueue(
                    conn,
                    job_table.JobKind.EXPORT,
                    highlight_id=highlight_id,
                    priority=EXPORT_PRIORITY,
                    target=target,
                )
                queued += 1
        return queued

    def behind(self, targets: list[str]) -> list[tuple[str, str]]:
        """(target, highlight id) for every done highlight a target does not hold
        at its current version and no job is waiting for: what a crash or a new
        target left to do."""
        found: list[tuple[str, str]] = []
        for target in targets:
            rows = self.db.query(
                "SELECT h.id FROM highlights h LEFT JOIN exports x"
                " ON x.highlight_id = h.id AND x.target = ?"
                " WHERE h.status = ? AND (x.highlight_id IS NULL AND h.deleted = 0"
                " OR x.exported_version < h.version)"
                " AND NOT EXISTS (SELECT 1 FROM jobs j WHERE j.kind = ? AND j.target = ?"
                " AND j.highlight_id = h.id AND j.status IN ('queued', 'running'))",
                (target, DONE, job_table.JobKind.EXPORT, target),
            )
            found.extend((target, row[0]) for row in rows)
        return found

    def highlight(self, highlight_id: str) -> Highlight | None:
        rows = self.db.query("SELECT * FROM highlights WHERE id = ?", (highlight_id,))
        return _from_row(rows[0]) if rows else None

    def episode(self, h: Highlight) -> EpisodeRow:
        rows = (
            self.db.query(
                "SELECT p.title AS podcast, p.author, p.feed_url, e.title, e.enclosure_url,"
                " e.published_at, coalesce(e.image_url, p.image_url) AS artwork"
                " FROM episodes e JOIN podcasts p ON p.id = e.podcast_id WHERE e.id = ?",
                (h.episode_id,),
            )
            if h.episode_id is not None
            else []
        )
        if not rows:
            return EpisodeRow(h.podcast_title, h.episode_title, "", "", h.source_url, None, None)
        r = rows[0]
        return EpisodeRow(
            r["podcast"] or h.podcast_title,
            r["title"] or h.episode_title,
            r["author"],
            r["feed_url"],
            r["enclosure_url"],
            r["published_at"],
            r["artwork"],
        )

    def siblings(self, h: Highlight) -> list[Highlight]:
        """The episode's done highlights the listener kept, in the episode's order."""
        key, value = ("episode_id", h.episode_id) if h.episode_id else ("source_url", h.source_url)
        rows = self.db.query(
            f"SELECT * FROM highlights WHERE {key} = ? AND status = ? AND deleted = 0"
            " ORDER BY start, pressed_at",
            (value, DONE),
        )
        return [_from_row(r) for r in rows]

    def exported(self, target: str, highlight_id: str) -> Exported | None:
        rows = self.db.query(
            "SELECT external_id, exported_version, removed FROM exports"
            " WHERE target = ? AND highlight_id = ?",
            (target, highlight_id),
        )
        if not rows:
            return None
        return Exported(rows[0][0], int(rows[0][1]), bool(rows[0][2]))

    def record(
        self,
        conn: sqlite3.Connection,
        target: str,
        highlight_id: str,
        external_id: str | None,
        version: int,
        removed: bool = False,
    ) -> None:
        conn.execute(
            "INSERT INTO exports (target, highlight_id, external_id, exported_version, removed,"
            " exported_at) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (target, highlight_id) DO"
            " UPDATE SET external_id = excluded.external_id,"
            " exported_version = excluded.exported_version, removed = excluded.removed,"
            " exported_at = excluded.exported_at",
            (target, highlight_id, external_id, version, int(removed), utc_now()),
        )

    def external_ids(self, target: str) -> dict[str, str]:
        rows = self.db.query(
            "SELECT highlight_id, external_id FROM exports WHERE target = ?"
            " AND external_id IS NOT NULL",
            (target,),
        )
        return {r[0]: r[1] for r in rows}

    # -- parking: a refused token is not tried again until the settings change -------

    def park(self, conn: sqlite3.Connection, target: str, reason: str, settings: str) -> None:
        conn.execute(
            "INSERT INTO export_targets (target, parked, settings, changed_at) VALUES (?,?,?,?)"
            " ON CONFLICT (target) DO UPDATE SET parked = excluded.parked,"
            " settings = excluded.settings, changed_at = excluded.changed_at",
            (target, reason, settings, utc_now()),
        )

    def parked(self) -> dict[str, tuple[str, str]]:
        """target -> (why, the settings' fingerprint then)."""
        rows = self.db.query(
            "SELECT target, parked, settings FROM export_targets WHERE parked IS NOT NULL"
        )
        return {r[0]: (r[1], r[2]) for r in rows}

    def unpark(self, target: str) -> int:
        """Run the target again: its waiting jobs are due now; how many."""
        with self.db.transaction() as conn:
            conn.execute(
                "UPDATE export_targets SET parked = NULL, changed_at = ? WHERE target = ?",
                (utc_now(), target),
            )
            cursor = conn.execute(
                "UPDATE jobs SET run_after = 0, attempts = 0, updated_at = ?"
                " WHERE kind = ? AND target = ? AND status = 'queued'",
                (utc_now(), job_table.JobKind.EXPORT, target),
            )
            return cursor.rowcount

    def postpone(self, conn: sqlite3.Connection, job_id: int, seconds: float, why: str) -> None:
        """Back in the queue for later, not counted as an attempt (on the queue's
        clock, see ``jobs.JobClock``)."""
        moment = job_table.PROCESS_CLOCK()
        conn.execute(
            "UPDATE jobs SET status = 'queued', attempts = max(0, attempts - 1),"
            " run_after = ?, last_error = ?, updated_at = ? WHERE id = ?",
            (moment + seconds, why[:500], job_table.stamp(moment), job_id),
        )

    def counts(self) -> dict[str, int]:
        """Items held per target, for status and doctor."""
        rows = self.db.query(
            "SELECT target, count(*) FROM exports WHERE removed = 0 GROUP BY target"
        )
        return {r[0]: int(r[1]) for r in rows}
