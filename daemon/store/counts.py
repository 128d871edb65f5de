"""Counts the status line shows: highlights kept, jobs waiting."""

from __future__ import annotations

from earmark.store.database import Database
from earmark.store.exports import ExportBook


def highlights(db: Database) -> int:
    return int(db.query("SELECT count(*) FROM highlights")[0][0])


def jobs_waiting(db: Database) -> int:
    return int(db.query("SELECT count(*) FROM jobs WHERE status IN ('queued', 'running')")[0][0])


def exports(db: Database) -> dict[str, dict[str, object]]:
    """Per export target that has done anything: items held, and why it is parked."""
    book = ExportBook(db)
    held = book.counts()
    parked = {target: why for target, (why, _) in book.parked().items()}
    return {t: {"items": held.get(t, 0), "parked": parked.get(t)} for t in sorted({*held, *parked})}
