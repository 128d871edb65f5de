"""The transcribe stage: the words of a snip's window, best source first, and
the window snapped to whole sentences.

Words stored already (the publisher's transcript, the look-ahead, an earlier
snip) cost nothing; else the transcriber hears the window with short margins,
from the download or, for a stream, from the audio the clip stage kept (a
stream is never fetched a second time). What it hears is stored for every
later snip of the episode and for search.

Languages are honest: a podcast whose feed names a language the model cannot
transcribe (German for an English-only model), or that the model's detection
says is one, keeps its window and clip but gets no transcript, and the reason
says why; words the recogniser doubted are marked and never become takeaways.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable, Sequence
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
from earmark.transcribe.base import (
    LanguageUnsupported,
    Transcriber,
    TranscribeRequest,
    Transcript,
    cannot_transcribe,
)

log = logging.getLogger(__name__)

# stored words this far beyond the window are read so its edges can move to whole
# sentences. When nothing is stored, shorter margins are transcribed with the window
# (each second costs ASR time on the press's path): enough after it to finish most
# sentences, since what follows the press is what the listener pressed for; little
# before it, at the far end of "what was just said", where a sentence the margin
# cuts is left out instead (see without_cut_sentences)
SNAP_MARGIN = 10.0
ASR_MARGIN_BEFORE, ASR_MARGIN_AFTER = 1.0, 5.0
# a detected language is believed from this probability on
DETECTION_SURE = 0.8
# the publisher's own words are honest in any language
PUBLISHER = "publisher"


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
        words = self._words(highlight)
        if isinstance(words, str):
            self._unavailable(job, highlight, words)
            return
        start, end, text = self.snapped(words, highlight)
        doubted = doubted_passages(words, start, end)
        unsure = mostly_doubted(text, doubted)
        if unsure is not None:
            self._unavailable(job, highlight, unsure)
            return
        with self.store.db.transaction() as conn:
            if self.store.superseded(conn, job, highlight):
                return
            self._record(conn, job, highlight, words.source, start, end, text, doubted)
            self.store.queue.finish(conn, job)
        log.info(
            "snip transcribed id=%s source=%s window=%.1f-%.1f words=%d low_confidence=%d",
            highlight.id,
            words.source,
            start,
            end,
            len(text.split()),
            len(doubted),
        )

    def _words(self, highlight: Highlight) -> Transcript | str:
        """The window's words with a margin, or why there can be none."""
        language = self.store.language(highlight)
        if language is not None:
            published = self._stored_words(highlight, PUBLISHER)
            if published is not None:
                return published
            refusal = cannot_transcribe(self.transcriber(), language)
            if refusal is not None:
                return f"podcast language '{language}': {refusal}"
        stored = self._stored_words(highlight)
        if stored is not None:
            return stored
        try:
            return self._hear(highlight, language)
        except LanguageUnsupported as exc:
            return str(exc)

    def _unavailable(self, job: Job, highlight: Highlight, reason: str) -> None:
        """Keep the window and its clip, with no transcript and the reason why."""
        with self.store.db.transaction() as conn:
            if self.store.superseded(conn, job, highlight):
                return
            self.store.book.update(
                highlight.id,
                conn,
                status=TRANSCRIBED,
                transcript=None,
                transcript_source=None,
                transcript_unavailable=reason,
                low_confidence=(),
                error=None,
            )
            enqueue_job(conn, JobKind.TAKEAWAYS, highlight_id=highlight.id, priority=job.priority)
            self.store.queue.finish(conn, job)
        log.info("snip has no transcript id=%s reason=%s", highlight.id, reason)

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
        doubted: tuple[str, ...] = (),
    ) -> None:
        self.store.book.update(
            highlight.id,
            conn,
            status=TRANSCRIBED,
            start=start,
            end=end,
            transcript=text,
            transcript_source=source,
            transcript_unavailable=None,
            low_confidence=doubted,
            error=None,
        )
        enqueue_job(conn, JobKind.TAKEAWAYS, highlight_id=highlight.id, priority=job.priority)

    def _stored_words(self, highlight: Highlight, source: str | None = None) -> Transcript | None:
        """The window's words with a margin, if a source (``source``, when given)
        already stored them all."""
        episode_id = highlight.episode_id
        if episode_id is None:
            return None
        if self.publisher_words is not None:
            self.publisher_words(episode_id)
        db = self.store.db
        if not segments.covers(db, episode_id, highlight.start, highlight.end, source):
            return None
        lo, hi = max(0.0, highlight.start - SNAP_MARGIN), highlight.end + SNAP_MARGIN
        return segments.between(db, episode_id, lo, hi, source)

    def _hear(self, highlight: Highlight, language: str | None = None) -> Transcript:
        """Run the transcriber over the window and its margins, in ``language``
        (None: the transcriber's own); LanguageUnsupported when the model cannot
        transcribe it, or its detection is sure the speech is in one it cannot."""
        lo, hi = max(0.0, highlight.start - ASR_MARGIN_BEFORE), highlight.end + ASR_MARGIN_AFTER
        source = self.store.source(highlight)
        if is_stream(source) and highlight.clip_path:
            # a stream: hear the audio the clip stage kept rather than fetch again
            offset = highlight.clip_start if highlight.clip_start is not None else highlight.start
            request = TranscribeRequest(
                audio=Path(highlight.clip_path),
                language=language,
                start=max(0.0, lo - offset),
                end=hi - offset,
            )
            words = self.transcriber().transcribe(request).shifted(offset)
        else:
            request = TranscribeRequest(audio=Path(source), language=language, start=lo, end=hi)
            words = self.transcriber().transcribe(request)
        if words.language_probability is not None and words.language_probability >= DETECTION_SURE:
            refusal = cannot_transcribe(self.transcriber(), words.language)
            if refusal is not None:
                raise LanguageUnsupported(
                    f"detected language '{words.language}' "
                    f"(probability {words.language_probability:.2f}): {refusal}"
                )
        self._remember(highlight, words, lo, hi)
        return without_cut_sentences(words, lo, hi)

    def _remember(self, highlight: Highlight, words: Transcript, lo: float, hi: float) -> None:
        """Keep the words for every later snip of the episode (and search)."""
        if highlight.episode_id is not None:
            with self.store.db.transaction() as conn:
                segments.save(conn, highlight.episode_id, words)
                segments.mark_transcribed(conn, highlight.episode_id, lo, hi, words.source)


