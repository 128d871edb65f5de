"""The on-device transcriber: real faster-whisper with the pinned tiny.en."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest

from earmark.config.model import TranscriptionConfig
from earmark.errors import TranscriberError
from earmark.transcribe.base import TranscribeRequest, Transcript
from earmark.transcribe.local import LocalTranscriber, samples_from_pcm
from earmark.transcribe.openai import OpenAITranscriber
from earmark.transcribe.pcm import read_pcm
from earmark.transcribe.registry import BACKENDS, build_transcriber
from earmark.transcribe.wyoming import WyomingTranscriber

from ..conftest import Episode
from ..support import word_error_rate


def _words(transcript: Transcript) -> list:
    return [w for s in transcript.segments for w in s.words]


def test_whole_episode_is_transcribed_within_15_percent_wer(
    garden_transcript: Transcript, garden_episode: Episode
) -> None:
    reference = " ".join(s.text for s in garden_episode.audio.sentences)
    assert word_error_rate(reference, garden_transcript.text) <= 0.15
    assert garden_transcript.source == "faster-whisper"
    assert garden_transcript.language == "en"


def test_words_carry_timestamps_in_order_within_the_episode(
    garden_transcript: Transcript, garden_episode: Episode
) -> None:
    words = _words(garden_transcript)
    assert len(words) > 100
    starts = [w.start for w in words]
    assert starts == sorted(starts)
    assert all(0 <= w.start <= w.end <= garden_episode.duration + 0.5 for w in words)
    assert all(type(w.start) is float for w in words)


def test_window_is_transcribed_with_episode_times(
    local_transcriber: LocalTranscriber, garden_episode: Episode
) -> None:
    sentences = garden_episode.audio.sentences
    # ~30 s, Whisper's own window: tiny.en is erratic on much shorter cuts
    start, end = sentences[2].start - 0.3, sentences[6].end + 0.3
    result = local_transcriber.transcribe(
        TranscribeRequest(garden_episode.path, start=start, end=end)
    )
    reference = " ".join(s.text for s in sentences[2:7])
    assert word_error_rate(reference, result.text) <= 0.15
    words = _words(result)
    assert abs(words[0].start - sentences[2].start) < 1.0
    assert start <= words[0].start and words[-1].end <= end + 0.5


def test_samples_in_memory_are_transcribed_with_an_offset(
    local_transcriber: LocalTranscriber, garden_episode: Episode
) -> None:
    picked = garden_episode.audio.sentences[6:10]
    pcm = read_pcm(
        TranscribeRequest(
            garden_episode.path, start=picked[0].start - 0.3, end=picked[-1].end + 0.3
        )
    )
    result = local_transcriber.transcribe_samples(samples_from_pcm(pcm), offset=100.0)
    assert word_error_rate(" ".join(s.text for s in picked), result.text) <= 0.15
    assert all(w.start >= 100.0 for w in _words(result))


def test_silence_gives_an_empty_transcript(
    local_transcriber: LocalTranscriber, silence_wav: Path
) -> None:
    result = local_transcriber.transcribe(TranscribeRequest(silence_wav))
    assert result.segments == ()
    assert result.text == ""


def test_empty_samples_give_an_empty_transcript(local_transcriber: LocalTranscriber) -> None:
    assert local_transcriber.transcribe_samples(np.zeros(0, dtype=np.float32)).segments == ()


def test_music_without_speech_gives_no_words(
    local_transcriber: LocalTranscriber, music_wav: Path
) -> None:
    result = local_transcriber.transcribe(TranscribeRequest(music_wav))
    # VAD drops non-speech before Whisper can hallucinate lyrics into it
    assert len(_words(result)) <= 2, result.text


def test_a_window_beyond_the_end_of_the_file_is_empty(
    local_transcriber: LocalTranscriber, garden_episode: Episode
) -> None:
    far = garden_episode.duration + 100
    result = local_transcriber.transcribe(
        TranscribeRequest(garden_episode.path, start=far, end=far + 10)
    )
    assert result.segments == ()


def test_missing_audio_file_raises_one_line(
    local_transcriber: LocalTranscriber, tmp_path: Path
) -> None:
    with pytest.raises(TranscriberError, match="does not exist") as caught:
        local_transcriber.transcribe(TranscribeRequest(tmp_path / "gone.wav"))
    assert "\n" not in str(caught.value)


def test_undecodable_audio_raises_one_line(
    local_transcriber: LocalTranscriber, tmp_path: Path
) -> None:
    junk = tmp_path / "junk.mp3"
    junk.write_bytes(b"this is not audio" * 100)
    with pytest.raises(TranscriberError) as caught:
        local_transcriber.transcribe(TranscribeRequest(junk, start=0, end=5))
    assert "\n" not in str(caught.value)


def test_two_callers_at_once_both_get_their_own_words(
    local_transcriber: LocalTranscriber, garden_episode: Episode
) -> None:
    sentences = garden_episode.audio.sentences
    halves = (sentences[:5], sentences[5:])
    results: dict[int, Transcript] = {}

    def run(i: int) -> None:
        half = halves[i]
        results[i] = local_transcriber.transcribe(
            TranscribeRequest(
                garden_episode.path, start=half[0].start - 0.3, end=half[-1].end + 0.3
            )
        )

    threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    for i, half in enumerate(halves):
        assert word_error_rate(" ".join(s.text for s in half), results[i].text) <= 0.15


# --- building from config ----------------------------------------------------------------


def test_registry_builds_the_default_local_transcriber(model_path: Path) -> None:
    transcriber = build_transcriber(TranscriptionConfig())
    assert isinstance(transcriber, LocalTranscriber)
    assert transcriber.model_path == model_path


def test_registry_builds_remote_transcribers_without_contacting_them() -> None:
    assert isinstance(build_transcriber(TranscriptionConfig(backend="wyoming")), WyomingTranscriber)
    assert isinstance(build_transcriber(TranscriptionConfig(backend="openai")), OpenAITranscriber)
    assert set(BACKENDS) == {"faster-whisper", "wyoming", "openai"}


def test_unknown_backend_raises_one_line_naming_the_choices() -> None:
    with pytest.raises(ValueError, match="faster-whisper, wyoming, openai") as caught:
        build_transcriber(TranscriptionConfig(backend="whisperx"))
    assert "\n" not in str(caught.value)


def test_every_backend_choice_has_a_factory() -> None:
    from earmark.config.choices import TranscriptionBackend
    from earmark.transcribe.registry import BACKENDS

    assert set(BACKENDS) == set(TranscriptionBackend)


def test_missing_model_path_raises_one_line(tmp_path: Path) -> None:
    with pytest.raises(TranscriberError, match="model_path") as caught:
        build_transcriber(TranscriptionConfig(model_path=tmp_path / "nowhere"))
    assert "\n" not in str(caught.value)


def test_model_folder_without_weights_raises_naming_the_missing_files(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text("{}")
    with pytest.raises(TranscriberError, match="model.bin, tokenizer.json"):
        build_transcriber(TranscriptionConfig(model_path=tmp_path))


def test_corrupt_model_raises_on_first_use_not_a_crash(tmp_path: Path, silence_wav: Path) -> None:
    for name in ("model.bin", "config.json", "tokenizer.json"):
        (tmp_path / name).write_bytes(b"not a model")
    transcriber = build_transcriber(TranscriptionConfig(model_path=tmp_path))
    with pytest.raises(TranscriberError, match="cannot load the Whisper model") as caught:
        transcriber.transcribe(TranscribeRequest(silence_wav))
    assert "\n" not in str(caught.value)


def test_a_window_must_end_after_it_starts(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        TranscribeRequest(tmp_path / "a.wav", start=10, end=5)
