"""The shape of a transcript and the protocol every transcriber speaks."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol, runtime_checkable

from earmark.errors import EarmarkError, TranscriberError

# a language tag's primary subtag: "de" of "de-DE", "de_AT", "DE"
_LANGUAGE_TAG = re.compile(r"^\s*([A-Za-z]{2,3})(?:[-_][A-Za-z0-9-_]*)?\s*$")


def language_code(tag: str | None) -> str | None:
    """The lowercase language code of a tag (RSS ``<language>``, config, a
    recogniser's answer): "de-DE" -> "de"; None for no tag or one that is not a
    language ("auto", "", "x-klingon-dialect")."""
    match = _LANGUAGE_TAG.match(tag or "")
    if match is None or match.group(1).lower() == "auto":
        return None
    return match.group(1).lower()


class LanguageUnsupported(TranscriberError):
    """The transcriber's model cannot transcribe this language: it would invent words."""


@dataclass(frozen=True)
class Word:
    start: float
    end: float
    text: str
    # heard with too little confidence to be trusted (see Segment.low_confidence)
    low_confidence: bool = False


@dataclass(frozen=True)
class Segment:
    """A run of speech, times in seconds relative to the audio it came from."""

    start: float
    end: float
    text: str
    words: tuple[Word, ...] = ()
    # the recogniser doubted these words (faster-whisper: avg_logprob or no_speech_prob
    # past their thresholds): shown, but never made into takeaways
    low_confidence: bool = False


@dataclass(frozen=True)
class Transcript:
    segments: tuple[Segment, ...] = ()
    language: str | None = None
    model: str = ""
    source: str = ""  # "faster-whisper", "wyoming", "openai", "publisher", ...
    # how sure the recogniser's language detection was of ``language``; None = not detected
    language_probability: float | None = None

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
                    tuple(
                        Word(w.start + offset, w.end + offset, w.text, w.low_confidence)
                        for w in s.words
                    ),
                    s.low_confidence,
                )
                for s in self.segments
            ),
            language=self.language,
            model=self.model,
            source=self.source,
            language_probability=self.language_probability,
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
    # asked between segments; True stops the work (TranscriptionCancelled)
    cancelled: Callable[[], bool] | None = None

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


class TranscriptionCancelled(EarmarkError):
    """The request's ``cancelled`` said stop: more urgent work is waiting."""


class Transcriber(Protocol):
    """Turns an audio file into a transcript. Implementations may block; callers
    run them off the event loop."""

    name: str

    def transcribe(self, request: TranscribeRequest) -> Transcript: ...

    def close(self) -> None: ...


@runtime_checkable
class KnowsLanguages(Protocol):
    """A transcriber that can tell, without hearing anything, which languages its
    model transcribes (the on-device one reads its model folder)."""

    def cannot_transcribe(self, language: str | None) -> str | None:
        """Why ``language`` would come out as invented words; None when it would not."""
        ...


def cannot_transcribe(transcriber: object, language: str | None) -> str | None:
    """Why ``transcriber`` cannot transcribe ``language`` (a code or tag), or None
    when it can or cannot tell (a remote server is trusted with its languages)."""
    if language_code(language) is None or not isinstance(transcriber, KnowsLanguages):
        return None
    return transcriber.cannot_transcribe(language)