def doubted_passages(words: Transcript, start: float, end: float) -> tuple[str, ...]:
    """The runs of low-confidence words in the snapped window [start, end], spelt as
    the highlight's transcript spells them.

    Words count as snapping counts them: by their midpoint (or, without word
    timings, each segment that overlaps the window)."""
    timed = sorted(
        (w for s in words.segments for w in s.words if w.text.strip()),
        key=lambda w: (w.start, w.end),
    )
    if timed:
        pieces = [
            (w.text.strip(), w.low_confidence)
            for w in timed
            if start <= (w.start + w.end) / 2 <= end
        ]
    else:
        pieces = [
            (s.text.strip(), s.low_confidence)
            for s in sorted(words.segments, key=lambda s: (s.start, s.end))
            if s.text.strip() and s.end > start and s.start < end
        ]
    runs: list[list[str]] = []
    previous = False
    for text, doubted in pieces:
        if doubted:
            if not previous:
                runs.append([])
            runs[-1].append(text)
        previous = doubted
    return tuple(" ".join(run) for run in runs)


def mostly_doubted(text: str, doubted: Sequence[str]) -> str | None:
    """Why a transcript is no transcript at all: the recogniser doubted most of its
    words. That is what an English-only model hearing another language looks like
    when the feed does not name its language (or music, or noise); the few words
    it was sure of are no summary of the moment."""
    total = len(text.split())
    unsure = sum(len(passage.split()) for passage in doubted)
    if total == 0 or unsure * 2 <= total:
        return None
    return (
        f"the model doubted {unsure} of {total} words "
        "(speech in a language it cannot transcribe, music or noise?)"
    )
