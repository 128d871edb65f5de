"""Fixtures for transcription: one Whisper model per session, a real
wyoming-faster-whisper server, an OpenAI-compatible HTTP server backed by the
same model, and fake servers that misbehave on purpose."""

from __future__ import annotations

import contextlib
import email.parser
import email.policy
import importlib.util
import io
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import wave
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from earmark.sync.broker import free_port
from earmark.transcribe.base import Transcript
from earmark.transcribe.local import LocalTranscriber, pinned_model_path

from ..conftest import Episode
from ..support import wait_for


@pytest.fixture(scope="session")
def model_path() -> Path:
    return pinned_model_path()


@pytest.fixture(scope="session")
def local_transcriber(model_path: Path) -> Iterator[LocalTranscriber]:
    """The pinned tiny.en, loaded once for the whole session."""
    transcriber = LocalTranscriber(model_path, beam_size=1, cpu_threads=1, language="en")
    transcriber.load()
    yield transcriber
    transcriber.close()


@pytest.fixture(scope="session")
def garden_transcript(local_transcriber: LocalTranscriber, garden_episode: Episode) -> Transcript:
    from earmark.transcribe.base import TranscribeRequest

    return local_transcriber.transcribe(TranscribeRequest(garden_episode.path))


@pytest.fixture(scope="session")
def sound_dir() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="earmark-sounds-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


def _sox(*args: str) -> None:
    subprocess.run(["sox", *args], check=True, capture_output=True)


@pytest.fixture(scope="session")
def silence_wav(sound_dir: Path) -> Path:
    path = sound_dir / "silence.wav"
    _sox("-n", "-r", "16000", "-c", "1", "-b", "16", str(path), "trim", "0", "10")
    return path


@pytest.fixture(scope="session")
def music_wav(sound_dir: Path) -> Path:
    """Ten seconds of plucked chords over pink noise: sound, but no speech."""
    path = sound_dir / "music.wav"
    _sox(
        "-n",
        "-r",
        "16000",
        "-c",
        "1",
        "-b",
        "16",
        str(path),
        "synth",
        "10",
        "pluck",
        "C3",
        "pluck",
        "E3",
        "pluck",
        "G3",
        "pinknoise",
        "tremolo",
        "3",
        "60",
        "vol",
        "0.5",
    )
    return path


# --- a real wyoming-faster-whisper server ------------------------------------------------


def _wyoming_python() -> str | None:
    """The interpreter that can run wyoming_faster_whisper: $EARMARK_WYOMING_PYTHON,
    else this one if the package is installed here."""
    explicit = os.environ.get("EARMARK_WYOMING_PYTHON")
    if explicit:
        return explicit
    if importlib.util.find_spec("wyoming_faster_whisper") is not None:
        return sys.executable
    return None


@dataclass
class RunningServer:
    host: str
    port: int


