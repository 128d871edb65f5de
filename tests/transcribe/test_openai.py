"""The OpenAI-compatible client against a real local endpoint (Whisper behind HTTP)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from earmark.errors import TranscriberError
from earmark.sync.broker import free_port
from earmark.transcribe.base import TranscribeRequest
from earmark.transcribe.openai import OpenAITranscriber, parse_verbose_json

from ..conftest import Episode
from ..support import word_error_rate
from .conftest import SpeechEndpoint


def _window(episode: Episode) -> tuple[float, float, str]:
    sentences = episode.audio.sentences
    return (
        sentences[2].start - 0.3,
        sentences[6].end + 0.3,
        " ".join(s.text for s in sentences[2:7]),
    )


def test_window_comes_back_with_words_in_episode_time(
    speech_endpoint: SpeechEndpoint, garden_episode: Episode
) -> None:
    start, end, reference = _window(garden_episode)
    client = OpenAITranscriber(speech_endpoint.url, model="tiny.en", api_key="sk-test")
    result = client.transcribe(TranscribeRequest(garden_episode.path, start=start, end=end))
    assert word_error_rate(reference, result.text) <= 0.15
    words = [w for s in result.segments for w in s.words]
    assert len(words) > 40
    assert start <= words[0].start < start + 1.5
    assert words[-1].end <= end + 0.5
    assert result.language == "en"
    assert result.source == "openai"


def test_request_is_multipart_with_model_format_granularities_and_bearer(
    speech_endpoint: SpeechEndpoint, silence_wav: Path
) -> None:
    client = OpenAITranscriber(speech_endpoint.url, model="tiny.en", api_key="sk-test")
    client.transcribe(TranscribeRequest(silence_wav))
    (seen,) = speech_endpoint.requests
    assert seen["path"] == "/v1/audio/transcriptions"
    assert seen["auth"] == "Bearer sk-test"
    assert seen["fields"]["model"] == ["tiny.en"]
    assert seen["fields"]["response_format"] == ["verbose_json"]
    assert seen["fields"]["timestamp_granularities[]"] == ["word", "segment"]
    assert seen["files"]["file"] > 10 * 16000 * 2  # ten seconds of 16-bit PCM, plus header


def test_no_api_key_sends_no_authorization(
    speech_endpoint: SpeechEndpoint, silence_wav: Path
) -> None:
    OpenAITranscriber(speech_endpoint.url).transcribe(TranscribeRequest(silence_wav))
    assert speech_endpoint.requests[0]["auth"] is None


def test_a_plain_text_answer_becomes_one_segment_spanning_the_window(
    speech_endpoint: SpeechEndpoint, garden_episode: Episode
) -> None:
    speech_endpoint.mode = "text-only"
    start, end, reference = _window(garden_episode)
    result = OpenAITranscriber(speech_endpoint.url).transcribe(
        TranscribeRequest(garden_episode.path, start=start, end=end)
    )
    (segment,) = result.segments
    assert (segment.start, segment.words) == (pytest.approx(start), ())
    assert segment.end == pytest.approx(end, abs=0.05)
    assert word_error_rate(reference, result.text) <= 0.15


def test_http_500_raises_one_line_with_the_servers_reason(
    speech_endpoint: SpeechEndpoint, silence_wav: Path
) -> None:
    speech_endpoint.mode = "500"
    with pytest.raises(TranscriberError, match=r"HTTP 500 \(model exploded\)") as caught:
        OpenAITranscriber(speech_endpoint.url).transcribe(TranscribeRequest(silence_wav))
    assert "\n" not in str(caught.value)


def test_garbage_instead_of_json_raises_one_line(
    speech_endpoint: SpeechEndpoint, silence_wav: Path
) -> None:
    speech_endpoint.mode = "garbage"
    with pytest.raises(TranscriberError, match="did not answer JSON") as caught:
        OpenAITranscriber(speech_endpoint.url).transcribe(TranscribeRequest(silence_wav))
    assert "\n" not in str(caught.value)


def test_a_server_that_hangs_raises_within_the_timeout(
    speech_endpoint: SpeechEndpoint, silence_wav: Path
) -> None:
    speech_endpoint.mode = "hang"
    client = OpenAITranscriber(speech_endpoint.url, timeout=1.0)
    started = time.monotonic()
    with pytest.raises(TranscriberError, match="did not answer within"):
        client.transcribe(TranscribeRequest(silence_wav))
    assert time.monotonic() - started < 3.0


def test_nothing_listening_raises_one_line(silence_wav: Path) -> None:
    client = OpenAITranscriber(f"http://127.0.0.1:{free_port()}/v1", timeout=5)
    with pytest.raises(TranscriberError, match="cannot reach speech endpoint") as caught:
        client.transcribe(TranscribeRequest(silence_wav))
    assert "\n" not in str(caught.value)


def test_words_are_given_to_the_segment_they_fall_in() -> None:
    answer = {
        "text": "One two. Three.",
        "segments": [
            {"start": 0.0, "end": 1.0, "text": " One two."},
            {"start": 1.2, "end": 2.0, "text": " Three."},
        ],
        "words": [
            {"word": "One", "start": 0.0, "end": 0.4},
            {"word": "two.", "start": 0.5, "end": 0.9},
            {"word": "Three.", "start": 1.2, "end": 1.8},
        ],
    }
    first, second = parse_verbose_json(answer, 2.0)
    assert [w.text for w in first.words] == ["One", "two."]
    assert [w.text for w in second.words] == ["Three."]
    assert first.text == "One two."


def test_malformed_segments_raise_a_transcriber_error() -> None:
    with pytest.raises(TranscriberError, match="malformed"):
        parse_verbose_json({"text": "x", "segments": [{"start": "soon"}]}, 1.0)
