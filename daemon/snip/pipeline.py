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
import sqlite3
from collections.abc import Callable
from pathlib import Path

from earmark.errors import ClipError, EarmarkError
from earmark.snip import clip
from earmark.snip.sentences import snap_to_sentences, split_sentences
from earmark.store import jobs as job_table
from earmark.store import outbox, segments
from earmark.store.catalog import Catalog
from earmark.store.database import Database
from earmark.store.highlights import CLIPPED, DONE, TRANSCRIBED, Highlight, HighlightBook
from earmark.store.jobs import Job, JobQueue
from earmark.takeaways import Summarizer
from earmark.transcribe.base import Segment, Transcriber, TranscribeRequest, Transcript

log = logging.getLogger(__name__)

# stored words this far beyond the window are read so its edges can move to whole
# sentences. When nothing is stored, shorter margins are transcribed with the window
# (each second costs ASR time on the press's path): enough after it to finish most
# sentences, since what follows the press is what the listener pressed for; little
# before it, at the far end of "what was just said", where a sentence the margin
# cuts is left out instead (see without_cut_sentences)
SNAP_MARGIN = 10.0
ASR_MARGIN_BEFORE, ASR_MARGIN_AFTER = 1.0, 5.0


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
        """Cut the audio; and when the words can be had at once, transcribe too.

        Words already stored (look-ahead, publisher): the window is snapped first
        and cut once. A local file with nothing stored: faster-whisper works on
        one core while ffmpeg cuts on the other. A stream: the clip secures the
        audio first and a transcribe job follows. If the words fail, the clip is
        still kept and the transcribe job retries them.
        """
        source = self._source(highlight)
        out = self.clips_dir / f"{highlight.id}.mka"
        words = self._stored_words(highlight)
        start, end = highlight.start, highlight.end
        if words is not None:
            start, end, _ = self._snapped(words, highlight)
        # a copy of the episode's own audio: safe in a tenth of an encode's time
        cutting = clip.Cutting(source, start, end, out, copy=True)
        try:
            if words is None and "://" not in source:
                words = self._transcribe_now(highlight, source)
        except EarmarkError as exc:
            log.warning("snip id=%s words wait for a retry: %s", highlight.id, exc)
        finally:
            seconds = cutting.wait()
        with self.db.transaction() as conn:
            if self._superseded(conn, job, highlight):
                return
            self.book.update(
                highlight.id,
                conn,
                status=CLIPPED,
                start=start,
                end=end,
                clip_path=str(out),
                clip_seconds=seconds,
                clip_start=start,
                error=None,
            )
            if words is None:
                job_table.enqueue(
                    conn, "transcribe", highlight_id=highlight.id, priority=job.priority
                )
            else:
                self._store_words(conn, job, highlight, words)
            self.queue.finish(conn, job)
        log.info("snip clipped id=%s seconds=%.1f", highlight.id, seconds)

    def _superseded(self, conn: sqlite3.Connection, job: Job, highlight: Highlight) -> bool:
        """True (and the job finished) if the highlight changed while this stage
        worked — a second press extended it and its stages start again — so a
        stage never writes an old window over a newer one."""
        if self.book.version(conn, highlight.id) == highlight.version:
            return False
        self.queue.finish(conn, job)
        log.info("snip id=%s stage %s superseded by a newer version", highlight.id, job.kind)
        return True

    def _snapped(self, words: Transcript, highlight: Highlight) -> tuple[float, float, str]:
        # without snapping, the window stays and only the words inside it count
        extension = {} if self.snap else {"max_extension": 0.0}
        return tuple(snap_to_sentences(words, highlight.start, highlight.end, **extension))

    def _store_words(
        self, conn: sqlite3.Connection, job: Job, highlight: Highlight, words: Transcript
    ) -> None:
        """Record the words of the snapped window (the clip may be recut later)."""
        start, end, text = self._snapped(words, highlight)
        self.book.update(
            highlight.id,
            conn,
            status=TRANSCRIBED,
            start=start,
            end=end,
            transcript=text,
            transcript_source=words.source,
            error=None,
        )
        job_table.enqueue(conn, "takeaways", highlight_id=highlight.id, priority=job.priority)
        log.info(
            "snip transcribed id=%s source=%s window=%.1f-%.1f words=%d",
            highlight.id,
            words.source,
            start,
            end,
            len(text.split()),
        )

    def _transcribe(self, job: Job, highlight: Highlight) -> None:
        """The words of a clipped snip whose words were not had with the clip."""
        words = self._stored_words(highlight)
        if words is None:
            source = self._source(highlight)
            if "://" in source:
                # a stream: transcribe the clip we hold rather than fetch again
                request = TranscribeRequest(audio=Path(highlight.clip_path or ""))
                offset = highlight.clip_start or highlight.start
                words = self.transcriber().transcribe(request).shifted(offset)
                self._remember(highlight, words, highlight.start, highlight.end)
            else:
                words = self._transcribe_now(highlight, source)
        with self.db.transaction() as conn:
            if self._superseded(conn, job, highlight):
                return
            self._store_words(conn, job, highlight, words)
            self.queue.finish(conn, job)

    def _stored_words(self, highlight: Highlight) -> Transcript | None:
        """The window's words with a margin, if a source already stored them all."""
        episode_id = highlight.episode_id
        if episode_id is None:
            return None
        if self.publisher_words is not None:
            self.publisher_words(episode_id)
        if not segments.covers(self.db, episode_id, highlight.start, highlight.end):
            return None
        lo, hi = max(0.0, highlight.start - SNAP_MARGIN), highlight.end + SNAP_MARGIN
        return segments.between(self.db, episode_id, lo, hi)

    def _transcribe_now(self, highlight: Highlight, source: str) -> Transcript:
        lo, hi = max(0.0, highlight.start - ASR_MARGIN_BEFORE), highlight.end + ASR_MARGIN_AFTER
        words = self.transcriber().transcribe(
            TranscribeRequest(audio=Path(source), start=lo, end=hi)
        )
        self._remember(highlight, words, lo, hi)
        return without_cut_sentences(words, lo, hi)

    def _remember(self, highlight: Highlight, words: Transcript, lo: float, hi: float) -> None:
        """Keep the words for every later snip of the episode (and search)."""
        if highlight.episode_id is not None:
            with self.db.transaction() as conn:
                segments.save(conn, highlight.episode_id, words)
                segments.mark_transcribed(conn, highlight.episode_id, lo, hi, words.source)

    def _final_clip(self, highlight: Highlight) -> tuple[str, float]:
        """The Opus clip of the final (snapped) window, from the audio kept at the
        clip stage when it holds the window, else from the episode."""
        final = self.clips_dir / f"{highlight.id}.opus"
        kept = Path(highlight.clip_path) if highlight.clip_path else None
        if kept is not None and kept == final and kept.exists():
            return str(final), highlight.clip_seconds or 0.0  # a retry after the encode
        offset = highlight.clip_start if highlight.clip_start is not None else highlight.start
        inside = (
            kept is not None
            and kept.exists()
            and offset <= highlight.start + 0.05
            and highlight.end <= offset + (highlight.clip_seconds or 0.0) + 0.05
        )
        if inside and kept is not None:
            seconds = clip.cut(str(kept), highlight.start - offset, highlight.end - offset, final)
        else:
            try:
                seconds = clip.cut(self._source(highlight), highlight.start, highlight.end, final)
            except ClipError:
                if kept is None or not kept.exists():
                    raise
                # the episode is gone: publish all the audio that was kept
                seconds = clip.encode_opus(kept, final)
        if kept is not None and kept != final:
            kept.unlink(missing_ok=True)
        return str(final), seconds

    def _takeaways(self, job: Job, highlight: Highlight) -> None:
        summary = self.summarizer.summarize(highlight.transcript or "")
        clip_path, clip_seconds = self._final_clip(highlight)
        with self.db.transaction() as conn:
            if self._superseded(conn, job, highlight):
                return
            updated = self.book.update(
                highlight.id,
                conn,
                status=DONE,
                title=summary.title,
                takeaways=summary.takeaways,
                clip_path=clip_path,
                clip_seconds=clip_seconds,
                clip_start=highlight.start,
                error=None,
            )
            outbox.enqueue(conn, f"clip/{highlight.id}", payload_file=clip_path)
            self.queue.finish(conn, job)
        log.info("snip done id=%s version=%d title=%r", updated.id, updated.version, summary.title)


def without_cut_sentences(words: Transcript, lo: float, hi: float, edge: float = 0.5) -> Transcript:
    """``words`` (transcribed from [lo, hi] only) without a first or last sentence
    that the edges of that stretch may have cut, so snapping moves the window in
    to whole sentences rather than out to half ones."""
    all_words = [w for s in words.segments for w in s.words if w.text.strip()]
    if not all_words:
        return words
    sentences = split_sentences(all_words)
    # never all of them: a window inside one long sentence keeps its words
    if len(sentences) > 1 and lo > 0 and sentences[0][0].start - lo < edge:
        sentences = sentences[1:]
    if len(sentences) > 1 and hi - sentences[-1][-1].end < edge:
        sentences = sentences[:-1]
    segments = tuple(
        Segment(s[0].start, s[-1].end, " ".join(w.text.strip() for w in s), s) for s in sentences
    )
    return Transcript(segments, words.language, words.model, words.source)
