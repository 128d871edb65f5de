"""The shape of a transcript and the protocol every transcriber speaks."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol


@dataclass(frozen=True)
class Word:
    start: float
    end: float
    text: str


@dataclass(frozen=True)
class Segment:
    """A run of speech, times in seconds relative to the audio it came from."""

    start: float
    end: float
    text: str
    words: tuple[Word, ...] = ()


@dataclass(frozen=True)
class Transcript:
    segments: tuple[Segment, ...] = ()
    language: str | None = None
    model: str = ""
    source: str = ""  # "faster-whisper", "wyoming", "openai", "publisher", ...

    @property
    def text(self) -> str:
        return " ".join(s.text.strip() for s in self.segments if s.text.strip())

    def shifted(self, offset: float) -> Transcript:
        """The same transcript with times moved by ``offset`` (clip time -> episode time)."""
        return Transcript(
            segments=tuple(
                Segment(
                    s.start + offset,
                    s.end + offset,
                    s.text,
                    tuple(Word(w.start + offset, w.end + offset, w.text) for w in s.words),
                )
                for s in self.segments
            ),
            language=self.language,
            model=self.model,
            source=self.source,
        )


@dataclass(frozen=True)
class TranscribeRequest:
    audio: Path
    language: str | None = "en"
    word_timestamps: bool = True
    vad: bool = True
    extra: dict[str, str] = field(default_factory=dict)


class Transcriber(Protocol):
    """Turns an audio file into a transcript. Implementations may block; callers
    run them off the event loop."""

    name: str

    def transcribe(self, request: TranscribeRequest) -> Transcript: ...

    def close(self) -> None: ...
