"""The on-device summarizer: sentence embeddings (all-MiniLM-L6-v2), no network.

A listener presses just *after* what struck them. Each sentence gets a score,
the sum of a few parts between 0 and 1, each with one weight:

- ``CENTRAL``: its mean similarity to the snip's other sentences (what the snip
  is about, against a joke or an aside);
- ``CONTEXT``: its similarity to the episode's title, chapter and description;
- ``HEARD``: how shortly before the press it ended (halving every
  ``HEARD_HALF_LIFE`` seconds); a sentence still being said at the press
  counts a little, one begun after it not at all;
- ``SUBSTANCE``: whether it has words enough to stand alone, back-channel
  ("yeah", "right", "ha") and spelled-out letters not counted; half for one
  opening with "which", a comment on the sentence before;
- less ``AD`` for an ad read by the host (its phrases, or the sponsor it names)
  or a way into a break, unless the snip around the press is the ad.

A fragment (the last sentence with no end mark, or running on past the press to
the window's end, where the window cut it), a doubted sentence and one of fewer
than ``MIN_WORDS`` words (unless all are) never become the quote or a takeaway. The quote is the
best-scored sentence heard in the ``QUOTE_WINDOW`` before the press; the
takeaways are the quote and the best others that say something different
(maximal marginal relevance), cleaned of fillers, in spoken order; the title is
the quote's key clause. One call to the model embeds every sentence and the
context together.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from earmark.takeaways.base import MAX_TAKEAWAYS, Sentence, SnipText, Summary
from earmark.takeaways.embeddings import Embedder
from earmark.takeaways.key_points import KeyPoint, key_points
from earmark.takeaways.spoken import TITLE_CHARS, clean, shortened, title_from

# weights of the score's parts
CENTRAL, CONTEXT, HEARD, SUBSTANCE, AD = 1.0, 0.4, 1.0, 0.5, 0.6
# a sentence ending this long before the press counts half as heard-just-before
HEARD_HALF_LIFE = 20.0
# the listener hears a point out and takes it in before pressing: a sentence
# ending this long before the press counts as fully heard-just-before
REACTION = 5.0
# what the press came in the middle of counts this much as heard-just-before
HEARD_AT_PRESS = 0.25
# words (back-channel aside) a sentence needs to stand alone, and to say enough
MIN_WORDS, FULL_WORDS = 4, 12
# the quote ended at most this long before the press
QUOTE_WINDOW = 25.0
# maximal marginal relevance: 1 = score only, 0 = difference only
DIVERSITY = 0.7
# a further takeaway needs this share of the best score's lead over the worst
MIN_RELEVANCE = 0.5
# only the sentences nearest the press are read: a snip is about a minute long
MAX_SENTENCES = 64
# an ad read by the host: its phrases, and the sponsor it names
_AD = re.compile(
    r"(?:brought to you|supported|sponsored) by|our sponsors?|promo code|discount code"
    r"|use (?:the )?code|with (?:the )?code|free trial|percent off|% off|\.com/|\.app\b"
    r"|dot (?:com|app|co|io|org)\b|for supporting the show",
    re.IGNORECASE,
)
_SPONSOR = re.compile(
    r"(?:brought to you|supported|sponsored) by (\w+)|(\w+) dot (?:com|app|co|io|org)\b"
    r"|thanks (?:again )?to (\w+) for",
    re.IGNORECASE,
)
# the host's way into a break: marked down like the ad, but not the ad itself
_SEGUE = re.compile(
    r"right after this|after the break|(?:short|quick) break|stick around|when we come back",
    re.IGNORECASE,
)
# a sentence opening with "which" comments on the one before: it leans on that one
_LEANING = re.compile(r"^which\b", re.IGNORECASE)
# back-channel: said to keep a conversation going, not to say something
_BACK_CHANNEL = re.compile(
    r"yeah|yes|yep|no|nope|right|okay|ok|oh|ah|aha|ha|haha|wow|ew|hm|huh|mm|really|exactly"
    r"|sure|well|totally"
)
# a word, not a letter spelled out ("P U R R") but "a" and "I"
_WORD = re.compile(r"\b(?:\w[\w']+|[ai])\b", re.IGNORECASE)
_END_MARK = re.compile(r"[.!?…][\"'”’)\]]*$")


class MiniLmSummarizer:
    name = "minilm"
    version = "2"  # bump when the same snip would give a different summary

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
        heard = _heard(snip)
        if not heard:
            if not snip.sentences:
                return self._summary("(no speech)", (), None)
            if all(s.doubted for s in snip.sentences):
                return self._summary("(speech not recognised)", (), None)
            return self._summary("(only filler words)", (), None)
        able = [i for i, h in enumerate(heard) if h.whole and h.words >= MIN_WORDS]
        able = able or [i for i, h in enumerate(heard) if h.whole]
        if not able:
            return self._summary("(speech cut off)", (), None)
        context = " ".join(
            t for t in (snip.episode_title, snip.chapter, snip.episode_description) if t
        )
        texts = [h.text for h in heard]
        vectors = self.embedder.embed([*texts, context] if context else texts)
        scores = _scores(heard, vectors, snip.press, has_context=bool(context))
        quote = _quote(heard, able, scores, snip.press)
        chosen = _diverse(vectors[: len(heard)], scores, able, first=quote)
        takeaways = tuple(shortened(heard[i].text) for i in sorted(chosen))
        title = ""
        for i in [quote, *sorted(chosen, key=lambda i: -scores[i])]:
            title = title or title_from(heard[i].sentence.text, avoid=snip.episode_title)
        return self._summary(title or _few_words(heard[quote]), takeaways, heard[quote].sentence)

    def key_points(self, sentences: Sequence[Sentence], context: str) -> tuple[KeyPoint, ...]:
        return key_points(sentences, context, self.embedder.embed)

    def _summary(self, title: str, takeaways: tuple[str, ...], quote: Sentence | None) -> Summary:
        return Summary(
            title=title,
            takeaways=takeaways,
            backend=self.name,
            backend_version=self.version,
            quote=quote.text if quote else None,
            quote_at=quote.start if quote else None,
        )


def _few_words(heard: _Heard) -> str:
    """The title of a snip with no clause of a few words: what was said, if short."""
    said = heard.text.rstrip(".!?…")
    return said if len(said) <= TITLE_CHARS else "(untitled)"


@dataclass(frozen=True)
class _Heard:
    """A sentence the summarizer reads: its cleaned text, its words beyond
    back-channel, whether it is whole (not cut by the window) and whether it
    leans on the one before; whether it is the ad or a way into a break."""

    sentence: Sentence
    text: str
    words: int
    whole: bool
    leaning: bool
    ad: bool
    segue: bool


def _heard(snip: SnipText) -> list[_Heard]:
    """The snip's trustworthy sentences with words left once cleaned, at most
    MAX_SENTENCES of them nearest the press, in spoken order."""
    spoken = snip.sentences
    sponsors = {
        name.lower()
        for s in spoken
        for m in _SPONSOR.finditer(s.text)
        for name in m.groups()
        if name
    }
    named = re.compile(rf"\b(?:{'|'.join(map(re.escape, sponsors))})\b", re.I) if sponsors else None
    last = len(spoken) - 1
    heard = []
    for i, sentence in enumerate(spoken):
        text = clean(sentence.text)
        if sentence.doubted or not text:
            continue
        cut = (
            i == last
            and i > 0
            and (not _END_MARK.search(sentence.text.strip()) or sentence.end > snip.press)
        )
        words = [w for w in _WORD.findall(text.lower()) if not _BACK_CHANNEL.fullmatch(w)]
        heard.append(
            _Heard(
                sentence,
                text,
                len(words),
                whole=not cut,
                leaning=bool(_LEANING.match(text)),
                ad=bool(_AD.search(text) or (named and named.search(text))),
                segue=bool(_SEGUE.search(text)),
            )
        )
    if len(heard) > MAX_SENTENCES:
        nearest = sorted(heard, key=lambda h: abs(h.sentence.end - snip.press))[:MAX_SENTENCES]
        heard = [h for h in heard if h in nearest]
    return heard


def _scores(
    heard: Sequence[_Heard], vectors: np.ndarray, press: float, has_context: bool
) -> np.ndarray:
    n = len(heard)
    own = vectors[:n]
    central = ((own @ own.T).sum(axis=1) - 1.0) / (n - 1) if n > 1 else np.ones(1)
    context = own @ vectors[n] if has_context else np.zeros(n)
    near = np.array([_nearness(h.sentence, press) for h in heard])
    words = np.array([h.words for h in heard], dtype=float)
    substance = np.clip((words - MIN_WORDS + 1) / (FULL_WORDS - MIN_WORDS + 1), 0.0, 1.0)
    substance[[h.leaning for h in heard]] *= 0.5  # it leans on the sentence before
    ads = np.array([h.ad for h in heard], dtype=float)
    around_press = ads[[i for i, h in enumerate(heard) if _in_quote_window(h, press)]]
    if around_press.size and around_press.mean() >= 0.5:
        ads[:] = 0.0  # the listener pressed for the ad itself
    off_topic = np.maximum(ads, [h.segue for h in heard])
    return (
        CENTRAL * central
        + CONTEXT * context
        + HEARD * near
        + SUBSTANCE * substance
        - AD * off_topic
    )


def _nearness(sentence: Sentence, press: float) -> float:
    """1 for a sentence ending at the press, halving every HEARD_HALF_LIFE seconds
    before it; HEARD_AT_PRESS for one the press came in; 0 for one begun after."""
    if sentence.end <= press:
        late = max(0.0, press - sentence.end - REACTION)
        return float(0.5 ** (late / HEARD_HALF_LIFE))
    return HEARD_AT_PRESS if sentence.start <= press else 0.0


def _in_quote_window(heard: _Heard, press: float) -> bool:
    return press - QUOTE_WINDOW <= heard.sentence.end and heard.sentence.start <= press


def _quote(heard: Sequence[_Heard], able: list[int], scores: np.ndarray, press: float) -> int:
    """The best-scored sentence that can stand alone, heard just before the press."""
    near = [i for i in able if _in_quote_window(heard[i], press)]
    return max(near or able, key=lambda i: scores[i])


def _diverse(vectors: np.ndarray, scores: np.ndarray, able: list[int], first: int) -> list[int]:
    """The quote, then up to two more by maximal marginal relevance."""
    chosen = [first]
    low, high = float(scores[able].min()), float(scores[able].max())
    relevance = (scores - low) / ((high - low) or 1.0)
    while len(chosen) < MAX_TAKEAWAYS:
        left = [i for i in able if i not in chosen]
        if not left:
            break
        redundancy = {i: max(float(vectors[i] @ vectors[j]) for j in chosen) for i in left}
        best = max(left, key=lambda i: DIVERSITY * relevance[i] - (1 - DIVERSITY) * redundancy[i])
        if relevance[best] < MIN_RELEVANCE or redundancy[best] > 0.85:
            break  # what is left says little, or says the same again
        chosen.append(best)
    return chosen


def build(model: Path | None = None, tokenizer: Path | None = None) -> MiniLmSummarizer:
    return MiniLmSummarizer(model, tokenizer)
