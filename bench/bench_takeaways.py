"""Takeaways against the sentences a careful listener marked, for the on-device
summarizer and three baselines, over the same snips.

The evaluation set (``tests/data/takeaways_eval.json``) holds hand-written snip
transcripts with their sentence times, the press, the episode around them and
the one or two sentences that are the point. Each summarizer gets three figures:

- takeaway hit rate: share of snips where some takeaway contains a marked sentence;
- quote hit rate: share of snips whose quote is a marked sentence;
- ROUGE-L F1 of the takeaways, joined, against the marked sentences, joined.

"Contains" is ROUGE-L recall of the marked sentence against the takeaway of at
least ``HIT_RECALL``, over lowercase word tokens: a summarizer that cleaned
"um" and "you know" out of the sentence still hits.

Baselines: lead-2 (the first two sentences), press-2 (the two sentences that
end nearest before the press) and longest (today's extractive summarizer).
"""

from __future__ import annotations

import json
import re
import sys
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from bench import Figure
from earmark.takeaways.base import Sentence, SnipText, Summary

EVAL_SET = Path(__file__).resolve().parent.parent / "tests" / "data" / "takeaways_eval.json"
HIT_RECALL = 0.7
ON_DEVICE = "minilm"
_WORD = re.compile(r"[a-z0-9]+")


class Summarizer(Protocol):
    name: str

    def summarize(self, snip: SnipText) -> Summary: ...


@dataclass(frozen=True)
class MarkedSnip:
    """One snip of the evaluation set and the sentences marked as its point."""

    id: str
    kind: str
    snip: SnipText
    marked: tuple[str, ...]


def load_eval_set(path: Path = EVAL_SET) -> list[MarkedSnip]:
    raw = json.loads(path.read_text(encoding="utf-8"))
    snips = []
    for item in raw["snips"]:
        sentences = tuple(Sentence(s["text"], s["start"], s["end"]) for s in item["sentences"])
        snip = SnipText(
            sentences=sentences,
            press=item["press"],
            episode_title=item["episode_title"],
            episode_description=item["episode_description"],
            chapter=item["chapter"],
        )
        marked = tuple(sentences[i].text for i in item["marked"])
        snips.append(MarkedSnip(item["id"], item["kind"], snip, marked))
    return snips


# --- the metric -----------------------------------------------------------


def words(text: str) -> list[str]:
    """Lowercase word tokens; punctuation and apostrophes dropped ("it's" -> "its")."""
    return _WORD.findall(text.lower().replace("'", "").replace("’", ""))


def lcs_length(a: Sequence[str], b: Sequence[str]) -> int:
    """The length of the longest common subsequence of ``a`` and ``b``."""
    previous = [0] * (len(b) + 1)
    for x in a:
        current = [0]
        for j, y in enumerate(b, 1):
            current.append(previous[j - 1] + 1 if x == y else max(previous[j], current[j - 1]))
        previous = current
    return previous[-1]


@dataclass(frozen=True)
class Rouge:
    precision: float
    recall: float
    f1: float


def rouge_l(candidate: str, reference: str) -> Rouge:
    """ROUGE-L of ``candidate`` against ``reference``: their longest common word
    subsequence over the candidate's length (precision) and the reference's (recall)."""
    cand, ref = words(candidate), words(reference)
    common = lcs_length(cand, ref)
    if not common:
        return Rouge(0.0, 0.0, 0.0)
    precision, recall = common / len(cand), common / len(ref)
    return Rouge(precision, recall, 2 * precision * recall / (precision + recall))


def contains(text: str | None, marked: str) -> bool:
    """``text`` holds the marked sentence, give or take fillers the summarizer removed."""
    return text is not None and rouge_l(text, marked).recall >= HIT_RECALL


@dataclass(frozen=True)
class Scored:
    takeaway_hit: bool
    quote_hit: bool
    rouge_f1: float


def score(summary: Summary, marked: Sequence[str]) -> Scored:
    return Scored(
        takeaway_hit=any(contains(t, m) for t in summary.takeaways for m in marked),
        quote_hit=any(contains(summary.quote, m) for m in marked),
        rouge_f1=rouge_l(" ".join(summary.takeaways), " ".join(marked)).f1,
    )


# --- the baselines --------------------------------------------------------


def _plain(name: str, chosen: Sequence[Sentence], quote: Sentence | None) -> Summary:
    title = chosen[0].text[:60] if chosen else "(no speech)"
    return Summary(
        title=title,
        takeaways=tuple(s.text for s in chosen),
        backend=name,
        backend_version="baseline",
        quote=quote.text if quote else None,
        quote_at=quote.start if quote else None,
    )


