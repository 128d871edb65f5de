"""An episode's key points, from the transcript the look-ahead stored: the few
sentences that carry the episode, each with its time, spread over its length.

With sentence embeddings, a sentence scores by how close it is to the
episode's centre (the mean of all its sentences) and to its title and
description; the points are chosen by maximal marginal relevance and kept a
minute apart. Without a model, the most substantial sentence of each equal
stretch of the episode stands in.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from earmark.takeaways.base import Sentence
from earmark.takeaways.spoken import clean, shortened

KEY_POINTS = 5
MIN_WORDS = 8  # a key point says something whole
SPACING = 60.0  # seconds between two key points
DIVERSITY = 0.7
_AD = re.compile(r"brought to you by|sponsored by|promo code|use code|percent off", re.I)

Embed = Callable[[Sequence[str]], np.ndarray]


@dataclass(frozen=True)
class KeyPoint:
    text: str
    at: float  # where it begins in the episode (seconds)


def key_points(
    sentences: Sequence[Sentence], context: str, embed: Embed | None, limit: int = KEY_POINTS
) -> tuple[KeyPoint, ...]:
    """Up to ``limit`` key points, in the episode's order."""
    candidates = [
        (s, text)
        for s in sentences
        if not s.doubted
        and len((text := clean(s.text)).split()) >= MIN_WORDS
        and not _AD.search(text)
    ]
    if not candidates:
        return ()
    if embed is None:
        chosen = _longest_per_stretch([s for s, _ in candidates], limit)
    else:
        chosen = _central_and_diverse(candidates, context, embed, limit)
    points = [KeyPoint(shortened(clean(s.text)), round(s.start, 3)) for s in chosen]
    return tuple(sorted(points, key=lambda p: p.at))


def _central_and_diverse(
    candidates: Sequence[tuple[Sentence, str]], context: str, embed: Embed, limit: int
) -> list[Sentence]:
    texts = [text for _, text in candidates]
    vectors = embed([*texts, context] if context else texts)
    own = vectors[: len(texts)]
    centre = own.mean(axis=0)
    centre /= max(float(np.linalg.norm(centre)), 1e-9)
    score = own @ centre + (0.4 * (own @ vectors[-1]) if context else 0.0)
    chosen: list[int] = []
    while len(chosen) < limit:
        spaced = [
            i
            for i in range(len(texts))
            if i not in chosen
            and all(abs(candidates[i][0].start - candidates[j][0].start) >= SPACING for j in chosen)
        ]
        if not spaced:
            break

        def worth(i: int) -> float:
            redundancy = max((float(own[i] @ own[j]) for j in chosen), default=0.0)
            return DIVERSITY * float(score[i]) - (1 - DIVERSITY) * redundancy

        chosen.append(max(spaced, key=worth))
    return [candidates[i][0] for i in chosen]


def _longest_per_stretch(sentences: Sequence[Sentence], limit: int) -> list[Sentence]:
    start, end = sentences[0].start, sentences[-1].end
    width = max(end - start, 1e-9) / limit
    stretches: dict[int, Sentence] = {}
    for s in sentences:
        slot = min(int((s.start - start) / width), limit - 1)
        best = stretches.get(slot)
        if best is None or len(s.text.split()) > len(best.text.split()):
            stretches[slot] = s
    return list(stretches.values())
