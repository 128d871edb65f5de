"""The takeaways stage: a title and takeaways, and the final Opus clip of the
snapped window; the highlight is done and its clip goes to the outbox.

A highlight without a transcript (``transcript_unavailable``) gets neither title
nor takeaways, and passages heard with low confidence are never made into any.
"""

from __future__ import annotations

import logging
from pathlib import Path

from earmark.errors import ClipError
from earmark.snip import clip
from earmark.snip.stages import SnipStore
from earmark.store import outbox
from earmark.store.highlights import DONE, Highlight
from earmark.store.jobs import Job, JobKind
from earmark.takeaways import Summarizer

log = logging.getLogger(__name__)

# an Opus clip's length differs from its window's by a few frames
CLIP_LENGTH_SLACK = 0.25


class TakeawaysStage:
    kind = JobKind.TAKEAWAYS

    def __init__(self, store: SnipStore, summarizer: Summarizer) -> None:
        self.store = store
        self.summarizer = summarizer

    def run(self, job: Job, highlight: Highlight) -> None:
        title: str | None
        takeaways: tuple[str, ...]
        if highlight.transcript_unavailable is not None:
            title, takeaways = None, ()  # nothing was heard that could be trusted
        else:
            summary = self.summarizer.summarize(
                highlight.transcript or "", low_confidence=highlight.low_confidence
            )
            title, takeaways = summary.title, summary.takeaways
        clip_path, clip_seconds = self._final_clip(highlight)
        with self.store.db.transaction() as conn:
            if self.store.superseded(conn, job, highlight):
                return
            updated = self.store.book.update(
                highlight.id,
                conn,
                status=DONE,
                title=title,
                takeaways=takeaways,
                clip_path=clip_path,
                clip_seconds=clip_seconds,
                clip_start=highlight.start,
                error=None,
            )
            if clip_path != highlight.clip_path:  # takeaways made again keep their clip
                outbox.enqueue(conn, f"clip/{highlight.id}", payload_file=clip_path)
            self.store.queue.finish(conn, job)
        # only now that no committed version names the kept audio: a commit that
        # failed (a full disk) leaves it for the retry
        if highlight.clip_path and highlight.clip_path != clip_path:
            Path(highlight.clip_path).unlink(missing_ok=True)
        log.info("snip done id=%s version=%d title=%r", updated.id, updated.version, updated.title)

    def _final_clip(self, highlight: Highlight) -> tuple[str, float]:
        """The Opus clip of the final (snapped) window: cut from the audio kept at the
        clip stage when it holds the window; else the clip an earlier attempt of this
        stage made, if it has the window's length; else cut from the episode."""
        final = self.store.clips_dir / f"{highlight.id}.opus"
        kept = Path(highlight.clip_path) if highlight.clip_path else None
        if kept is not None and kept == final and kept.exists():
            return str(final), highlight.clip_seconds or 0.0  # a retry after the commit
        offset = highlight.clip_start if highlight.clip_start is not None else highlight.start
        if (
            kept is not None
            and kept.exists()
            and offset <= highlight.start + 0.05
            and highlight.end <= offset + (highlight.clip_seconds or 0.0) + 0.05
        ):
            start, end = highlight.start - offset, highlight.end - offset
            return str(final), clip.cut(str(kept), start, end, final)
        if final.exists():
            made = clip.probe_duration(final)
            if abs(made - (highlight.end - highlight.start)) <= CLIP_LENGTH_SLACK:
                return str(final), made  # an attempt whose commit failed cut it already
        try:
            source = self.store.source(highlight)
            return str(final), clip.cut(source, highlight.start, highlight.end, final)
        except ClipError:
            if kept is None or not kept.exists():
                raise
            # the episode is gone: publish all the audio that was kept
            return str(final), clip.encode_opus(kept, final)
