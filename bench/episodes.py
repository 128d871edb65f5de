"""Speech episodes for the benchmarks, made the way the tests make them."""

from __future__ import annotations

import tempfile
from pathlib import Path

from earmark.library.speech import SpokenAudio, encode, synthesize

CACHE = Path(tempfile.gettempdir()) / "earmark-bench-speech"

SENTENCES = (
    "Good bread starts with patience, not with expensive flour.",
    "Mix the flour and the water first, and let them rest for half an hour.",
    "This rest is called the autolyse, and it makes the dough easier to shape.",
    "Then add the salt and the starter, and fold the dough every thirty minutes.",
    "After four folds the dough should feel smooth, soft and full of air.",
    "Shape it gently into a round loaf and let it rise in a cool kitchen.",
    "A long, slow rise in the fridge gives the bread a deeper flavour.",
    "Heat the oven for a full hour with the heavy pot inside it.",
    "Bake with the lid on for twenty minutes so the steam can lift the loaf.",
    "Then take the lid off and bake until the crust is a deep brown colour.",
    "Let the loaf cool for an hour before you cut it, however hard that is.",
    "Warm bread is still cooking inside, and cutting it early makes it gummy.",
    "Keep the loaf cut side down on a wooden board, and it stays fresh for days.",
    "Stale bread is not a failure, because it makes the best toast and crumbs.",
    "Next time we will talk about rye, and why it behaves so differently.",
    "Thank you for baking along with us this week.",
)


def bread_episode(folder: Path, repeats: int = 1) -> tuple[Path, SpokenAudio]:
    audio = synthesize(SENTENCES * repeats, CACHE)
    path = encode(audio.wav, folder / f"bread-{repeats}.mp3", title="Bread")
    return path, audio