@pytest.fixture(scope="session")
def wyoming_server(model_path: Path, sound_dir: Path) -> Iterator[RunningServer]:
    python = _wyoming_python()
    if python is None:
        pytest.skip(
            "wyoming-faster-whisper is not installed: "
            "pip install wyoming-faster-whisper==3.8.1 (or set EARMARK_WYOMING_PYTHON)"
        )
    port = free_port()
    data = sound_dir / "wyoming-data"
    data.mkdir(exist_ok=True)
    log = (sound_dir / "wyoming.log").open("wb")
    # --model takes a local CTranslate2 folder; --local-files-only forbids any hub access
    process = subprocess.Popen(
        [
            python,
            "-m",
            "wyoming_faster_whisper",
            "--uri",
            f"tcp://127.0.0.1:{port}",
            "--model",
            str(model_path),
            "--data-dir",
            str(data),
            "--local-files-only",
            "--stt-library",
            "faster-whisper",
            "--language",
            "en",
            "--beam-size",
            "1",
            "--cpu-threads",
            "1",
            "--compute-type",
            "int8",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
    )

    def listening() -> bool:
        if process.poll() is not None:
            log_text = (sound_dir / "wyoming.log").read_text()
            raise AssertionError(f"wyoming server exited: {log_text}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return True
        except OSError:
            return False

    try:
        wait_for(listening, timeout=60, what="wyoming-faster-whisper to listen")
        yield RunningServer("127.0.0.1", port)
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


Behaviour = Callable[[socket.socket, threading.Event], None]


@dataclass
class FakeTcpServer:
    """A TCP server whose behaviour per connection is a function of the socket."""

    behave: Behaviour
    port: int = 0
    stop: threading.Event = field(default_factory=threading.Event)
    connections: int = 0

    def __post_init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        self.listener.settimeout(0.1)
        while not self.stop.is_set():
            try:
                conn, _ = self.listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._handle, args=(conn,), daemon=True).start()

    def _handle(self, conn: socket.socket) -> None:
        # the client hanging up is part of the test
        with conn, contextlib.suppress(OSError):
            self.behave(conn, self.stop)

    def close(self) -> None:
        self.stop.set()
        self.listener.close()
        self.thread.join(5)


@pytest.fixture
def fake_tcp_server() -> Iterator[Callable[[Behaviour], FakeTcpServer]]:
    started: list[FakeTcpServer] = []

    def start(behave: Behaviour) -> FakeTcpServer:
        server = FakeTcpServer(behave)
        started.append(server)
        return server

    yield start
    for server in started:
        server.close()


# --- an OpenAI-compatible speech endpoint ------------------------------------------------


@dataclass
class SpeechEndpoint:
    """``POST /v1/audio/transcriptions`` served for real by the local Whisper model.

    ``mode`` picks a misbehaviour: "ok", "text-only", "500", "garbage", "hang".
    """

    transcriber: LocalTranscriber
    mode: str = "ok"
    requests: list[dict[str, Any]] = field(default_factory=list)
    release: threading.Event = field(default_factory=threading.Event)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    def start(self) -> SpeechEndpoint:
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:  # keep pytest output clean
                pass

            def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length)
                fields, files = _parse_multipart(self.headers.get("Content-Type", ""), body)
                endpoint.requests.append(
                    {
                        "path": self.path,
                        "auth": self.headers.get("Authorization"),
                        "fields": fields,
                        "files": {k: len(v) for k, v in files.items()},
                    }
                )
                if endpoint.mode == "hang":
                    endpoint.release.wait(30)
                    return
                if endpoint.mode == "500":
                    self._send(500, b'{"error": {"message": "model exploded"}}')
                    return
                if endpoint.mode == "garbage":
                    self._send(200, b"<html>not json at all")
                    return
                if self.path != "/v1/audio/transcriptions" or "file" not in files:
                    self._send(400, b'{"error": {"message": "no file"}}')
                    return
                answer = endpoint._answer(fields, files["file"])
                self._send(200, json.dumps(answer).encode())

            def _send(self, status: int, body: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        return self

    def _answer(self, fields: dict[str, list[str]], wav: bytes) -> dict[str, Any]:
        with wave.open(io.BytesIO(wav)) as w:
            assert (w.getframerate(), w.getnchannels(), w.getsampwidth()) == (16000, 1, 2)
            pcm = w.readframes(w.getnframes())
        samples = np.frombuffer(pcm, dtype="<i2").astype(np.float32) / 32768.0
        result = self.transcriber.transcribe_samples(samples)
        if self.mode == "text-only" or fields.get("response_format") != ["verbose_json"]:
            return {"text": result.text}
        granularities = fields.get("timestamp_granularities[]", [])
        answer: dict[str, Any] = {
            "task": "transcribe",
            "language": "english",
            "duration": len(samples) / 16000,
            "text": result.text,
            "segments": [
                {"id": i, "start": s.start, "end": s.end, "text": " " + s.text}
                for i, s in enumerate(result.segments)
            ],
        }
        if "word" in granularities:
            answer["words"] = [
                {"word": w.text, "start": w.start, "end": w.end}
                for s in result.segments
                for w in s.words
            ]
        return answer

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


def _parse_multipart(
    content_type: str, body: bytes
) -> tuple[dict[str, list[str]], dict[str, bytes]]:
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        f"Content-Type: {content_type}\r\n\r\n".encode() + body
    )
    fields: dict[str, list[str]] = {}
    files: dict[str, bytes] = {}
    if not message.is_multipart():
        return fields, files
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        payload = part.get_payload(decode=True) or b""
        if part.get_filename():
            files[str(name)] = payload
        else:
            fields.setdefault(str(name), []).append(payload.decode())
    return fields, files


@pytest.fixture
def speech_endpoint(local_transcriber: LocalTranscriber) -> Iterator[SpeechEndpoint]:
    endpoint = SpeechEndpoint(local_transcriber).start()
    yield endpoint
    endpoint.close()
