"""Takeaways: a title and one to three short points for a highlight.

A ``Summarizer`` per configured name. This first one is extractive and needs
no model: the title is the opening of the first sentence, the takeaways are
the most substantial sentences in spoken order. The embedding-ranked and LLM
summarizers of DESIGN.md plug in beside it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Protocol

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


@dataclass(frozen=True)
class Summary:
    title: str
    takeaways: tuple[str, ...]


class Summarizer(Protocol):
    name: str

    def summarize(self, transcript: str) -> Summary: ...


class ExtractiveSummarizer:
    name = "extractive"

    def __init__(self, max_takeaways: int = 3, title_chars: int = 60) -> None:
        self.max_takeaways = max_takeaways
        self.title_chars = title_chars

    def summarize(self, transcript: str) -> Summary:
        sentences = [s.strip() for s in _SENTENCE_END.split(transcript.strip()) if s.strip()]
        if not sentences:
            return Summary(title="(no speech)", takeaways=())
        title = sentences[0].rstrip(".!?")
        if len(title) > self.title_chars:
            title = title[: self.title_chars].rsplit(" ", 1)[0] + "…"
        ranked = sorted(sentences, key=lambda s: len(s.split()), reverse=True)
        chosen = set(ranked[: self.max_takeaways])
        return Summary(title=title, takeaways=tuple(s for s in sentences if s in chosen))
