"""Languages are honest through the real pipeline: a snip of German speech in a
feed that says so, or that says nothing, ends done with its clip but no invented
words and no takeaways; the reason is in the highlight and its payload."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from earmark.library.fileserver import FileServer
from earmark.library.speech import encode, synthesize
from earmark.store.highlights import DONE
from earmark.transcribe.base import TranscribeRequest, Transcript
from earmark.transcribe.local import LocalTranscriber

from ..conftest import SPEECH_CACHE
from ..library import stock
from .conftest import Stack

GERMAN = (
    "Willkommen zurück im langsamen Garten, einem Podcast über Gemüse auf kleinem Raum.",
    "Heute sprechen wir über Kompost und warum Küchenabfälle mehr wert sind, als man denkt.",
    "Ein guter Komposthaufen braucht grünes Material, braunes Material, Luft und etwas Wasser.",
    "Grünes Material ist reich an Stickstoff, wie Kaffeesatz und frischer Rasenschnitt.",
    "Braunes Material liefert Kohlenstoff, zum Beispiel trockenes Laub, Stroh und Karton.",
    "Wenden Sie den Haufen jede Woche, damit die Mikroben in der Mitte atmen können.",
    "Nach etwa drei Monaten haben Sie dunkle Erde, die wie ein Waldboden riecht.",
)


@pytest.fixture(scope="module")
def german_mp3(tmp_path_factory: pytest.TempPathFactory) -> Path:
    audio = synthesize(GERMAN, SPEECH_CACHE, voice="de")
    out = tmp_path_factory.mktemp("german") / "garten.mp3"
    return encode(audio.wav, out, title="Garten", duration=audio.duration)


def feed(root: Path, base_url: str, language: str | None) -> str:
    tag = f"<language>{language}</language>" if language else ""
    size = (root / "garten.mp3").stat().st_size
    (root / "feed.xml").write_text(
        '<?xml version="1.0" encoding="UTF-8"?>\n<rss version="2.0"><channel>'
        f"<title>Der langsame Garten</title>{tag}<description>Kompost</description>"
        f'<item><guid>garten-1</guid><title>Kompost</title><enclosure url="{base_url}/garten.mp3"'
        f' type="audio/mpeg" length="{size}"/></item></channel></rss>'
    )
    return f"{base_url}/feed.xml"


@pytest.fixture
def served(tmp_path: Path, german_mp3: Path) -> Iterator[tuple[Path, FileServer]]:
    root = tmp_path / "podcast"
    root.mkdir()
    shutil.copy(german_mp3, root / "garten.mp3")
    with FileServer(root) as server:
        yield root, server


def subscribe(stack: Stack, tmp_path: Path, url: str) -> int:
    stock.subscribe(stack.db, stack.catalog, url, tmp_path / "downloads")
    (episode,) = stack.catalog.episodes()
    return episode.id


def test_german_podcast_with_an_english_only_model_keeps_its_clip_without_invented_words(
    stack: Stack, tmp_path: Path, served: tuple[Path, FileServer]
) -> None:
    root, server = served
    episode_id = subscribe(stack, tmp_path, feed(root, server.base_url, "de-DE"))
    assert stack.catalog.episode(episode_id).language == "de"  # type: ignore[union-attr]

    done = stack.settled(stack.snip(episode_id, 25.0).id)

    assert done.status == DONE
    assert done.clip_path and Path(done.clip_path).exists() and (done.clip_seconds or 0) > 5
    assert done.transcript is None and done.transcript_source is None
    assert done.transcript_unavailable and "English-only" in done.transcript_unavailable
    assert "'de'" in done.transcript_unavailable
    assert done.takeaways == () and done.title is None
    payload = done.payload("testbox")
    assert payload.transcript is None
    assert payload.transcript_unavailable == done.transcript_unavailable
    # nothing the model would have invented was kept for later snips either
    assert not stack.db.query("SELECT 1 FROM transcript_segments")


def test_german_speech_in_a_feed_without_a_language_makes_no_takeaways(
    stack: Stack, tmp_path: Path, served: tuple[Path, FileServer]
) -> None:
    root, server = served
    episode_id = subscribe(stack, tmp_path, feed(root, server.base_url, None))

    done = stack.settled(stack.snip(episode_id, 25.0).id)

    # tiny.en hears English in German only by sampling (greedy decoding fails
    # faster-whisper's own checks), so it doubts most of what it heard
    assert done.status == DONE
    assert done.clip_path and Path(done.clip_path).exists()
    assert done.takeaways == () and done.title is None
    if done.transcript == "":
        return  # the sampled decode heard no words at all: nothing invented either
    assert done.transcript is None and done.transcript_source is None
    assert done.transcript_unavailable and "the model doubted" in done.transcript_unavailable
    assert done.payload("testbox").transcript_unavailable == done.transcript_unavailable
    # the heard words stay for later snips and search, each marked as doubted
    stored = stack.db.query("SELECT low_confidence FROM transcript_segments")
    assert stored and sum(row[0] for row in stored) * 2 > len(stored)


class DetectingTranscriber:
    """The session's tiny.en, reporting what a multilingual model's detection would
    on this audio (German, sure of it), and knowing only English."""

    name = "faster-whisper"

    def __init__(self, inner: LocalTranscriber) -> None:
        self.inner = inner

    def transcribe(self, request: TranscribeRequest) -> Transcript:
        return replace(self.inner.transcribe(request), language="de", language_probability=0.97)

    def cannot_transcribe(self, language: str | None) -> str | None:
        return None if language == "en" else f"this model knows English only, not '{language}'"

    def close(self) -> None:
        pass


def test_a_detected_language_the_model_cannot_transcribe_gives_no_transcript(
    make_stack: Callable[..., Stack],
    whisper: LocalTranscriber,
    tmp_path: Path,
    served: tuple[Path, FileServer],
) -> None:
    detecting = DetectingTranscriber(whisper)
    stack = make_stack(transcriber=lambda: detecting)
    root, server = served
    episode_id = subscribe(stack, tmp_path, feed(root, server.base_url, None))

    done = stack.settled(stack.snip(episode_id, 25.0).id)

    assert done.status == DONE and done.clip_path and Path(done.clip_path).exists()
    assert done.transcript is None and done.takeaways == ()
    assert done.transcript_unavailable and "detected language 'de'" in done.transcript_unavailable


def test_the_lookahead_skips_a_podcast_the_model_cannot_hear(
    stack: Stack, tmp_path: Path, served: tuple[Path, FileServer]
) -> None:
    root, server = served
    episode_id = subscribe(stack, tmp_path, feed(root, server.base_url, "de"))
    stack.play(episode_id, 0.0)
    stack.lookahead.follow(episode_id)
    assert stack.look_ahead_step() is None  # no stretch transcribed into invented words
    assert not stack.waiting("lookahead")  # and no retry: the language will not change
    assert stack.asr.calls == 0
