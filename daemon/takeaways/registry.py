"""Build the configured summarizer by name.

Each backend module exposes ``build(config) -> Summarizer``; adding a backend is
one new module and one entry in ``SUMMARIZERS``. The factories import their
module only when chosen (a model-backed summarizer loads nothing unless picked),
and mypy checks every factory's signature.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from earmark.config.choices import SummarizerBackend
from earmark.config.model import TakeawaysConfig
from earmark.errors import EarmarkError
from earmark.takeaways.base import Sentence, SnipText, Summarizer, Summary
from earmark.takeaways.key_points import KeyPoint

if TYPE_CHECKING:
    from earmark.takeaways.llm import LlmRefiner

log = logging.getLogger(__name__)

Factory = Callable[[TakeawaysConfig], Summarizer]


def _extractive(config: TakeawaysConfig) -> Summarizer:
    from earmark.takeaways import extractive

    return extractive.build(config)


def _minilm(config: TakeawaysConfig) -> Summarizer:
    from earmark.takeaways import minilm

    return WithFallback(minilm.build(config.model_path, config.tokenizer_path), _extractive(config))


# every choice of ``takeaways.backend`` (config refuses any other name)
SUMMARIZERS: dict[SummarizerBackend, Factory] = {
    SummarizerBackend.MINILM: _minilm,
    SummarizerBackend.EXTRACTIVE: _extractive,
}


class WithFallback:
    """A model-backed summarizer that, when its model is missing, corrupt or fails,
    hands the snip to one that needs none: the snip is still done, with a plain
    title, and its summary says why (``fallback_reason``); the log says it once."""

    def __init__(self, primary: Summarizer, fallback: Summarizer) -> None:
        self.primary = primary
        self.fallback = fallback
        self.name = primary.name
        self._said: str | None = None

    def summarize(self, snip: SnipText) -> Summary:
        try:
            return self.primary.summarize(snip)
        except EarmarkError as exc:
            reason = f"{self.primary.name} failed: {exc}"
            if reason != self._said:
                log.error("takeaways fall back to %s: %s", self.fallback.name, reason)
                self._said = reason
            return dataclasses.replace(self.fallback.summarize(snip), fallback_reason=reason)

    def key_points(self, sentences: Sequence[Sentence], context: str) -> tuple[KeyPoint, ...]:
        try:
            return self.primary.key_points(sentences, context)
        except EarmarkError as exc:
            log.error("key points fall back to %s: %s", self.fallback.name, exc)
            return self.fallback.key_points(sentences, context)


def build_refiner(config: TakeawaysConfig) -> LlmRefiner | None:
    """The LLM that refines each summary in the background, when one is configured."""
    llm = config.llm
    if llm.url is None:
        return None
    from earmark.takeaways.llm import LlmRefiner

    return LlmRefiner(llm.url, llm.model, llm.key(), llm.timeout, llm.max_tokens)


def build_summarizer(config: TakeawaysConfig) -> Summarizer:
    return SUMMARIZERS[SummarizerBackend(config.backend)](config)
