"""The stages of a snip after capture, one job kind each (see ``snip/stages``).

clip        secure the window's audio (safe even if a stream vanishes)
transcribe  words for the window, best source first; snap to whole sentences
takeaways   title, takeaways and the final clip; the highlight is done
refine      an LLM's takeaways, on the worker's slow lane (only with takeaways.llm)

and, for an episode the look-ahead has transcribed to its end, its key points.

Each stage writes its result, the highlight's new state, its outbox row and the
next job in one transaction, so a crash between stages loses nothing and
repeats nothing that was committed.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from earmark.snip.key_points import KIND as KEY_POINTS
from earmark.snip.key_points import EpisodeKeyPoints
from earmark.snip.stages import SnipStore, Stage
from earmark.snip.stages.clip import ClipStage
from earmark.snip.stages.refine import Refiner, RefineStage
from earmark.snip.stages.takeaways import TakeawaysStage
from earmark.snip.stages.transcribe import TranscribeStage
from earmark.store.catalog import Catalog
from earmark.store.database import Database
from earmark.store.highlights import Highlight, HighlightBook
from earmark.store.jobs import Job, JobKind, JobQueue
from earmark.takeaways import Summarizer
from earmark.transcribe.base import Transcriber


class SnipPipeline:
    def __init__(
        self,
        db: Database,
        book: HighlightBook,
        queue: JobQueue,
        catalog: Catalog,
        transcriber: Callable[[], Transcriber],
        summarizer: Summarizer,
        clips_dir: Path,
        snap_to_sentences: bool = True,
        publisher_words: Callable[[int], object] | None = None,
        refiner: Refiner | None = None,
    ) -> None:
        self.store = SnipStore(db, book, queue, catalog, clips_dir)
        stages: list[Stage] = [
            ClipStage(self.store),
            TranscribeStage(self.store, transcriber, snap_to_sentences, publisher_words),
            TakeawaysStage(self.store, summarizer, refine=refiner is not None),
        ]
        if refiner is not None:
            stages.append(RefineStage(self.store, refiner))
        # the job kinds this pipeline runs (the job worker routes them to ``run``)
        self.handlers: dict[JobKind, Callable[[Job, Highlight], None]] = {
            stage.kind: stage.run for stage in stages
        }
        self.key_points = EpisodeKeyPoints(self.store, summarizer)

    def runners(self) -> dict[str, Callable[[Job], None]]:
        """Every job kind this pipeline runs, for the job worker."""
        return {**dict.fromkeys(self.handlers, self.run), KEY_POINTS: self.key_points.run}

    def run(self, job: Job) -> None:
        store = self.store
        highlight = store.book.get(job.highlight_id or "")
        if highlight is None:
            with store.db.transaction() as conn:
                store.queue.finish(conn, job)  # the highlight was deleted; nothing to do
            return
        self.handlers[JobKind(job.kind)](job, highlight)
