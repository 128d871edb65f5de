"""Snap a snip's window to whole sentences.

A press lands mid-sentence; a highlight that starts with "...and that is why"
is useless. Using word timestamps, the window grows back to the first word of
the sentence holding its start and on to the last word of the sentence
holding its end. A sentence ends at a word ending in . ? or ! or at a pause
longer than ``pause`` seconds (speech without punctuation still has breaths).
Each side grows by at most ``max_extension`` seconds, so a run-on sentence or
a transcript without punctuation cannot swallow the episode.

Whatever the words, the press and the ``PRESS_LEAD`` seconds before it stay
inside (``hold``): a press in music or silence after a sentence must not end
as a window of that sentence alone.

Without word timings (a Wyoming server, a publisher's SRT/VTT cues) the
segments are the units instead: the window grows to the edges of the
segments holding its start and end, under the same bound.

Pure functions over ``Transcript``; times are on the transcript's timeline.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

from earmark.transcribe.base import Segment, Transcript, Word

SENTENCE_END = (".", "?", "!", "…")
CLOSERS = "\"'”’)]»"
DEFAULT_PAUSE = 0.8
DEFAULT_MAX_EXTENSION = 15.0
# the seconds just before a press that its snip always holds: what made the listener press
PRESS_LEAD = 3.0


class SnappedWindow(NamedTuple):
    start: float
    end: float
    text: str


class _Span(NamedTuple):
    """A sentence made of words, or a segment standing in for one."""

    start: float
    end: float
    pieces: tuple[Word, ...]


def ends_sentence(word: str) -> bool:
    return word.rstrip(CLOSERS).endswith(SENTENCE_END)


def split_sentences(words: Sequence[Word], pause: float = DEFAULT_PAUSE) -> list[tuple[Word, ...]]:
    """Group words (in time order) into sentences."""
    sentences: list[tuple[Word, ...]] = []
    current: list[Word] = []
    for i, word in enumerate(words):
        current.append(word)
        following = words[i + 1] if i + 1 < len(words) else None
        if following is None or ends_sentence(word.text) or following.start - word.end > pause:
            sentences.append(tuple(current))
            current = []
    return sentences


def snap_to_sentences(
    transcript: Transcript,
    start: float,
    end: float,
    *,
    max_extension: float = DEFAULT_MAX_EXTENSION,
    pause: float = DEFAULT_PAUSE,
    hold: tuple[float, float] | None = None,
) -> SnappedWindow:
    """The window [start, end] grown to whole sentences, and the words inside it;
    it never leaves out ``hold`` (a stretch inside [start, end]).

    If no speech lies in the window, it comes back unchanged with empty text.
    """
    if end < start:
        raise ValueError(f"window end {end} is before its start {start}")
    words = sorted(
        (w for s in transcript.segments for w in s.words if w.text.strip()),
        key=lambda w: (w.start, w.end),
    )
    if words:
        spans = [_Span(s[0].start, s[-1].end, s) for s in split_sentences(words, pause)]
        return _snap(spans, start, end, max_extension, hold, by_midpoint=True)
    # no word timings: each segment stands in for a sentence
    spans = [
        _Span(s.start, s.end, (Word(s.start, s.end, s.text.strip()),))
        for s in sorted(transcript.segments, key=lambda s: (s.start, s.end))
        if s.text.strip()
    ]
    return _snap(spans, start, end, max_extension, hold, by_midpoint=False)


def _snap(
    spans: Sequence[_Span],
    start: float,
    end: float,
    max_extension: float,
    hold: tuple[float, float] | None,
    *,
    by_midpoint: bool,
) -> SnappedWindow:
    inside = [s for s in spans if s.end > start and s.start < end]
    if not inside:
        return SnappedWindow(start, end, "")
    first, last = inside[0], inside[-1]
    earliest, latest = start - max_extension, end + max_extension
    if first.start < start:
        # the sentence holding the start: back to its first word, but no
        # further than the bound (then to the first word inside the bound)
        edge = next((p.start for p in first.pieces if p.start >= earliest), start)
        snapped_start = min(edge, start)
    else:
        snapped_start = first.start  # the window began in a pause: drop the silence
    if last.end > end:
        edge = next((p.end for p in reversed(last.pieces) if p.end <= latest), end)
        snapped_end = max(edge, end)
    else:
        snapped_end = last.end
    if hold is not None:
        # only silence or music can lie at a held edge that snapping crossed: a
        # sentence there would be in the window and its edge beyond the hold
        snapped_start = min(snapped_start, max(start, hold[0]))
        snapped_end = max(snapped_end, min(end, hold[1]))

    def kept(piece: Word) -> bool:
        if by_midpoint:
            # words abut: the one ending where the window starts is not in it
            return snapped_start <= (piece.start + piece.end) / 2 <= snapped_end
        return piece.end > snapped_start and piece.start < snapped_end

    text = " ".join(p.text.strip() for s in inside for p in s.pieces if kept(p))
    return SnappedWindow(round(snapped_start, 3), round(snapped_end, 3), text)


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
