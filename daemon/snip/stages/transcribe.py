"""The transcribe stage: the words of a snip's window, best source first, and
the window snapped to whole sentences.

Words stored already (the publisher's transcript, the look-ahead, an earlier
snip) cost nothing; else the transcriber hears the window with short margins,
from the download or, for a stream, from the audio the clip stage kept (a
stream is never fetched a second time). What it hears is stored for every
later snip of the episode and for search.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable
from pathlib import Path

from earmark.library.sources import is_stream
from earmark.snip.sentences import (
    DEFAULT_MAX_EXTENSION,
    PRESS_LEAD,
    snap_to_sentences,
    without_cut_sentences,
)
from earmark.snip.stages import SnipStore
from earmark.store import segments
from earmark.store.highlights import TRANSCRIBED, Highlight
from earmark.store.jobs import Job, JobKind
from earmark.store.jobs import enqueue as enqueue_job
from earmark.transcribe.base import Transcriber, TranscribeRequest, Transcript

log = logging.getLogger(__name__)

# stored words this far beyond the window are read so its edges can move to whole
# sentences. When nothing is stored, shorter margins are transcribed with the window
# (each second costs ASR time on the press's path): enough after it to finish most
# sentences, since what follows the press is what the listener pressed for; little
# before it, at the far end of "what was just said", where a sentence the margin
# cuts is left out instead (see without_cut_sentences)
SNAP_MARGIN = 10.0
ASR_MARGIN_BEFORE, ASR_MARGIN_AFTER = 1.0, 5.0


class TranscribeStage:
    kind = JobKind.TRANSCRIBE

    def __init__(
        self,
        store: SnipStore,
        transcriber: Callable[[], Transcriber],
        snap: bool = True,
        publisher_words: Callable[[int], object] | None = None,
    ) -> None:
        self.store = store
        self.transcriber = transcriber
        self.snap = snap
        # loads the publisher's transcript of an episode into the store, if it has one
        self.publisher_words = publisher_words

    def run(self, job: Job, highlight: Highlight) -> None:
        words = self._stored_words(highlight)
        if words is None:
            words = self._hear(highlight)
        start, end, text = self.snapped(words, highlight)
        with self.store.db.transaction() as conn:
            if self.store.superseded(conn, job, highlight):
                return
            self._record(conn, job, highlight, words.source, start, end, text)
            self.store.queue.finish(conn, job)
        log.info(
            "snip transcribed id=%s source=%s window=%.1f-%.1f words=%d",
            highlight.id,
            words.source,
            start,
            end,
            len(text.split()),
        )

    def snapped(self, words: Transcript, highlight: Highlight) -> tuple[float, float, str]:
        # without snapping, the window stays and only the words inside it count
        extension = DEFAULT_MAX_EXTENSION if self.snap else 0.0
        press = min(max(highlight.press_position, highlight.start), highlight.end)
        hold = (max(highlight.start, press - PRESS_LEAD), press)
        snapped = snap_to_sentences(
            words, highlight.start, highlight.end, hold=hold, max_extension=extension
        )
        return snapped.start, snapped.end, snapped.text

    def _record(
        self,
        conn: sqlite3.Connection,
        job: Job,
        highlight: Highlight,
        source: str,
        start: float,
        end: float,
        text: str,
    ) -> None:
        self.store.book.update(
            highlight.id,
            conn,
            status=TRANSCRIBED,
            start=start,
            end=end,
            transcript=text,
            transcript_source=source,
            error=None,
        )
        enqueue_job(conn, JobKind.TAKEAWAYS, highlight_id=highlight.id, priority=job.priority)

    def _stored_words(self, highlight: Highlight) -> Transcript | None:
        """The window's words with a margin, if a source already stored them all."""
        episode_id = highlight.episode_id
        if episode_id is None:
            return None
        if self.publisher_words is not None:
            self.publisher_words(episode_id)
        db = self.store.db
        if not segments.covers(db, episode_id, highlight.start, highlight.end):
            return None
        lo, hi = max(0.0, highlight.start - SNAP_MARGIN), highlight.end + SNAP_MARGIN
        return segments.between(db, episode_id, lo, hi)

    def _hear(self, highlight: Highlight) -> Transcript:
        """Run the transcriber over the window and its margins."""
        lo, hi = max(0.0, highlight.start - ASR_MARGIN_BEFORE), highlight.end + ASR_MARGIN_AFTER
        source = self.store.source(highlight)
        if is_stream(source) and highlight.clip_path:
            # a stream: hear the audio the clip stage kept rather than fetch again
            offset = highlight.clip_start if highlight.clip_start is not None else highlight.start
            request = TranscribeRequest(
                audio=Path(highlight.clip_path), start=max(0.0, lo - offset), end=hi - offset
            )
            words = self.transcriber().transcribe(request).shifted(offset)
        else:
            request = TranscribeRequest(audio=Path(source), start=lo, end=hi)
            words = self.transcriber().transcribe(request)
        self._remember(highlight, words, lo, hi)
        return without_cut_sentences(words, lo, hi)

    def _remember(self, highlight: Highlight, words: Transcript, lo: float, hi: float) -> None:
        """Keep the words for every later snip of the episode (and search)."""
        if highlight.episode_id is not None:
            with self.store.db.transaction() as conn:
                segments.save(conn, highlight.episode_id, words)
                segments.mark_transcribed(conn, highlight.episode_id, lo, hi, words.source)
