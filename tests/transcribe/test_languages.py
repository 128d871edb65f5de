"""Languages are honest: the model's languages are read from its folder, a
language it cannot transcribe is refused rather than invented, and segments the
recogniser doubted are marked."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from earmark.config.loader import load_text
from earmark.config.model import Config, TranscriptionConfig
from earmark.errors import ConfigError
from earmark.library.speech import synthesize
from earmark.transcribe.base import LanguageUnsupported, TranscribeRequest, language_code
from earmark.transcribe.local import (
    Confidence,
    LocalTranscriber,
    model_languages,
    refuses_language,
)

from ..conftest import SPEECH_CACHE, Episode

GERMAN = (
    "Willkommen zurück im langsamen Garten, einem Podcast über Gemüse auf kleinem Raum.",
    "Heute sprechen wir über Kompost und warum Küchenabfälle mehr wert sind, als man denkt.",
    "Ein guter Komposthaufen braucht grünes Material, braunes Material, Luft und etwas Wasser.",
    "Wenden Sie den Haufen jede Woche, damit die Mikroben in der Mitte atmen können.",
    "Nach etwa drei Monaten haben Sie dunkle Erde, die wie ein Waldboden riecht.",
)


@pytest.fixture(scope="module")
def german_wav() -> Path:
    return synthesize(GERMAN, SPEECH_CACHE, voice="de").wav


@pytest.fixture
def multilingual_folder(tmp_path: Path, model_path: Path) -> Path:
    """A model folder whose vocabulary has the multilingual size (51865 tokens)."""
    folder = tmp_path / "whisper-multi"
    folder.mkdir()
    tokens = (model_path / "vocabulary.txt").read_text(encoding="utf-8").splitlines()
    at = tokens.index("<|endoftext|>")
    tokens.insert(at, "Ġmultilingual")  # the one token an English-only vocabulary lacks
    (folder / "vocabulary.txt").write_text("\n".join(tokens) + "\n", encoding="utf-8")
    return folder


@pytest.mark.parametrize(
    ("tag", "code"), [("de-DE", "de"), ("de_AT", "de"), ("EN", "en"), ("auto", None), ("", None)]
)
def test_a_language_tag_becomes_its_code(tag: str, code: str | None) -> None:
    assert language_code(tag) == code


def test_the_pinned_model_is_known_english_only_without_loading_it(model_path: Path) -> None:
    # its tokenizer holds <|de|> like every Whisper tokenizer: the vocabulary size tells
    assert "<|de|>" in (model_path / "tokenizer.json").read_text(encoding="utf-8")
    assert model_languages(model_path) == {"en"}


def test_a_folder_with_only_tokenizer_json_is_read_too(tmp_path: Path, model_path: Path) -> None:
    shutil.copy(model_path / "tokenizer.json", tmp_path / "tokenizer.json")
    assert model_languages(tmp_path) == {"en"}


def test_a_multilingual_vocabulary_names_its_languages(multilingual_folder: Path) -> None:
    languages = model_languages(multilingual_folder)
    assert {"en", "de", "fr", "ja"} <= languages
    assert refuses_language(multilingual_folder, "de-DE") is None


def test_german_is_refused_by_an_english_only_model(model_path: Path) -> None:
    reason = refuses_language(model_path, "de-DE")
    assert reason is not None and "English-only" in reason and "'de'" in reason
    assert refuses_language(model_path, "en-GB") is None
    assert refuses_language(model_path, "auto") is None


def test_a_german_request_is_refused_rather_than_decoded_as_english(
    local_transcriber: LocalTranscriber, german_wav: Path
) -> None:
    # faster-whisper would quietly decode it as English: invented words
    with pytest.raises(LanguageUnsupported, match="English-only"):
        local_transcriber.transcribe(TranscribeRequest(german_wav, language="de"))


def test_english_only_model_claims_no_detection(
    local_transcriber: LocalTranscriber, garden_episode: Episode
) -> None:
    heard = local_transcriber.transcribe(TranscribeRequest(garden_episode.path, end=12.0))
    assert heard.language == "en" and heard.language_probability is None


def test_clear_speech_is_confident(garden_transcript: object) -> None:
    from earmark.transcribe.base import Transcript

    assert isinstance(garden_transcript, Transcript)
    assert garden_transcript.segments
    assert not any(s.low_confidence for s in garden_transcript.segments)


def test_german_heard_by_tiny_en_is_marked_low_confidence(
    local_transcriber: LocalTranscriber, german_wav: Path
) -> None:
    heard = local_transcriber.transcribe(TranscribeRequest(german_wav))
    assert heard.segments
    assert all(s.low_confidence for s in heard.segments)
    assert all(w.low_confidence for s in heard.segments for w in s.words)


def test_segments_past_the_thresholds_are_marked_low_confidence(
    model_path: Path, garden_episode: Episode
) -> None:
    strict = LocalTranscriber(model_path, confidence=Confidence(min_avg_logprob=-0.01))
    try:
        heard = strict.transcribe(TranscribeRequest(garden_episode.path, end=12.0))
    finally:
        strict.close()
    assert heard.segments and all(s.low_confidence for s in heard.segments)


def test_a_sampled_or_repetitive_segment_is_doubted_whatever_its_logprob() -> None:
    # greedy decoding failed faster-whisper's checks and a sample replaced it; or
    # the words loop ("a little bit of a little bit"); both at a confident -0.3
    confidence = Confidence()
    assert not confidence.doubts(-0.3, 0.1, compression_ratio=1.5, temperature=0.0)
    assert confidence.doubts(-0.3, 0.1, compression_ratio=1.5, temperature=0.4)
    assert confidence.doubts(-0.3, 0.1, compression_ratio=2.6, temperature=0.0)


def test_a_transcript_mostly_doubted_is_no_transcript() -> None:
    from earmark.snip.stages.transcribe import mostly_doubted

    text = "Open the heat. We talk about compost today and why it matters."
    assert mostly_doubted(text, ("Open the heat.",)) is None
    reason = mostly_doubted(text, ("Open the heat.", "We talk about compost today and why"))
    assert reason is not None and "doubted 10 of 12 words" in reason


def test_thresholds_come_from_config(model_path: Path) -> None:
    config = TranscriptionConfig(
        model_path=model_path, low_confidence_logprob=-0.5, low_confidence_no_speech=0.9
    )
    assert LocalTranscriber.from_config(config).confidence == Confidence(-0.5, 0.9)


@pytest.mark.parametrize("value", ["german", "de-DE", "EN"])
def test_a_language_that_is_not_a_code_is_a_config_error_at_its_line(value: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_text(f"transcription:\n  beam_size: 1\n  language: {value}\n", Config, "e.yaml")
    message = str(caught.value)
    assert "transcription.language" in message and "e.yaml" in message and "3" in message


def test_config_check_refuses_german_for_an_english_only_model(tmp_path: Path) -> None:
    from earmark.doctor import check_transcriber

    path = tmp_path / "earmark.yaml"
    path.write_text("transcription:\n  vad: true\n  language: de\n")
    with pytest.raises(ConfigError) as caught:
        check_transcriber(load_text(path.read_text(), Config, str(path)).transcription, path)
    message = str(caught.value)
    assert "transcription.language" in message and str(path) in message
    assert "line 3" in message or ":3" in message
