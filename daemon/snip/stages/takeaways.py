"""The takeaways stage: a title and takeaways, and the final Opus clip of the
snapped window; the highlight is done and its clip goes to the outbox.

A highlight without a transcript (``transcript_unavailable``) gets neither title
nor takeaways, and passages heard with low confidence are never made into any.
"""

from __future__ import annotations

import logging
from pathlib import Path

from earmark.errors import ClipError
from earmark.library.sanitize import plain_text
from earmark.snip import clip
from earmark.snip.sentences import split_sentences
from earmark.snip.stages import SnipStore
from earmark.store import outbox, segments
from earmark.store.highlights import DONE, Highlight
from earmark.store.jobs import Job, JobKind
from earmark.store.jobs import enqueue as enqueue_job
from earmark.takeaways import Sentence, SnipText, Summarizer, Summary
from earmark.transcribe.base import Word

log = logging.getLogger(__name__)

# an Opus clip's length differs from its window's by a few frames
CLIP_LENGTH_SLACK = 0.25
# how much of the episode's description a summarizer reads as context
DESCRIPTION_CHARS = 1000


class TakeawaysStage:
    kind = JobKind.TAKEAWAYS

    def __init__(self, store: SnipStore, summarizer: Summarizer, refine: bool = False) -> None:
        self.store = store
        self.summarizer = summarizer
        # an LLM refines every summary made here, in the background
        self.refine = refine

    def run(self, job: Job, highlight: Highlight) -> None:
        summary: Summary | None = None
        if highlight.transcript_unavailable is None:  # else nothing heard can be trusted
            summary = self.summarizer.summarize(snip_text(self.store, highlight))
        clip_path, clip_seconds = self._final_clip(highlight)
        with self.store.db.transaction() as conn:
            if self.store.superseded(conn, job, highlight):
                return
            updated = self.store.book.update(
                highlight.id,
                conn,
                status=DONE,
                **summary_fields(summary),
                clip_path=clip_path,
                clip_seconds=clip_seconds,
                clip_start=highlight.start,
                error=None,
            )
            if summary is not None:
                self.store.book.keep_summary(
                    conn, updated, summary.title, summary.backend, summary.backend_version
                )
                if self.refine:
                    enqueue_job(conn, JobKind.REFINE, highlight_id=highlight.id)
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


def summary_fields(summary: Summary | None) -> dict[str, object]:
    """The highlight's fields a summary writes; None (nothing heard that could be
    trusted) clears them."""
    if summary is None:
        cleared = ("title", "quote", "quote_at", "summarizer", "summary_fallback")
        return {"takeaways": (), **dict.fromkeys(cleared)}
    return {
        "title": summary.title,
        "takeaways": summary.takeaways,
        "quote": summary.quote,
        "quote_at": summary.quote_at,
        "summarizer": f"{summary.backend} {summary.backend_version}",
        "summary_fallback": summary.fallback_reason,
    }


def snip_text(store: SnipStore, highlight: Highlight) -> SnipText:
    """The highlight as a summarizer reads it: its sentences with their times (from
    the stored timed words when they are the words of its transcript, else spread
    over its window), the press, and the episode's title, description and chapter."""
    episode = store.catalog.episode(highlight.episode_id) if highlight.episode_id else None
    chapter = ""
    for start, title in episode.chapters if episode else ():
        if start <= highlight.press_position:
            chapter = title
    context = {
        "episode_title": highlight.episode_title,
        "episode_description": plain_text(episode.description, DESCRIPTION_CHARS)
        if episode
        else "",
        "chapter": chapter,
    }
    transcript = highlight.transcript or ""
    sentences = (
        timed_sentences(store, highlight.episode_id, highlight.start, highlight.end)
        if highlight.episode_id is not None
        else []
    )
    if " ".join(s.text for s in sentences).split() == transcript.split():
        return SnipText(tuple(sentences), highlight.press_position, **context)
    return SnipText.from_text(
        transcript,
        highlight.start,
        highlight.end,
        highlight.press_position,
        highlight.low_confidence,
        **context,
    )


def timed_sentences(store: SnipStore, episode_id: int, start: float, end: float) -> list[Sentence]:
    """The stored words of [start, end] of the episode, as sentences with their times
    (a stretch heard twice, from two sources, counts once)."""
    stored = segments.between(store.db, episode_id, start, end)
    words: list[Word] = []
    for word in sorted(
        (w for segment in stored.segments for w in segment.words if w.text.strip()),
        key=lambda w: (w.start, w.end),
    ):
        if start <= (word.start + word.end) / 2 <= end and (
            not words or word.start >= words[-1].end - 0.05
        ):
            words.append(word)
    return [
        Sentence(
            " ".join(w.text.strip() for w in sentence),
            sentence[0].start,
            sentence[-1].end,
            any(w.low_confidence for w in sentence),
        )
        for sentence in split_sentences(words)
    ]
