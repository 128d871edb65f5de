"""Build the configured summarizer by name.

Each backend module exposes ``build(config) -> Summarizer``; adding a backend is
one new module and one entry in ``SUMMARIZERS``. The factories import their
module only when chosen (a model-backed summarizer loads nothing unless picked),
and mypy checks every factory's signature.
"""

from __future__ import annotations

from collections.abc import Callable

from earmark.config.choices import SummarizerBackend
from earmark.config.model import TakeawaysConfig
from earmark.takeaways.base import Summarizer

Factory = Callable[[TakeawaysConfig], Summarizer]


def _extractive(config: TakeawaysConfig) -> Summarizer:
    from earmark.takeaways import extractive

    return extractive.build(config)


# every choice of ``takeaways.backend`` (config refuses any other name)
SUMMARIZERS: dict[SummarizerBackend, Factory] = {
    SummarizerBackend.EXTRACTIVE: _extractive,
}


def build_summarizer(config: TakeawaysConfig) -> Summarizer:
    return SUMMARIZERS[SummarizerBackend(config.backend)](config)
