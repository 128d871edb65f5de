"""Where a snip's words come from, best first: the publisher's transcript, the
episode transcript the look-ahead stored, faster-whisper on the window. And
what the words look like: whole sentences, nothing lost or doubled at the
border between two look-ahead chunks."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from earmark.config.loader import load_text
from earmark.config.model import Config
from earmark.library.demo import webvtt
from earmark.library.fileserver import FileServer
from earmark.store import segments
from earmark.transcribe.local import LocalTranscriber
from earmark.transcribe.registry import build_transcriber

from ..conftest import Episode
from ..support import word_error_rate
from ..transcribe.conftest import SpeechEndpoint
from .conftest import Stack


def _sentence_edges(episode: Episode) -> tuple[list[float], list[float]]:
    sentences = episode.audio.sentences
    return [s.start for s in sentences], [s.end for s in sentences]


def _near(value: float, edges: list[float], slack: float = 0.75) -> bool:
    # tiny.en's word times are off by up to about half a second at a sentence's end
    return any(abs(value - edge) <= slack for edge in edges)


def test_snip_takes_the_publishers_transcript_without_asr(
    stack: Stack, garden_episode: Episode, file_server: FileServer
) -> None:
    Path(file_server.root, "garden.vtt").write_text(webvtt(garden_episode.audio.sentences))
    episode_id = stack.add_episode(
        garden_episode,
        transcript_url=file_server.url("garden.vtt"),
        transcript_type="text/vtt",
    )
    highlight = stack.settled(stack.snip(episode_id, 30.0).id)
    assert highlight.status == "done", highlight.error
    assert highlight.transcript_source == "publisher"
    assert stack.asr.calls == 0
    expected = garden_episode.audio.words_between(highlight.start, highlight.end)
    assert word_error_rate(expected, highlight.transcript or "") == 0.0


def test_snip_reads_stored_words_without_asr(stack: Stack, garden_episode: Episode) -> None:
    episode_id = stack.add_episode(garden_episode)
    stack.play(episode_id, 0.0)
    stack.look_ahead_all(episode_id)
    assert segments.covers(stack.db, episode_id, 0.0, garden_episode.duration)
    asked = stack.asr.calls

    highlight = stack.settled(stack.snip(episode_id, 40.0).id)
    assert highlight.status == "done", highlight.error
    assert stack.asr.calls == asked, "the snip ran ASR although its words were stored"
    assert highlight.transcript_source == "faster-whisper"
    expected = garden_episode.audio.words_between(highlight.start, highlight.end)
    assert word_error_rate(expected, highlight.transcript or "") <= 0.15


def test_snip_falls_back_to_whisper_when_nothing_is_stored(
    stack: Stack, garden_episode: Episode
) -> None:
    episode_id = stack.add_episode(garden_episode)
    highlight = stack.settled(stack.snip(episode_id, 30.0).id)
    assert highlight.status == "done", highlight.error
    assert highlight.transcript_source == "faster-whisper"
    assert stack.asr.calls == 1
    expected = garden_episode.audio.words_between(highlight.start, highlight.end)
    assert word_error_rate(expected, highlight.transcript or "") <= 0.15
    # the words of the window are kept for the next snip of the episode
    assert segments.covers(stack.db, episode_id, highlight.start, highlight.end)


def test_whisper_snip_lies_on_sentence_boundaries(stack: Stack, garden_episode: Episode) -> None:
    episode_id = stack.add_episode(garden_episode)
    starts, ends = _sentence_edges(garden_episode)
    for press in (23.0, 47.0):  # both land mid-sentence
        highlight = stack.settled(stack.snip(episode_id, press).id)
        assert highlight.status == "done", highlight.error
        assert _near(highlight.start, starts), (highlight.start, starts)
        assert _near(highlight.end, ends), (highlight.end, ends)


def test_stored_snip_lies_on_sentence_boundaries(stack: Stack, garden_episode: Episode) -> None:
    episode_id = stack.add_episode(garden_episode)
    stack.play(episode_id, 0.0)
    stack.look_ahead_all(episode_id)
    starts, ends = _sentence_edges(garden_episode)
    highlight = stack.settled(stack.snip(episode_id, 36.0).id)
    assert highlight.status == "done", highlight.error
    assert _near(highlight.start, starts), (highlight.start, starts)
    assert _near(highlight.end, ends), (highlight.end, ends)


def test_snip_across_a_chunk_border_loses_and_doubles_no_sentence(
    stack: Stack, garden_episode: Episode
) -> None:
    episode_id = stack.add_episode(garden_episode)
    stack.play(episode_id, 0.0)
    chunks = stack.look_ahead_all(episode_id)
    assert len(chunks) >= 2, chunks
    border = chunks[0][1]
    # the stored segments neither overlap nor leave a sentence out at the border
    stored = segments.between(stack.db, episode_id, 0.0, garden_episode.duration).segments
    for earlier, later in zip(stored, stored[1:], strict=False):
        assert later.start >= earlier.end - 0.05, (earlier, later)
    whole = " ".join(s.text for s in stored)
    assert word_error_rate(garden_episode.audio.words_between(0, 1e9), whole) <= 0.15

    highlight = stack.settled(stack.snip(episode_id, border + 5.0).id)
    assert highlight.status == "done", highlight.error
    assert highlight.start < border < highlight.end
    expected = garden_episode.audio.words_between(highlight.start, highlight.end)
    transcript = (highlight.transcript or "").lower()
    assert word_error_rate(expected, transcript) <= 0.15, (expected, transcript)
    for sentence in garden_episode.audio.sentences:
        if highlight.start - 0.5 <= sentence.start and sentence.end <= highlight.end + 0.5:
            opening = " ".join(sentence.text.lower().split()[:3])
            assert transcript.count(opening) == 1, (opening, transcript)


def test_snip_through_an_openai_compatible_endpoint_ends_done_with_the_words(
    make_stack: Callable[..., Stack], garden_episode: Episode, whisper: LocalTranscriber
) -> None:
    endpoint = SpeechEndpoint(whisper).start()
    try:
        config = load_text(
            f"transcription:\n  backend: openai\n  openai:\n    url: {endpoint.url}\n"
            "    model: tiny.en\n",
            Config,
        )
        remote = build_transcriber(config.transcription)
        stack = make_stack(lambda: remote)
        episode_id = stack.add_episode(garden_episode)
        highlight = stack.settled(stack.snip(episode_id, 30.0).id)
    finally:
        endpoint.close()
    assert highlight.status == "done", highlight.error
    assert highlight.transcript_source == "openai"
    assert len(endpoint.requests) == 1 and stack.asr.calls == 0
    expected = garden_episode.audio.words_between(highlight.start, highlight.end)
    assert word_error_rate(expected, highlight.transcript or "") <= 0.15


def test_sentences_cut_by_the_transcribed_stretch_are_left_out() -> None:
    from earmark.snip.sentences import without_cut_sentences
    from earmark.transcribe.base import Segment, Transcript, Word

    def sentence(start: float, *texts: str) -> Segment:
        words = tuple(Word(start + i, start + i + 0.8, t) for i, t in enumerate(texts))
        return Segment(words[0].start, words[-1].end, " ".join(texts), words)

    heard = Transcript(
        (
            sentence(10.1, "half", "a", "sentence."),  # starts where the stretch starts
            sentence(15.0, "a", "whole", "one."),
            sentence(20.0, "and", "the", "last", "is", "cut"),  # runs into the end
        ),
        source="faster-whisper",
    )
    kept = without_cut_sentences(heard, lo=10.0, hi=24.9)
    assert [s.text for s in kept.segments] == ["a whole one."]
    # at the episode's start nothing was cut before
    assert len(without_cut_sentences(heard, lo=0.0, hi=40.0).segments) == 3
    # one long sentence is kept rather than lost
    single = Transcript((sentence(10.1, "one", "long", "sentence"),), source="x")
    assert without_cut_sentences(single, lo=10.0, hi=13.0).segments == single.segments


def test_a_second_press_inside_the_window_extends_the_snip(
    stack: Stack, garden_episode: Episode
) -> None:
    episode_id = stack.add_episode(garden_episode)
    first = stack.snip(episode_id, 20.0)
    second = stack.snip(episode_id, 23.0)
    assert second.id == first.id and second.end > first.end
    done = stack.settled(first.id)
    assert done.status == "done" and done.end >= second.end - 1.0
    queued = stack.db.query(
        "SELECT count(*) FROM jobs WHERE highlight_id = ? AND status = 'queued'", (first.id,)
    )[0][0]
    assert queued == 0
    assert len(stack.book.latest()) == 1


def test_presses_with_the_player_stopped_at_the_end_make_one_snip(
    stack: Stack, garden_episode: Episode
) -> None:
    episode_id = stack.add_episode(garden_episode)
    end = garden_episode.duration  # the player stopped there: every press reads this
    first = stack.settled(stack.snip(episode_id, end).id)
    assert first.status == "done", first.error
    for _ in range(2):
        again = stack.snip(episode_id, end)
        assert again.id == first.id
        stack.settled(again.id)
    assert [h.id for h in stack.book.latest()] == [first.id]
