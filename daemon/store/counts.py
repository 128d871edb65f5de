"""Counts the status line shows: highlights kept, jobs waiting."""

from __future__ import annotations

from earmark.store.database import Database


def highlights(db: Database) -> int:
    return int(db.query("SELECT count(*) FROM highlights")[0][0])


def jobs_waiting(db: Database) -> int:
    return int(db.query("SELECT count(*) FROM jobs WHERE status IN ('queued', 'running')")[0][0])


def exports(db: Database) -> dict[str, dict[str, object]]:
    """Per export target that has done anything: items held, and why it is parked."""
    held = {
        r[0]: int(r[1])
        for r in db.query("SELECT target, count(*) FROM exports WHERE removed = 0 GROUP BY target")
    }
    parked = {
        r[0]: r[1]
        for r in db.query("SELECT target, parked FROM export_targets WHERE parked IS NOT NULL")
    }
    return {t: {"items": held.get(t, 0), "parked": parked.get(t)} for t in sorted({*held, *parked})}
