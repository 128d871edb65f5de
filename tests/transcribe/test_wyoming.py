"""The Wyoming client against the real wyoming-faster-whisper, and servers that misbehave."""

from __future__ import annotations

import json
import socket
import threading
import time
import wave
from pathlib import Path

import pytest

from earmark.errors import TranscriberError
from earmark.sync.broker import free_port
from earmark.transcribe.base import TranscribeRequest
from earmark.transcribe.wyoming import Event, WyomingTranscriber

from ..conftest import Episode
from ..support import word_error_rate
from .conftest import RunningServer


def _read_event_types(conn: socket.socket, stop_after: str) -> list[str]:
    """Read Wyoming events off ``conn`` until ``stop_after`` arrives."""
    stream = conn.makefile("rb")
    seen: list[str] = []
    while True:
        line = stream.readline()
        if not line:
            return seen
        header = json.loads(line)
        stream.read(header.get("data_length", 0) + header.get("payload_length", 0))
        seen.append(header["type"])
        if header["type"] == stop_after:
            return seen


def test_real_server_transcribes_a_window_as_one_segment_in_episode_time(
    wyoming_server: RunningServer, garden_episode: Episode
) -> None:
    sentences = garden_episode.audio.sentences
    start, end = sentences[2].start - 0.3, sentences[6].end + 0.3
    client = WyomingTranscriber(wyoming_server.host, wyoming_server.port, timeout=60)
    result = client.transcribe(TranscribeRequest(garden_episode.path, start=start, end=end))
    reference = " ".join(s.text for s in sentences[2:7])
    assert word_error_rate(reference, result.text) <= 0.15
    (segment,) = result.segments
    assert segment.words == ()  # Wyoming has no word timings
    assert segment.start == pytest.approx(start)
    assert segment.end == pytest.approx(end, abs=0.05)
    assert result.source == "wyoming"


def test_real_server_answers_silence_with_an_empty_transcript(
    wyoming_server: RunningServer, silence_wav: Path
) -> None:
    client = WyomingTranscriber(wyoming_server.host, wyoming_server.port, timeout=60)
    assert client.transcribe(TranscribeRequest(silence_wav)).segments == ()


def test_a_server_that_hangs_raises_within_the_timeout(fake_tcp_server, silence_wav: Path) -> None:
    def swallow_and_never_answer(conn: socket.socket, stop: threading.Event) -> None:
        _read_event_types(conn, "audio-stop")
        stop.wait(30)

    server = fake_tcp_server(swallow_and_never_answer)
    client = WyomingTranscriber("127.0.0.1", server.port, timeout=1.5)
    started = time.monotonic()
    with pytest.raises(TranscriberError, match="did not answer in time") as caught:
        client.transcribe(TranscribeRequest(silence_wav))
    assert time.monotonic() - started < 3.0
    assert "\n" not in str(caught.value)


def test_a_server_that_never_reads_raises_within_the_timeout(
    fake_tcp_server, garden_episode: Episode
) -> None:
    # the whole episode is ~2 MB of PCM: more than the socket buffers hold, so sending blocks
    server = fake_tcp_server(lambda conn, stop: stop.wait(30))
    client = WyomingTranscriber("127.0.0.1", server.port, timeout=1.5)
    started = time.monotonic()
    with pytest.raises(TranscriberError, match="did not answer in time"):
        client.transcribe(TranscribeRequest(garden_episode.path))
    assert time.monotonic() - started < 3.0


def test_a_server_that_disconnects_mid_stream_raises(fake_tcp_server, silence_wav: Path) -> None:
    def hang_up_after_audio_start(conn: socket.socket, stop: threading.Event) -> None:
        _read_event_types(conn, "audio-start")
        conn.shutdown(socket.SHUT_RDWR)

    server = fake_tcp_server(hang_up_after_audio_start)
    client = WyomingTranscriber("127.0.0.1", server.port, timeout=10)
    started = time.monotonic()
    with pytest.raises(TranscriberError, match="Wyoming server") as caught:
        client.transcribe(TranscribeRequest(silence_wav))
    assert time.monotonic() - started < 5.0
    assert "\n" not in str(caught.value)


