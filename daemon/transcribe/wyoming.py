"""A client for a Wyoming speech-to-text server (wyoming-faster-whisper).

The protocol is small enough to speak directly, so the daemon needs no extra
package: each event is one JSON line ``{"type", "data"?, "data_length"?,
"payload_length"?}``, followed by ``data_length`` bytes of JSON merged into
``data`` and ``payload_length`` bytes of binary payload. A transcription is
``transcribe`` -> ``audio-start`` -> ``audio-chunk``... -> ``audio-stop``, and the
server answers ``transcript`` (it may send other events first, which we skip).

Wyoming's transcript is plain text without timings, so the result is one
segment spanning the audio; sentence snapping then falls back to that
segment's edges, i.e. the window as cut.

Every socket operation runs against one deadline of ``timeout`` seconds for
the whole request, so a server that hangs or stalls mid-answer becomes a
TranscriberError, never a hung job worker.
"""

from __future__ import annotations

import contextlib
import json
import socket
import time
from dataclasses import dataclass, field
from typing import Any

from earmark.config.model import TranscriptionConfig
from earmark.errors import TranscriberError
from earmark.transcribe.base import Segment, TranscribeRequest, Transcript
from earmark.transcribe.pcm import CHANNELS, SAMPLE_RATE, SAMPLE_WIDTH, pcm_seconds, read_pcm

PROTOCOL_VERSION = "1.5.0"  # the Wyoming version whose events we send
CHUNK_BYTES = SAMPLE_RATE * SAMPLE_WIDTH * CHANNELS  # one second of audio per chunk
MAX_HEADER = 1 << 20  # a header line longer than this is not Wyoming


@dataclass(frozen=True)
class Event:
    type: str
    data: dict[str, Any] = field(default_factory=dict)
    payload: bytes = b""

    def encode(self) -> bytes:
        # data goes inline in the header line: every server version reads it
        # there, while a separate data_length block is unknown to old ones
        header: dict[str, Any] = {"type": self.type, "data": self.data, "version": PROTOCOL_VERSION}
        if self.payload:
            header["payload_length"] = len(self.payload)
        return json.dumps(header, ensure_ascii=False).encode() + b"\n" + self.payload


