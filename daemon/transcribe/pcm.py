"""The audio of a request as 16 kHz mono 16-bit PCM, decoded by ffmpeg.

Every backend hears the same thing: remote servers get these bytes (streamed
to Wyoming, wrapped in a WAV for OpenAI) and the local model gets them as
float samples. ffmpeg seeks with ``-ss`` before ``-i``, so a window near the
end of a long episode costs about as much as one near its start, and nothing
is written to disk.
"""

from __future__ import annotations

import io
import subprocess
import wave

from earmark.errors import TranscriberError
from earmark.transcribe.base import TranscribeRequest

SAMPLE_RATE = 16000
SAMPLE_WIDTH = 2  # bytes, signed little-endian
CHANNELS = 1


def read_pcm(request: TranscribeRequest, *, timeout: float = 120.0) -> bytes:
    """Decode the request's audio (or its window) to raw PCM."""
    if not request.audio.is_file():
        raise TranscriberError(f"audio file {request.audio} does not exist; check the clip path")
    cmd = ["ffmpeg", "-nostdin", "-loglevel", "error"]
    if request.start is not None:
        cmd += ["-ss", f"{request.start:.3f}"]
    cmd += ["-i", str(request.audio)]
    if request.end is not None:
        cmd += ["-t", f"{request.end - request.offset:.3f}"]
    cmd += ["-vn", "-ac", str(CHANNELS), "-ar", str(SAMPLE_RATE), "-f", "s16le", "-"]
    try:
        done = subprocess.run(cmd, capture_output=True, timeout=timeout, check=False)
    except FileNotFoundError as exc:
        raise TranscriberError("ffmpeg is not installed; install it (apt install ffmpeg)") from exc
    except subprocess.TimeoutExpired as exc:
        raise TranscriberError(f"decoding {request.audio} took over {timeout:.0f}s") from exc
    if done.returncode != 0:
        why = done.stderr.decode(errors="replace").strip().splitlines()
        raise TranscriberError(
            f"cannot decode {request.audio}: {why[-1] if why else 'ffmpeg failed'}"
        )
    return done.stdout


def pcm_seconds(pcm: bytes) -> float:
    return len(pcm) / (SAMPLE_RATE * SAMPLE_WIDTH * CHANNELS)


def wav_bytes(pcm: bytes) -> bytes:
    """Wrap raw PCM in a WAV header, in memory."""
    out = io.BytesIO()
    with wave.open(out, "wb") as wav:
        wav.setnchannels(CHANNELS)
        wav.setsampwidth(SAMPLE_WIDTH)
        wav.setframerate(SAMPLE_RATE)
        wav.writeframes(pcm)
    return out.getvalue()
