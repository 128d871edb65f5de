"""The refine stage: an LLM's title, quote and takeaways after the on-device ones.

It runs on the job worker's slow lane (a 1.5B model on a Pi 5 writes about 5
tokens a second), after the snip is done and published. Its answer becomes the
highlight's next version; a refusal of any kind (timeout, HTTP error, prose, an
answer that obeys an instruction spoken in the podcast) leaves the on-device
result and records the reason on the highlight, once, without retrying.
"""

from __future__ import annotations

import logging
from typing import Protocol

from earmark.errors import EarmarkError
from earmark.snip.stages import SnipStore
from earmark.snip.stages.takeaways import snip_text, summary_fields
from earmark.store.highlights import DONE, Highlight
from earmark.store.jobs import Job, JobKind
from earmark.takeaways import SnipText, Summary

log = logging.getLogger(__name__)


class Refiner(Protocol):
    name: str

    def refine(self, snip: SnipText, draft: Summary) -> Summary: ...


class RefineStage:
    kind = JobKind.REFINE

    def __init__(self, store: SnipStore, refiner: Refiner) -> None:
        self.store = store
        self.refiner = refiner

    def run(self, job: Job, highlight: Highlight) -> None:
        changes: dict[str, object]
        summary: Summary | None = None
        if highlight.status != DONE or highlight.transcript_unavailable is not None:
            changes = {}  # made again meanwhile (its new summary queues its own refinement)
        else:
            try:
                summary = self.refiner.refine(snip_text(self.store, highlight), _draft(highlight))
                changes = summary_fields(summary)
            except EarmarkError as exc:  # the model's answer, whatever went wrong, is one line
                log.warning("takeaways not refined id=%s: %s", highlight.id, exc)
                changes = {"summary_fallback": f"{self.refiner.name}: {exc}"}
        with self.store.db.transaction() as conn:
            if self.store.superseded(conn, job, highlight):
                return  # a longer window: its takeaways, then their refinement, come again
            if changes:
                updated = self.store.book.update(highlight.id, conn, **changes)
            if summary is not None:
                self.store.book.keep_summary(
                    conn, updated, summary.title, summary.backend, summary.backend_version
                )
                log.info("takeaways refined id=%s version=%d", updated.id, updated.version)
            self.store.queue.finish(conn, job)


def _draft(highlight: Highlight) -> Summary:
    """The on-device summary the highlight carries, for the model to improve."""
    backend, _, version = (highlight.summarizer or "on-device").partition(" ")
    return Summary(
        title=highlight.title or "",
        takeaways=highlight.takeaways,
        backend=backend,
        backend_version=version,
        quote=highlight.quote,
        quote_at=highlight.quote_at,
    )