class Connection:
    """One TCP connection to a Wyoming server, bounded by a deadline."""

    def __init__(self, host: str, port: int, deadline: float) -> None:
        self.where = f"{host}:{port}"
        self.deadline = deadline
        self._buffer = b""
        try:
            self.sock = socket.create_connection((host, port), timeout=self._remaining())
        except OSError as exc:
            raise TranscriberError(
                f"Wyoming server {self.where} refused or did not answer ({_why(exc)}); "
                "check transcription.wyoming.host/port"
            ) from exc

    def _remaining(self) -> float:
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise TranscriberError(
                f"Wyoming server {self.where} did not answer in time; "
                "check the server or raise transcription.wyoming.timeout"
            )
        return left

    def send(self, event: Event) -> None:
        self.sock.settimeout(self._remaining())
        try:
            self.sock.sendall(event.encode())
        except TimeoutError as exc:
            raise self._late() from exc
        except OSError as exc:
            # a server that is not Wyoming (an HTTP one) answers and hangs up while
            # we still send: what it said is the better reason than the broken pipe
            self._keep_what_was_said()
            if self._buffer and not _looks_like_wyoming(self._buffer):
                raise self._not_wyoming() from exc
            raise self._dropped(exc) from exc

    def _keep_what_was_said(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.setblocking(False)
            while chunk := self.sock.recv(65536):
                self._buffer += chunk

    def receive(self) -> Event:
        line = self._read_line()
        try:
            header = json.loads(line)
            kind = header["type"]
            data: dict[str, Any] = dict(header.get("data") or {})
            data_length = int(header.get("data_length") or 0)
            payload_length = int(header.get("payload_length") or 0)
            if data_length:
                data.update(json.loads(self._read_exactly(data_length)))
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise self._not_wyoming() from exc
        payload = self._read_exactly(payload_length) if payload_length else b""
        return Event(str(kind), data, payload)

    def _read_line(self) -> bytes:
        while b"\n" not in self._buffer:
            if len(self._buffer) > MAX_HEADER:
                raise TranscriberError(f"Wyoming server {self.where} sent an oversized header")
            self._fill()
        line, _, self._buffer = self._buffer.partition(b"\n")
        return line

    def _read_exactly(self, size: int) -> bytes:
        while len(self._buffer) < size:
            self._fill()
        out, self._buffer = self._buffer[:size], self._buffer[size:]
        return out

    def _fill(self) -> None:
        self.sock.settimeout(self._remaining())
        try:
            chunk = self.sock.recv(65536)
        except TimeoutError as exc:
            raise self._late() from exc
        except OSError as exc:
            raise self._dropped(exc) from exc
        if not chunk:
            raise TranscriberError(
                f"Wyoming server {self.where} closed the connection before the transcript; "
                "check the server's log"
            )
        self._buffer += chunk

    def _not_wyoming(self) -> TranscriberError:
        return TranscriberError(
            f"Wyoming server {self.where} sent something that is not a Wyoming event; "
            "check that host/port is a Wyoming speech-to-text server"
        )

    def _late(self) -> TranscriberError:
        return TranscriberError(
            f"Wyoming server {self.where} did not answer in time; "
            "check the server or raise transcription.wyoming.timeout"
        )

    def _dropped(self, exc: OSError) -> TranscriberError:
        return TranscriberError(
            f"Wyoming server {self.where} dropped the connection ({_why(exc)}); "
            "check the server's log"
        )

    def close(self) -> None:
        self.sock.close()


def _looks_like_wyoming(received: bytes) -> bool:
    """Every Wyoming message starts with a JSON header line."""
    return received.lstrip()[:1] == b"{"


def _why(exc: OSError) -> str:
    return exc.strerror or str(exc) or type(exc).__name__


class WyomingTranscriber:
    name = "wyoming"

    def __init__(
        self, host: str, port: int, *, timeout: float = 60.0, language: str | None = "en"
    ) -> None:
        self.host = host
        self.port = port
        self.timeout = timeout
        self.language = None if language in (None, "", "auto") else language

    @classmethod
    def from_config(cls, config: TranscriptionConfig) -> WyomingTranscriber:
        w = config.wyoming
        return cls(w.host, w.port, timeout=w.timeout, language=config.language)

    def transcribe(self, request: TranscribeRequest) -> Transcript:
        # the request's vad/word_timestamps cannot be passed on: the server decides
        pcm = read_pcm(request, timeout=self.timeout)
        language = request.language or self.language
        text = self._exchange(pcm, language)
        seconds = pcm_seconds(pcm)
        segments: tuple[Segment, ...] = ()
        if text and seconds > 0:
            segments = (Segment(request.offset, request.offset + seconds, text),)
        return Transcript(
            segments=segments,
            language=language,
            model=f"wyoming://{self.host}:{self.port}",
            source=self.name,
        )

    def _exchange(self, pcm: bytes, language: str | None) -> str:
        conn = Connection(self.host, self.port, time.monotonic() + self.timeout)
        audio = {"rate": SAMPLE_RATE, "width": SAMPLE_WIDTH, "channels": CHANNELS}
        try:
            conn.send(Event("transcribe", {"language": language} if language else {}))
            conn.send(Event("audio-start", {**audio, "timestamp": 0}))
            for at in range(0, len(pcm), CHUNK_BYTES):
                millis = at * 1000 // (SAMPLE_RATE * SAMPLE_WIDTH * CHANNELS)
                conn.send(
                    Event("audio-chunk", {**audio, "timestamp": millis}, pcm[at : at + CHUNK_BYTES])
                )
            conn.send(Event("audio-stop", {"timestamp": int(pcm_seconds(pcm) * 1000)}))
            while True:
                event = conn.receive()
                if event.type == "transcript":
                    return str(event.data.get("text") or "").strip()
                if event.type == "error":
                    raise TranscriberError(
                        f"Wyoming server {conn.where} answered with an error: "
                        f"{event.data.get('text', 'no reason given')}"
                    )
        finally:
            conn.close()

    def close(self) -> None:
        """Nothing to release: each transcription uses its own connection."""


def build(config: TranscriptionConfig) -> WyomingTranscriber:
    return WyomingTranscriber.from_config(config)
