"""The extractive summarizer: needs no model. The title is the opening of the
first sentence, the takeaways are the most substantial sentences in spoken order;
a sentence holding a passage heard with low confidence is neither.
"""

from __future__ import annotations

from collections.abc import Sequence

from earmark.config.model import TakeawaysConfig
from earmark.takeaways.base import MAX_TAKEAWAYS, Sentence, SnipText, Summary
from earmark.takeaways.key_points import KeyPoint, key_points


class ExtractiveSummarizer:
    name = "extractive"
    version = "1"  # bump when the same transcript would give a different summary

    def __init__(self, max_takeaways: int = MAX_TAKEAWAYS, title_chars: int = 60) -> None:
        if not 1 <= max_takeaways <= MAX_TAKEAWAYS:
            raise ValueError(f"max_takeaways must be 1 to {MAX_TAKEAWAYS}, got {max_takeaways}")
        self.max_takeaways = max_takeaways
        self.title_chars = title_chars

    def summarize(self, snip: SnipText) -> Summary:
        if not snip.sentences:
            return self._summary("(no speech)", ())
        sentences = [s.text for s in snip.sentences if not s.doubted]
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

    def key_points(self, sentences: Sequence[Sentence], context: str) -> tuple[KeyPoint, ...]:
        return key_points(sentences, context, embed=None)

    def _summary(self, title: str, takeaways: tuple[str, ...]) -> Summary:
        return Summary(
            title=title,
            takeaways=takeaways,
            backend=self.name,
            backend_version=self.version,
        )


def build(config: TakeawaysConfig) -> ExtractiveSummarizer:
    return ExtractiveSummarizer()
