"""Counts the status line shows: highlights kept, jobs waiting."""

from __future__ import annotations

from earmark.store.database import Database


def highlights(db: Database) -> int:
    return int(db.query("SELECT count(*) FROM highlights")[0][0])


def jobs_waiting(db: Database) -> int:
    return int(db.query("SELECT count(*) FROM jobs WHERE status IN ('queued', 'running')")[0][0])
