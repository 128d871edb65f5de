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
    """What to transcribe: a whole audio file, or the window [start, end) of it.

    Times in the returned transcript are on the file's timeline (a window's
    words carry episode times), so the look-ahead worker can transcribe an
    episode chunk by chunk without cutting files. ``language`` and ``vad`` left
    at None take the transcriber's configured value.
    """

    audio: Path
    language: str | None = None
    word_timestamps: bool = True
    vad: bool | None = None
    extra: dict[str, str] = field(default_factory=dict)
    start: float | None = None  # seconds into ``audio``; None = its beginning
    end: float | None = None  # seconds into ``audio``; None = its end

    def __post_init__(self) -> None:
        if self.start is not None and self.start < 0:
            raise ValueError(f"window start {self.start} is negative")
        if self.start is not None and self.end is not None and self.end <= self.start:
            raise ValueError(f"window end {self.end} is not after its start {self.start}")

    @property
    def is_window(self) -> bool:
        return self.start is not None or self.end is not None

    @property
    def offset(self) -> float:
        """Where the transcribed audio begins on the file's timeline."""
        return self.start or 0.0


class Transcriber(Protocol):
    """Turns an audio file into a transcript. Implementations may block; callers
    run them off the event loop."""

    name: str

    def transcribe(self, request: TranscribeRequest) -> Transcript: ...

    def close(self) -> None: ...
