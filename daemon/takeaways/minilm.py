"""The on-device summarizer: sentence embeddings (all-MiniLM-L6-v2), no network.

A listener presses just *after* what struck them. Each sentence is scored by
how central it is to the snip (its mean similarity to the others), how near it
ends before the press, how close it is to the episode's title, description and
chapter, and whether it has enough words to stand alone; an ad read by the host
is marked down. The quote is the best-scored sentence near the press; the
takeaways are the quote and the best others that say something different
(maximal marginal relevance), cleaned of fillers, in spoken order; the title is
the quote's key clause. One call to the model embeds every sentence and the
context together.
"""

from __future__ import annotations

import math
import re
import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from earmark.takeaways.base import MAX_TAKEAWAYS, Sentence, SnipText, Summary
from earmark.takeaways.embeddings import Embedder
from earmark.takeaways.spoken import clean, shortened, title_from

# weights of the score's parts (tuned on tests/data/takeaways_eval.json)
CENTRAL, NEAR, CONTEXT, SUBSTANCE = 1.0, 1.2, 0.4, 0.3
# a sentence ending this long before the press counts half as near
NEAR_HALF_LIFE = 10.0
# the quote ends at most this long before the press (or begins just after it)
QUOTE_WINDOW = 25.0
# maximal marginal relevance: 1 = score only, 0 = difference only
DIVERSITY = 0.7
# a sentence of fewer words says too little to stand alone as a takeaway
MIN_WORDS = 5
_AD = re.compile(
    r"brought to you by|sponsored by|promo code|discount code|use code|free trial"
    r"|\.com/|dot com slash|percent off|% off|our sponsor",
    re.IGNORECASE,
)


class MiniLmSummarizer:
    name = "minilm"
    version = "1"  # bump when the same snip would give a different summary

    def __init__(self, model: Path | None = None, tokenizer: Path | None = None) -> None:
        self._files = (model, tokenizer)
        self._embedder: Embedder | None = None
        self._loading = threading.Lock()

    @property
    def embedder(self) -> Embedder:
        """Loaded at the first snip, not at start: the daemon starts playing at once."""
        with self._loading:
            if self._embedder is None:
                self._embedder = Embedder(*self._files)
            return self._embedder

    def summarize(self, snip: SnipText) -> Summary:
        candidates = [s for s in snip.sentences if not s.doubted and clean(s.text)]
        if not candidates:
            empty = "(no speech)" if not snip.sentences else "(speech not recognised)"
            return self._summary(empty, (), None)
        context = " ".join(
            t for t in (snip.episode_title, snip.chapter, snip.episode_description) if t
        )
        texts = [clean(s.text) for s in candidates]
        vectors = self.embedder.embed([*texts, context] if context else texts)
        scores = _scores(candidates, texts, vectors, snip.press, has_context=bool(context))
        quote = _quote(candidates, scores, snip.press)
        chosen = _diverse(vectors[: len(candidates)], scores, first=quote)
        takeaways = tuple(shortened(texts[i]) for i in sorted(chosen))
        title = title_from(candidates[quote].text, avoid=snip.episode_title)
        if not title:  # the key clause was the episode's own title
            best_other = next((i for i in chosen if i != quote), quote)
            title = title_from(candidates[best_other].text, avoid=snip.episode_title)
        return self._summary(title or "(untitled)", takeaways, candidates[quote])

    def _summary(self, title: str, takeaways: tuple[str, ...], quote: Sentence | None) -> Summary:
        return Summary(
            title=title,
            takeaways=takeaways,
            backend=self.name,
            backend_version=self.version,
            quote=quote.text if quote else None,
            quote_at=quote.start if quote else None,
        )


def _scores(
    sentences: Sequence[Sentence],
    texts: Sequence[str],
    vectors: np.ndarray,
    press: float,
    has_context: bool,
) -> np.ndarray:
    n = len(sentences)
    own = vectors[:n]
    similar = own @ own.T
    central = (similar.sum(axis=1) - 1.0) / max(1, n - 1) if n > 1 else np.ones(1)
    near = np.array([_nearness(s, press) for s in sentences])
    context = own @ vectors[n] if has_context else np.zeros(n)
    words = np.array([len(t.split()) for t in texts])
    substance = np.clip((words - 3) / 12.0, 0.0, 1.0)
    ads = np.array([0.6 if _AD.search(t) else 0.0 for t in texts])
    return CENTRAL * central + NEAR * near + CONTEXT * context + SUBSTANCE * substance - ads


def _nearness(sentence: Sentence, press: float) -> float:
    """1 for a sentence ending at the press, halving every NEAR_HALF_LIFE seconds
    before it; a sentence after the press was not yet heard when the listener
    pressed, unless it had just begun."""
    before = press - sentence.end
    if before >= 0:
        return math.pow(0.5, before / NEAR_HALF_LIFE)
    if sentence.start <= press:
        return 0.9  # the press came while it was being said
    return 0.3 * math.pow(0.5, (sentence.start - press) / 3.0)


def _quote(sentences: Sequence[Sentence], scores: np.ndarray, press: float) -> int:
    """The best-scored sentence near the press that can stand alone."""
    near = [
        i
        for i, s in enumerate(sentences)
        if press - QUOTE_WINDOW <= s.end and s.start <= press + 2.0
    ]
    whole = [i for i in near if len(sentences[i].text.split()) >= MIN_WORDS] or near
    pool = whole or list(range(len(sentences)))
    return max(pool, key=lambda i: scores[i])


def _diverse(vectors: np.ndarray, scores: np.ndarray, first: int) -> list[int]:
    """The quote, then up to two more by maximal marginal relevance."""
    chosen = [first]
    spread = float(scores.max() - scores.min()) or 1.0
    relevance = (scores - scores.min()) / spread
    while len(chosen) < MAX_TAKEAWAYS:
        left = [i for i in range(len(scores)) if i not in chosen]
        if not left:
            break
        redundancy = {i: max(float(vectors[i] @ vectors[j]) for j in chosen) for i in left}
        best = max(left, key=lambda i: DIVERSITY * relevance[i] - (1 - DIVERSITY) * redundancy[i])
        if relevance[best] < 0.35 or redundancy[best] > 0.85:
            break  # what is left says little, or says the same again
        chosen.append(best)
    return chosen


def build(model: Path | None = None, tokenizer: Path | None = None) -> MiniLmSummarizer:
    return MiniLmSummarizer(model, tokenizer)
