"""The stages of a snip after capture, one job kind each.

clip        cut the window's audio (the audio is safe even if a stream vanishes)
transcribe  words for the window, best source first; snap to whole sentences
takeaways   title and takeaways; the highlight is done

Each stage writes its result, the highlight's new state, its outbox row and the
next job in one transaction, so a crash between stages loses nothing and
repeats nothing that was committed.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

from earmark.errors import ClipError
from earmark.snip import clip
from earmark.snip.sentences import snap_to_sentences
from earmark.store import jobs as job_table
from earmark.store import outbox, segments
from earmark.store.catalog import Catalog
from earmark.store.database import Database
from earmark.store.highlights import CLIPPED, DONE, TRANSCRIBED, Highlight, HighlightBook
from earmark.store.jobs import Job, JobQueue
from earmark.takeaways import Summarizer
from earmark.transcribe.base import Transcriber, TranscribeRequest, Transcript

log = logging.getLogger(__name__)

# words this far beyond the window are read so its edges can move to whole sentences
SNAP_MARGIN = 10.0


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
    ) -> None:
        self.db = db
        self.book = book
        self.queue = queue
        self.catalog = catalog
        self.transcriber = transcriber
        self.summarizer = summarizer
        self.clips_dir = clips_dir
        self.snap = snap_to_sentences
        # loads the publisher's transcript of an episode into the store, if it has one
        self.publisher_words = publisher_words
        self.handlers: dict[str, Callable[[Job, Highlight], None]] = {
            "clip": self._clip,
            "transcribe": self._transcribe,
            "takeaways": self._takeaways,
        }

    def handles(self, kind: str) -> bool:
        return kind in self.handlers

    def run(self, job: Job) -> None:
        highlight = self.book.get(job.highlight_id or "")
        if highlight is None:
            with self.db.transaction() as conn:
                self.queue.finish(conn, job)  # the highlight was deleted; nothing to do
            return
        self.handlers[job.kind](job, highlight)

    def _source(self, highlight: Highlight) -> str:
        """Where the audio is now: the download if it still exists, else the stream."""
        if highlight.episode_id is not None:
            episode = self.catalog.episode(highlight.episode_id)
            if episode is not None:
                if episode.local_path and Path(episode.local_path).exists():
                    return episode.local_path
                return episode.enclosure_url
        return highlight.source_url

    def _clip(self, job: Job, highlight: Highlight) -> None:
        start, end = self._known_sentences(highlight)
        out = self.clips_dir / f"{highlight.id}.opus"
        try:
            seconds = clip.cut(self._source(highlight), start, end, out)
        except OSError as exc:  # the clip folder: a file in its place, no rights, no space
            raise ClipError(
                f"cannot write clip {out}: {exc.strerror}; "
                f"make {self.clips_dir} a writable folder with free space"
            ) from None
        with self.db.transaction() as conn:
            self.book.update(
                highlight.id,
                conn,
                status=CLIPPED,
                start=start,
                end=end,
                clip_path=str(out),
                clip_seconds=seconds,
                error=None,
            )
            job_table.enqueue(conn, "transcribe", highlight_id=highlight.id, priority=job.priority)
            self.queue.finish(conn, job)
        log.info("snip clipped id=%s seconds=%.1f", highlight.id, seconds)

    def _known_sentences(self, highlight: Highlight) -> tuple[float, float]:
        """The window snapped to whole sentences when its words are already stored
        (the look-ahead got there first), so the clip is cut once, to its final edges."""
        episode_id = highlight.episode_id
        if not self.snap or episode_id is None:
            return highlight.start, highlight.end
        if not segments.covers(self.db, episode_id, highlight.start, highlight.end):
            return highlight.start, highlight.end
        words = segments.between(
            self.db,
            episode_id,
            max(0.0, highlight.start - SNAP_MARGIN),
            highlight.end + SNAP_MARGIN,
        )
        snapped = snap_to_sentences(words, highlight.start, highlight.end)
        return snapped.start, snapped.end

    def _transcribe(self, job: Job, highlight: Highlight) -> None:
        words = self._words(highlight)
        # without snapping, the window stays and only the words inside it count
        reach = None if self.snap else 0.0
        start, end, text = snap_to_sentences(
            words,
            highlight.start,
            highlight.end,
            **({} if reach is None else {"max_extension": reach}),
        )
        clip_seconds = highlight.clip_seconds
        if (start, end) != (highlight.start, highlight.end):
            clip_seconds = self._recut(highlight, start, end)
        with self.db.transaction() as conn:
            self.book.update(
                highlight.id,
                conn,
                status=TRANSCRIBED,
                start=start,
                end=end,
                transcript=text,
                transcript_source=words.source,
                clip_seconds=clip_seconds,
                error=None,  # a retried job leaves its last failure behind
            )
            job_table.enqueue(conn, "takeaways", highlight_id=highlight.id, priority=job.priority)
            self.queue.finish(conn, job)
        log.info(
            "snip transcribed id=%s source=%s window=%.1f-%.1f words=%d",
            highlight.id,
            words.source,
            start,
            end,
            len(text.split()),
        )

    def _recut(self, highlight: Highlight, start: float, end: float) -> float | None:
        try:
            return clip.cut(
                self._source(highlight), start, end, self.clips_dir / f"{highlight.id}.opus"
            )
        except (ClipError, OSError) as exc:
            # the first clip still holds the unsnapped window: keep it
            log.warning("snip id=%s keeps its unsnapped clip: %s", highlight.id, exc)
            return highlight.clip_seconds

    def _words(self, highlight: Highlight) -> Transcript:
        """Words of the window and a margin around it: stored, else transcribed now."""
        lo = max(0.0, highlight.start - SNAP_MARGIN)
        hi = highlight.end + SNAP_MARGIN
        episode_id = highlight.episode_id
        if episode_id is not None and self.publisher_words is not None:
            self.publisher_words(episode_id)
        if episode_id is not None and segments.covers(
            self.db, episode_id, highlight.start, highlight.end
        ):
            return segments.between(self.db, episode_id, lo, hi)
        source = self._source(highlight)
        if "://" in source:
            # a stream: transcribe the clip we already hold rather than fetch again
            lo, hi = highlight.start, highlight.end
            request = TranscribeRequest(audio=Path(highlight.clip_path or ""))
            transcript = self.transcriber().transcribe(request).shifted(lo)
        else:
            request = TranscribeRequest(audio=Path(source), start=lo, end=hi)
            transcript = self.transcriber().transcribe(request)
        if episode_id is not None:
            with self.db.transaction() as conn:
                segments.save(conn, episode_id, transcript)
                segments.mark_transcribed(conn, episode_id, lo, hi, transcript.source)
        return transcript

    def _takeaways(self, job: Job, highlight: Highlight) -> None:
        summary = self.summarizer.summarize(highlight.transcript or "")
        with self.db.transaction() as conn:
            updated = self.book.update(
                highlight.id,
                conn,
                status=DONE,
                title=summary.title,
                takeaways=summary.takeaways,
                error=None,
            )
            if highlight.clip_path:
                outbox.enqueue(conn, f"clip/{highlight.id}", payload_file=highlight.clip_path)
            self.queue.finish(conn, job)
        log.info("snip done id=%s version=%d title=%r", updated.id, updated.version, summary.title)
