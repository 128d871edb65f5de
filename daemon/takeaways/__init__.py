"""Takeaways: a title, a quote and one to three short points for a highlight,
from a ``Summarizer`` chosen by ``takeaways.backend``."""

from earmark.takeaways.base import Sentence, SnipText, Summarizer, Summary
from earmark.takeaways.extractive import ExtractiveSummarizer
from earmark.takeaways.registry import build_refiner, build_summarizer

__all__ = [
    "ExtractiveSummarizer",
    "Sentence",
    "SnipText",
    "Summarizer",
    "Summary",
    "build_refiner",
    "build_summarizer",
]
