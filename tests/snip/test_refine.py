"""An LLM refines each snip's takeaways in the background, on the running daemon
(real mpv, mosquitto, ffmpeg, faster-whisper and the on-device summarizer)
against a local server that speaks the OpenAI chat completions contract: the
on-device result is published first, the LLM's follows as the next version, a
failed answer leaves the on-device one with the reason, and a model that never
answers delays no snip."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from earmark.payloads import HighlightPayload
from earmark.takeaways.minilm import MiniLmSummarizer
from tests.daemon_process import Daemon, earmark
from tests.support import MqttListener, wait_for
from tests.support import highlight_versions as versions
from tests.takeaways.chat_server import ChatRequest, ChatServer, answer_json, fail, hang

ON_DEVICE = f"minilm {MiniLmSummarizer.version}"


@pytest.fixture
def chat() -> Iterator[ChatServer]:
    with ChatServer() as server:
        yield server


@pytest.fixture
def speaker(
    garden_config: Callable[..., Path], chat: ChatServer, tmp_path: Path
) -> Callable[..., Daemon]:
    started: list[Daemon] = []

    def start(timeout: float = 20.0) -> Daemon:
        llm = {"url": chat.url, "model": "tiny-chat", "timeout": timeout}
        path = garden_config({"transcription": {"lookahead": "off"}, "takeaways": {"llm": llm}})
        daemon = Daemon(path, tmp_path / "daemon.log")
        started.append(daemon)
        daemon.wait_playing(min_position=20)
        return daemon

    yield start  # type: ignore[misc]
    for daemon in started:
        daemon.terminate()


def snip(daemon: Daemon) -> str:
    result = earmark(daemon.config, "snip")
    assert result.returncode == 0, result.stderr
    return result.stdout.split("id=")[1].split()[0]


def done(listener: MqttListener, highlight_id: str) -> HighlightPayload:
    def first_done() -> list[HighlightPayload]:
        return [h for h in versions(listener, highlight_id) if h.status == "done"]

    return wait_for(first_done, 180, 0.2, "the snip done")[0]


def test_the_llms_takeaways_follow_the_on_device_ones_as_the_next_version(
    speaker: Callable[..., Daemon], chat: ChatServer, mqtt_listener: MqttListener
) -> None:
    def faithful(request: ChatRequest) -> object:
        assert "Compost" in request.message("user")  # the episode is context
        return answer_json("Air makes compost work", 1, ["Give the heap air.", "Turn it."])

    chat.script(faithful)
    daemon = speaker()
    highlight_id = snip(daemon)
    on_device = done(mqtt_listener, highlight_id)
    assert on_device.summarizer == ON_DEVICE and on_device.quote

    refined = wait_for(
        lambda: [h for h in versions(mqtt_listener, highlight_id) if h.version > on_device.version],
        60,
        0.2,
        "the refined version",
    )[0]
    assert refined.version == on_device.version + 1
    assert refined.summarizer == "llm tiny-chat-q4"  # the model the server reported
    assert refined.title == "Air makes compost work"
    assert refined.takeaways == ["Give the heap air.", "Turn it."]
    # the quote is a sentence of the transcript, word for word, with its time
    assert refined.quote and refined.quote in (refined.transcript or "")
    assert refined.quote_at is not None and refined.start <= refined.quote_at <= refined.end
    assert refined.summary_fallback is None
    assert len(chat.requests) == 1


def test_a_failed_answer_leaves_the_on_device_takeaways_and_says_why(
    speaker: Callable[..., Daemon], chat: ChatServer, mqtt_listener: MqttListener
) -> None:
    chat.script(fail(500, "the model crashed"))
    daemon = speaker()
    highlight_id = snip(daemon)
    on_device = done(mqtt_listener, highlight_id)
    noted = wait_for(
        lambda: [h for h in versions(mqtt_listener, highlight_id) if h.summary_fallback],
        60,
        0.2,
        "the reason",
    )[0]
    assert "llm: the model server answered HTTP 500" in (noted.summary_fallback or "")
    assert "the model crashed" in (noted.summary_fallback or "")
    assert (noted.title, noted.takeaways, noted.summarizer) == (
        on_device.title,
        on_device.takeaways,
        ON_DEVICE,
    )
    lines = [line for line in daemon.log.splitlines() if "takeaways not refined" in line]
    assert len(lines) == 1 and len(chat.requests) == 1  # said once, never retried


def test_a_model_that_never_answers_delays_no_snip(
    speaker: Callable[..., Daemon], chat: ChatServer, mqtt_listener: MqttListener
) -> None:
    chat.script(hang(600), hang(600))
    daemon = speaker(timeout=600.0)
    first = snip(daemon)
    done(mqtt_listener, first)
    wait_for(lambda: chat.requests, 60, 0.1, "the first snip sent to the model")
    earmark(daemon.config, "seek", "60")
    daemon.wait_playing(min_position=62)
    second = snip(daemon)
    # the second snip's stages ran while the model still worked on the first
    done(mqtt_listener, second)
    assert all(h.summarizer == ON_DEVICE for h in versions(mqtt_listener, first)[-1:])
    assert daemon.process.poll() is None  # the short episode may have ended; the speaker runs
