"""The options that take one of a few words. Each is a ``StrEnum``: its members
compare equal to the words themselves, so ``cfg.player.audio_output == "auto"`` works.

The inputs' choices (GPIO, headphones, LED) live with the inputs in ``inputs.py``.
"""

from __future__ import annotations

import enum


class LogLevel(enum.StrEnum):
    DEBUG = "debug"
    INFO = "info"
    WARNING = "warning"
    ERROR = "error"

    @classmethod
    def _missing_(cls, value: object) -> LogLevel | None:
        # "INFO" is what Python's logging calls it; take it too
        if isinstance(value, str):
            return next((m for m in cls if m.value == value.lower()), None)
        return None


class AudioOutput(enum.StrEnum):
    """mpv's ``--ao``; ``auto`` lets mpv pick, ``null`` plays silently."""

    AUTO = "auto"
    NULL = "null"
    ALSA = "alsa"
    PULSE = "pulse"
    PIPEWIRE = "pipewire"


class TranscriptionBackend(enum.StrEnum):
    FASTER_WHISPER = "faster-whisper"  # on the device
    WYOMING = "wyoming"  # a wyoming-faster-whisper server
    OPENAI = "openai"  # an OpenAI-compatible /v1/audio/transcriptions endpoint


class SummarizerBackend(enum.StrEnum):
    MINILM = "minilm"  # on the device: sentence embeddings rank the snip's sentences
    EXTRACTIVE = "extractive"  # on the device, no model: the transcript's longest sentences


class ComputeType(enum.StrEnum):
    """CTranslate2's compute types, as faster-whisper takes them."""

    DEFAULT = "default"
    AUTO = "auto"
    INT8 = "int8"
    INT8_FLOAT32 = "int8_float32"
    INT8_FLOAT16 = "int8_float16"
    INT8_BFLOAT16 = "int8_bfloat16"
    INT16 = "int16"
    FLOAT16 = "float16"
    BFLOAT16 = "bfloat16"
    FLOAT32 = "float32"


class Lookahead(enum.StrEnum):
    """Transcribe the playing episode ahead of the listener, just behind, or not."""

    AHEAD = "ahead"
    BEHIND = "behind"
    OFF = "off"


class GpodderFlavour(enum.StrEnum):
    """Which API the gPodder sync server speaks."""

    GPODDER = "gpodder"  # the gPodder API v2 (gpodder.net, mygpo)
    NEXTCLOUD = "nextcloud"  # the Nextcloud "GPodder Sync" app
