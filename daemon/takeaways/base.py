"""What a summarizer reads (:class:`SnipText`), what it makes (:class:`Summary`)
and the protocol every summarizer speaks."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from earmark.takeaways.key_points import KeyPoint

# a highlight gets at most this many takeaways
MAX_TAKEAWAYS = 3
_SENTENCE_END = re.compile(r"(?<=[.!?…])[\"'”’)\]]*\s+")


@dataclass(frozen=True)
class Sentence:
    """One sentence of a snip, its times on the episode's timeline (seconds).

    ``doubted``: it holds words the recogniser doubted (it may have invented
    them); a summarizer takes no title, quote or takeaway from it."""

    text: str
    start: float
    end: float
    doubted: bool = False


@dataclass(frozen=True)
class SnipText:
    """What a summarizer reads of one snip: its sentences in spoken order, the
    moment the listener pressed (on the same timeline), and the episode around it."""

    sentences: tuple[Sentence, ...]
    press: float
    episode_title: str = ""
    episode_description: str = ""
    chapter: str = ""

    @property
    def transcript(self) -> str:
        return " ".join(s.text for s in self.sentences)

    @classmethod
    def from_text(
        cls,
        text: str,
        start: float = 0.0,
        end: float | None = None,
        press: float | None = None,
        low_confidence: Sequence[str] = (),
        **context: str,
    ) -> SnipText:
        """A transcript without word times: its sentences get times spread over
        [start, end] by their length in characters (the press defaults to the end);
        a sentence that overlaps a ``low_confidence`` passage is doubted."""
        text = " ".join(text.split())
        end = start + len(text) / 15.0 if end is None else end  # about 15 characters a second
        per_char = (end - start) / max(1, len(text))
        doubted = _places(text, [" ".join(p.split()) for p in low_confidence])
        sentences, at = [], 0
        for piece in (p.strip() for p in _SENTENCE_END.split(text)):
            if not piece:
                continue
            found = text.find(piece, at)
            at = found + len(piece)
            sentences.append(
                Sentence(
                    piece,
                    start + found * per_char,
                    start + at * per_char,
                    any(found < b and a < at for a, b in doubted),
                )
            )
        return cls(tuple(sentences), end if press is None else press, **context)


def _places(text: str, passages: Sequence[str]) -> list[tuple[int, int]]:
    """Where each passage lies in ``text``: the next place after the previous one,
    in spoken order, else anywhere (every place, to be safe)."""
    places: list[tuple[int, int]] = []
    at = 0
    for passage in (p for p in passages if p):
        found = text.find(passage, at)
        if found >= 0:
            places.append((found, found + len(passage)))
            at = found + len(passage)
        else:
            places.extend((m.start(), m.end()) for m in re.finditer(re.escape(passage), text))
    return places


@dataclass(frozen=True)
class Summary:
    """What a summarizer made of one highlight's transcript.

    ``takeaways`` holds one to three points (none when there was no speech);
    ``quote`` is one sentence of the transcript word for word, or None when the
    backend picks none. ``backend`` and ``backend_version`` name what made it;
    ``fallback_reason`` says why, when it is not the configured backend.
    """

    title: str
    takeaways: tuple[str, ...]
    backend: str
    backend_version: str
    quote: str | None = None
    fallback_reason: str | None = None
    # where ``quote`` begins, on the episode's timeline (seconds)
    quote_at: float | None = None

    def __post_init__(self) -> None:
        if len(self.takeaways) > MAX_TAKEAWAYS:
            raise ValueError(
                f"{len(self.takeaways)} takeaways; a summary has at most {MAX_TAKEAWAYS}"
            )


class Summarizer(Protocol):
    """Turns a snip's sentences into a title, a quote and takeaways.
    Implementations may block; callers run them off the event loop. A sentence
    marked ``doubted`` never becomes a title, quote or takeaway."""

    name: str

    def summarize(self, snip: SnipText) -> Summary: ...

    def key_points(self, sentences: Sequence[Sentence], context: str) -> tuple[KeyPoint, ...]:
        """An episode's key points from its sentences, with its title and
        description as ``context``."""
        ...