def test_a_server_that_disconnects_mid_answer_raises(fake_tcp_server, silence_wav: Path) -> None:
    def half_an_event(conn: socket.socket, stop: threading.Event) -> None:
        _read_event_types(conn, "audio-stop")
        conn.sendall(b'{"type": "transcript", "data_length": 100}\n{"text": "hel')

    server = fake_tcp_server(half_an_event)
    client = WyomingTranscriber("127.0.0.1", server.port, timeout=10)
    with pytest.raises(TranscriberError, match="closed the connection"):
        client.transcribe(TranscribeRequest(silence_wav))


def test_a_server_that_is_not_wyoming_raises(fake_tcp_server, silence_wav: Path) -> None:
    def http_instead(conn: socket.socket, stop: threading.Event) -> None:
        conn.recv(1024)
        conn.sendall(b"HTTP/1.1 400 Bad Request\r\n\r\n")

    server = fake_tcp_server(http_instead)
    client = WyomingTranscriber("127.0.0.1", server.port, timeout=10)
    with pytest.raises(TranscriberError, match="not a Wyoming event"):
        client.transcribe(TranscribeRequest(silence_wav))


def test_other_events_before_the_transcript_are_skipped(fake_tcp_server, silence_wav: Path) -> None:
    def chatty(conn: socket.socket, stop: threading.Event) -> None:
        _read_event_types(conn, "audio-stop")
        conn.sendall(Event("transcript-start", {"language": "en"}).encode())
        conn.sendall(Event("transcript-chunk", {"text": "hello"}).encode())
        # old-style framing: data inline in the header line
        conn.sendall(b'{"type": "transcript", "data": {"text": " hello there "}}\n')

    server = fake_tcp_server(chatty)
    client = WyomingTranscriber("127.0.0.1", server.port, timeout=10)
    result = client.transcribe(TranscribeRequest(silence_wav))
    assert result.text == "hello there"
    assert result.segments[0].end == pytest.approx(10.0, abs=0.05)


def test_nothing_listening_raises_one_line(silence_wav: Path) -> None:
    client = WyomingTranscriber("127.0.0.1", free_port(), timeout=5)
    with pytest.raises(TranscriberError, match="refused or did not answer") as caught:
        client.transcribe(TranscribeRequest(silence_wav))
    assert "\n" not in str(caught.value)


def test_events_are_one_json_line_then_the_payload() -> None:
    raw = Event("audio-chunk", {"rate": 16000}, b"\x01\x02\x03").encode()
    line, _, rest = raw.partition(b"\n")
    header = json.loads(line)
    assert (header["type"], header["data"]) == ("audio-chunk", {"rate": 16000})
    assert header["payload_length"] == 3
    assert rest == b"\x01\x02\x03"


def test_a_server_that_answers_http_and_hangs_up_while_we_send_is_named(
    fake_tcp_server, tmp_path: Path
) -> None:
    """The broken pipe of the send is not the reason; what the server said is."""

    def http_and_hang_up(conn: socket.socket, stop: threading.Event) -> None:
        conn.sendall(b"HTTP/1.1 400 Bad Request\r\n\r\n")
        conn.close()

    long_wav = tmp_path / "long.wav"  # more than the socket buffers hold: the send breaks
    with wave.open(str(long_wav), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(16000)
        out.writeframes(bytes(2 * 16000 * 600))
    server = fake_tcp_server(http_and_hang_up)
    client = WyomingTranscriber("127.0.0.1", server.port, timeout=30)
    with pytest.raises(TranscriberError, match="not a Wyoming event"):
        client.transcribe(TranscribeRequest(long_wav))
