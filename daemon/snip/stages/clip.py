"""The clip stage: secure the audio of a snip's window, at once.

A copy of the episode's own audio (no encode: a tenth of the time), with
margins wide enough for every edge the transcribe stage may snap to, so the
final clip is cut from it even if a stream or a download vanishes.
"""

from __future__ import annotations

import logging

from earmark.snip import clip
from earmark.snip.sentences import DEFAULT_MAX_EXTENSION
from earmark.snip.stages import SnipStore
from earmark.store.highlights import CLIPPED, Highlight
from earmark.store.jobs import Job, JobKind
from earmark.store.jobs import enqueue as enqueue_job

log = logging.getLogger(__name__)

# snapping to sentences moves an edge at most this far, so the final window
# never leaves the audio kept here
MARGIN = DEFAULT_MAX_EXTENSION


class ClipStage:
    kind = JobKind.CLIP

    def __init__(self, store: SnipStore) -> None:
        self.store = store

    def run(self, job: Job, highlight: Highlight) -> None:
        start, end = max(0.0, highlight.start - MARGIN), highlight.end + MARGIN
        out = self.store.clips_dir / f"{highlight.id}.mka"
        seconds = clip.Cutting(self.store.source(highlight), start, end, out, copy=True).wait()
        with self.store.db.transaction() as conn:
            if self.store.superseded(conn, job, highlight):
                return
            self.store.book.update(
                highlight.id,
                conn,
                status=CLIPPED,
                clip_path=str(out),
                clip_seconds=seconds,
                clip_start=start,
                error=None,
            )
            enqueue_job(conn, JobKind.TRANSCRIBE, highlight_id=highlight.id, priority=job.priority)
            self.store.queue.finish(conn, job)
        log.info("snip clipped id=%s seconds=%.1f", highlight.id, seconds)
