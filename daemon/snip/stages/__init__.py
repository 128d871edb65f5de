"""The snip stages: the plug point of the pipeline, one job kind each.

A stage reads the highlight, does its work outside any transaction, then writes
its result, the highlight's new state, its outbox row and the next job in one
transaction — unless the highlight changed meanwhile (a second press extended
it), when it only finishes its job: the newer chain does the work again.
Adding a stage is one module with a class that speaks :class:`Stage` and one
line in :class:`earmark.snip.pipeline.SnipPipeline`.
"""

from __future__ import annotations

import logging
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from earmark.store.catalog import Catalog
from earmark.store.database import Database
from earmark.store.highlights import Highlight, HighlightBook
from earmark.store.jobs import Job, JobKind, JobQueue

log = logging.getLogger(__name__)


class Stage(Protocol):
    """One step of a snip after capture."""

    kind: JobKind

    def run(self, job: Job, highlight: Highlight) -> None: ...


@dataclass(frozen=True)
class SnipStore:
    """What every stage reads and writes through."""

    db: Database
    book: HighlightBook
    queue: JobQueue
    catalog: Catalog
    clips_dir: Path

    def source(self, highlight: Highlight) -> str:
        """Where the audio is now: the download if it still exists, else the stream."""
        if highlight.episode_id is not None:
            episode = self.catalog.episode(highlight.episode_id)
            if episode is not None:
                if episode.local_path and Path(episode.local_path).exists():
                    return episode.local_path
                return episode.enclosure_url
        return highlight.source_url

    def language(self, highlight: Highlight) -> str | None:
        """The language the snip's podcast is in, as its feed names it; None if unsaid."""
        if highlight.episode_id is None:
            return None
        episode = self.catalog.episode(highlight.episode_id)
        return episode.language if episode is not None else None

    def superseded(self, conn: sqlite3.Connection, job: Job, highlight: Highlight) -> bool:
        """True (and the job finished) if the highlight's window changed while the
        stage worked (a second press extended it; its jobs start again), so a stage
        never writes an old window over a newer one. The listener's edits meanwhile
        (a star, a note) are no reason: the stage's write keeps them."""
        if self.book.window(conn, highlight.id) == (highlight.start, highlight.end):
            return False
        self.queue.finish(conn, job)
        log.info("snip id=%s stage %s superseded by a newer version", highlight.id, job.kind)
        return True


__all__ = ["SnipStore", "Stage"]
