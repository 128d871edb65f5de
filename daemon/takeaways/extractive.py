"""The extractive summarizer: needs no model. The title is the opening of the
first sentence, the takeaways are the most substantial sentences in spoken order;
a sentence holding a passage heard with low confidence is neither.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from earmark.config.model import TakeawaysConfig
from earmark.takeaways.base import MAX_TAKEAWAYS, Summary

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


class ExtractiveSummarizer:
    name = "extractive"
    version = "1"  # bump when the same transcript would give a different summary

    def __init__(self, max_takeaways: int = MAX_TAKEAWAYS, title_chars: int = 60) -> None:
        if not 1 <= max_takeaways <= MAX_TAKEAWAYS:
            raise ValueError(f"max_takeaways must be 1 to {MAX_TAKEAWAYS}, got {max_takeaways}")
        self.max_takeaways = max_takeaways
        self.title_chars = title_chars

    def summarize(self, transcript: str, low_confidence: Sequence[str] = ()) -> Summary:
        text = transcript.strip()
        spoken = _sentences(text)
        if not spoken:
            return self._summary("(no speech)", ())
        doubted = _spans(text, low_confidence)
        sentences = [
            sentence
            for start, end, sentence in spoken
            if not any(start < b and a < end for a, b in doubted)
        ]
        if not sentences:
            return self._summary("(speech not recognised with confidence)", ())
        title = sentences[0].rstrip(".!?")
        if len(title) > self.title_chars:
            title = title[: self.title_chars].rsplit(" ", 1)[0] + "…"
        # a sentence said twice (a repetition loop in ASR) is one takeaway
        distinct = list(dict.fromkeys(sentences))
        ranked = sorted(distinct, key=lambda s: len(s.split()), reverse=True)
        chosen = set(ranked[: self.max_takeaways])
        return self._summary(title, tuple(s for s in distinct if s in chosen))

    def _summary(self, title: str, takeaways: tuple[str, ...]) -> Summary:
        return Summary(
            title=title,
            takeaways=takeaways,
            backend=self.name,
            backend_version=self.version,
        )


def _sentences(text: str) -> list[tuple[int, int, str]]:
    """The sentences of ``text`` with where each begins and ends in it."""
    found, at = [], 0
    for gap in _SENTENCE_END.finditer(text):
        found.append((at, gap.start(), text[at : gap.start()]))
        at = gap.end()
    found.append((at, len(text), text[at:]))
    return [(a, b, s.strip()) for a, b, s in found if s.strip()]


def _spans(text: str, passages: Sequence[str]) -> list[tuple[int, int]]:
    """Where each passage lies in ``text``: the next place after the previous one,
    in spoken order, else anywhere (every place, to be safe)."""
    spans: list[tuple[int, int]] = []
    at = 0
    for passage in (p.strip() for p in passages):
        if not passage:
            continue
        found = text.find(passage, at)
        if found >= 0:
            spans.append((found, found + len(passage)))
            at = found + len(passage)
            continue
        spans.extend((m.start(), m.end()) for m in re.finditer(re.escape(passage), text))
    return spans


def build(config: TakeawaysConfig) -> ExtractiveSummarizer:
    return ExtractiveSummarizer()