class LeadTwo:
    """The first two sentences; the quote is the first."""

    name = "lead-2"

    def summarize(self, snip: SnipText) -> Summary:
        chosen = [s for s in snip.sentences if not s.doubted][:2]
        return _plain(self.name, chosen, chosen[0] if chosen else None)


class PressTwo:
    """The two sentences ending nearest before (or at) the press, in spoken order;
    the quote is the nearer. With none ended yet, the first sentence."""

    name = "press-2"

    def summarize(self, snip: SnipText) -> Summary:
        spoken = [s for s in snip.sentences if not s.doubted]
        ended = [s for s in spoken if s.end <= snip.press] or spoken[:1]
        chosen = ended[-2:]
        return _plain(self.name, chosen, chosen[-1] if chosen else None)


class Longest:
    """Today's summarizer, the extractive backend: the longest sentences."""

    name = "longest"

    def __init__(self) -> None:
        from earmark.takeaways.extractive import ExtractiveSummarizer

        self._extractive = ExtractiveSummarizer()

    def summarize(self, snip: SnipText) -> Summary:
        return self._extractive.summarize(snip)


def on_device() -> Summarizer | None:
    """The configured on-device summarizer, or None (and one line why) when it
    cannot be built yet: the backend is not registered or its model is missing."""
    from earmark.config.choices import SummarizerBackend
    from earmark.config.model import TakeawaysConfig
    from earmark.takeaways.registry import build_summarizer

    try:
        return build_summarizer(TakeawaysConfig(backend=SummarizerBackend(ON_DEVICE)))
    except Exception as error:  # any failure to build means: score the baselines only
        print(f"takeaways: no on-device summarizer ({ON_DEVICE!r}): {error!r}", file=sys.stderr)
        return None


# --- the run --------------------------------------------------------------


@dataclass(frozen=True)
class Result:
    name: str
    scored: dict[str, Scored]  # by snip id

    def share(self, attribute: str) -> float:
        return sum(bool(getattr(s, attribute)) for s in self.scored.values()) / len(self.scored)

    def rouge(self) -> float:
        return sum(s.rouge_f1 for s in self.scored.values()) / len(self.scored)


def evaluate(summarizer: Summarizer, snips: Sequence[MarkedSnip]) -> Result:
    scored = {s.id: score(summarizer.summarize(s.snip), s.marked) for s in snips}
    return Result(summarizer.name, scored)


def _by_kind(result: Result, snips: Sequence[MarkedSnip]) -> str:
    kinds: dict[str, list[str]] = defaultdict(list)
    for snip in snips:
        kinds[snip.kind].append(snip.id)
    hits = (
        f"{kind} {sum(result.scored[i].takeaway_hit for i in ids)}/{len(ids)}"
        for kind, ids in sorted(kinds.items())
    )
    return "takeaway hits by kind: " + ", ".join(hits)


def _figures(result: Result, baselines: Sequence[Result], count: int) -> list[Figure]:
    measures = [
        ("takeaway hit rate", lambda r: r.share("takeaway_hit"), "share"),
        ("quote hit rate", lambda r: r.share("quote_hit"), "share"),
        ("ROUGE-L F1 vs marked", Result.rouge, "F1"),
    ]
    figures = []
    for label, measure, unit in measures:
        value = measure(result)
        if baselines:
            best = max(baselines, key=measure)
            verdict = "beats" if all(value > measure(b) for b in baselines) else "does not beat"
            target = "> baselines"
            detail = (
                f"{verdict} every baseline; "
                + ", ".join(f"{b.name} {measure(b):.3f}" for b in baselines)
                + f" (best {best.name}); {count} snips"
            )
        else:
            target, detail = "", f"baseline; {count} snips"
        figures.append(Figure(f"takeaways {result.name}: {label}", value, unit, target, detail))
    return figures


def run() -> list[Figure]:
    snips = load_eval_set()
    summarizers: list[Summarizer] = [LeadTwo(), PressTwo(), Longest()]
    baselines = [evaluate(s, snips) for s in summarizers]
    figures = [f for b in baselines for f in _figures(b, [], len(snips))]
    device = on_device()
    results = baselines
    if device is not None:
        measured = evaluate(device, snips)
        figures += _figures(measured, baselines, len(snips))
        results = [*baselines, measured]
    for result in results:
        print(f"# takeaways {result.name}: {_by_kind(result, snips)}", file=sys.stderr)
    return figures
