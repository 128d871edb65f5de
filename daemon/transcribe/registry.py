"""Build the configured transcriber by name.

Each backend module exposes ``build(config) -> Transcriber``; adding a backend
is one new module and one line in ``BACKENDS``. Modules are imported only when
chosen, so a box using a Wyoming server never loads faster-whisper.
"""

from __future__ import annotations

import importlib

from earmark.config.model import TranscriptionConfig
from earmark.errors import TranscriberError
from earmark.transcribe.base import Transcriber

BACKENDS: dict[str, str] = {
    "faster-whisper": "earmark.transcribe.local",
    "wyoming": "earmark.transcribe.wyoming",
    "openai": "earmark.transcribe.openai",
}


def build_transcriber(config: TranscriptionConfig) -> Transcriber:
    module_name = BACKENDS.get(config.backend)
    if module_name is None:
        raise TranscriberError(
            f"transcription.backend '{config.backend}' is unknown; "
            f"use one of {', '.join(sorted(BACKENDS))}"
        )
    module = importlib.import_module(module_name)
    transcriber: Transcriber = module.build(config)
    return transcriber
