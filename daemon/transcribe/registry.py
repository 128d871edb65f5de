"""Build the configured transcriber by name.

Each backend module exposes ``build(config) -> Transcriber``; adding a backend
is one new module and one entry in ``BACKENDS``. The factories import their
module only when chosen, so a box using a Wyoming server never loads
faster-whisper, and mypy checks every factory's signature.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from earmark.config.choices import TranscriptionBackend
from earmark.config.model import TranscriptionConfig
from earmark.transcribe.base import Transcriber

Factory = Callable[[TranscriptionConfig], Transcriber]


def _local(config: TranscriptionConfig) -> Transcriber:
    from earmark.transcribe import local

    return local.build(config)


def _wyoming(config: TranscriptionConfig) -> Transcriber:
    from earmark.transcribe import wyoming

    return wyoming.build(config)


def _openai(config: TranscriptionConfig) -> Transcriber:
    from earmark.transcribe import openai

    return openai.build(config)


# every choice of ``transcription.backend`` (config refuses any other name)
BACKENDS: dict[TranscriptionBackend, Factory] = {
    TranscriptionBackend.FASTER_WHISPER: _local,
    TranscriptionBackend.WYOMING: _wyoming,
    TranscriptionBackend.OPENAI: _openai,
}


def build_transcriber(config: TranscriptionConfig) -> Transcriber:
    return BACKENDS[TranscriptionBackend(config.backend)](config)


class TranscriberOnDemand:
    """The configured transcriber, built on first use (on the worker thread): a
    bad model path fails the job (retried later), never the speaker's start."""

    def __init__(self, config: TranscriptionConfig) -> None:
        self.config = config
        self._built: Transcriber | None = None
        self._lock = threading.Lock()

    def __call__(self) -> Transcriber:
        with self._lock:
            if self._built is None:
                self._built = build_transcriber(self.config)
            return self._built

    def close(self) -> None:
        with self._lock:
            if self._built is not None:
                self._built.close()
                self._built = None
