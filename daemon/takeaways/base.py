"""The shape of a summary and the protocol every summarizer speaks."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

# a highlight gets at most this many takeaways
MAX_TAKEAWAYS = 3


@dataclass(frozen=True)
class Summary:
    """What a summarizer made of one highlight's transcript.

    ``takeaways`` holds one to three points (none when there was no speech);
    ``quote`` is one sentence of the transcript word for word, or None when the
    backend picks none. ``backend`` and ``backend_version`` name what made it;
    ``fallback_reason`` says why, when it is not the configured backend.
    """

    title: str
    takeaways: tuple[str, ...]
    backend: str
    backend_version: str
    quote: str | None = None
    fallback_reason: str | None = None

    def __post_init__(self) -> None:
        if len(self.takeaways) > MAX_TAKEAWAYS:
            raise ValueError(
                f"{len(self.takeaways)} takeaways; a summary has at most {MAX_TAKEAWAYS}"
            )


class Summarizer(Protocol):
    """Turns a highlight's transcript into a title, a quote and takeaways.
    Implementations may block; callers run them off the event loop.

    ``low_confidence`` holds passages of ``transcript``, word for word, that the
    recogniser doubted (it may have invented them): a summarizer takes no title,
    quote or takeaway from a sentence that holds any of them."""

    name: str

    def summarize(self, transcript: str, low_confidence: Sequence[str] = ()) -> Summary: ...
