"""What the snip pipeline must survive: windows with no speech, another
language, the edges of an episode, a vanished or corrupt download, a wrong
model path, a clip folder that cannot be written. Each ends with the highlight
saved and either done or failed with a one-line reason, never a crash."""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from earmark.config.model import TranscriptionConfig
from earmark.library.fileserver import FileServer
from earmark.library.speech import encode, synthesize
from earmark.player.state import NowPlaying
from earmark.snip.capture import Capturer
from earmark.snip.sentences import PRESS_LEAD
from earmark.store import segments
from earmark.transcribe.base import Transcriber
from earmark.transcribe.local import pinned_model_path
from earmark.transcribe.registry import build_transcriber

from ..conftest import SPEECH_CACHE, Episode
from ..support import wait_for, word_error_rate
from .conftest import Stack

GERMAN = (
    "Willkommen zurück im langsamen Garten, einem Podcast über Gemüse auf kleinem Raum.",
    "Heute sprechen wir über Kompost und warum Küchenabfälle so wertvoll sind.",
    "Ein guter Komposthaufen braucht grünes Material, braunes Material, Luft und Wasser.",
    "Wenden Sie den Haufen jede Woche, damit die Mikroben in der Mitte atmen können.",
    "Nach etwa drei Monaten haben Sie dunkle Erde, die wie ein Waldboden riecht.",
)


@pytest.fixture(scope="module")
def quiet_episode(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A sentence, forty seconds of digital silence, a sentence."""
    audio = synthesize(
        ("Welcome to the quiet hour.", "That was the quiet hour."), SPEECH_CACHE, pause=40.0
    )
    return encode(audio.wav, tmp_path_factory.mktemp("quiet") / "quiet.mp3")


@pytest.fixture(scope="module")
def music_episode(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Forty seconds of plucked chords over pink noise: sound, but no speech."""
    folder = tmp_path_factory.mktemp("music")
    wav = folder / "music.wav"
    subprocess.run(
        ["sox", "-n", "-r", "16000", "-c", "1", "-b", "16", str(wav), "synth", "40"]
        + ["pluck", "C3", "pluck", "E3", "pluck", "G3", "pinknoise"]
        + ["tremolo", "3", "60", "vol", "0.5"],
        check=True,
        capture_output=True,
    )
    return encode(wav, folder / "music.mp3")


@pytest.fixture(scope="module")
def german_episode(tmp_path_factory: pytest.TempPathFactory) -> Path:
    audio = synthesize(GERMAN, SPEECH_CACHE, voice="de")
    return encode(audio.wav, tmp_path_factory.mktemp("german") / "german.mp3")


def _duration(path: Path) -> float:
    from earmark.snip.clip import probe_duration

    return probe_duration(path)


def _one_line(error: str | None) -> str:
    assert error, "the failure has no reason"
    assert "\n" not in error and "Traceback" not in error, error
    return error


def test_snip_of_silence_is_done_with_no_words(stack: Stack, quiet_episode: Path) -> None:
    episode_id = stack.add_episode(quiet_episode, duration=_duration(quiet_episode))
    highlight = stack.settled(stack.snip(episode_id, 25.0).id)
    assert highlight.status == "done", highlight.error
    assert highlight.transcript == ""
    assert (highlight.start, highlight.end) == (10.0, 30.0)  # nothing to snap to
    assert highlight.clip_seconds and highlight.clip_seconds > 19


def test_lookahead_over_silence_marks_it_transcribed(stack: Stack, quiet_episode: Path) -> None:
    duration = _duration(quiet_episode)
    episode_id = stack.add_episode(quiet_episode, duration=duration)
    stack.play(episode_id, 0.0)
    stack.look_ahead_all(episode_id, limit=8)
    assert segments.covers(stack.db, episode_id, 0.0, duration)


def test_snip_of_music_is_done_without_invented_speech(stack: Stack, music_episode: Path) -> None:
    episode_id = stack.add_episode(music_episode, duration=_duration(music_episode))
    highlight = stack.settled(stack.snip(episode_id, 25.0).id)
    assert highlight.status == "done", highlight.error
    assert len((highlight.transcript or "").split()) <= 3, highlight.transcript


def test_snip_of_another_language_is_done(stack: Stack, german_episode: Path) -> None:
    episode_id = stack.add_episode(german_episode, duration=_duration(german_episode))
    highlight = stack.settled(stack.snip(episode_id, 25.0).id)
    assert highlight.status == "done", highlight.error
    assert highlight.clip_path and Path(highlight.clip_path).exists()
    # tiny.en cannot hear German: what it made of it is doubted, so there is no
    # transcript and no title, only the reason (or, if it heard no words, nothing)
    assert not highlight.transcript and highlight.title is None and highlight.takeaways == ()
    if highlight.transcript is None:
        assert "doubted" in (highlight.transcript_unavailable or "")


def test_snip_in_the_first_five_seconds(stack: Stack, garden_episode: Episode) -> None:
    episode_id = stack.add_episode(garden_episode)
    highlight = stack.settled(stack.snip(episode_id, 2.0).id)
    assert highlight.status == "done", highlight.error
    assert highlight.start >= 0.0
    first = garden_episode.audio.sentences[0].text
    assert word_error_rate(first, highlight.transcript or "") <= 0.5 or (
        "slow garden" in (highlight.transcript or "").lower()
    )


def test_snip_in_the_last_five_seconds(stack: Stack, garden_episode: Episode) -> None:
    episode_id = stack.add_episode(garden_episode)
    highlight = stack.settled(stack.snip(episode_id, garden_episode.duration - 2.0).id)
    assert highlight.status == "done", highlight.error
    assert highlight.end <= garden_episode.duration + 0.05
    assert "may your garden grow" in (highlight.transcript or "").lower()


def test_episode_deleted_before_the_clip_fails_after_retries(
    stack: Stack, garden_episode: Episode, file_server: FileServer, tmp_path: Path
) -> None:
    copy = tmp_path / "downloaded.mp3"
    shutil.copy(garden_episode.path, copy)
    episode_id = stack.add_episode(
        copy, duration=garden_episode.duration, enclosure_url=file_server.url("gone.mp3")
    )
    copy.unlink()  # deleted, and the feed's file is gone too
    highlight = stack.settled(stack.snip(episode_id, 30.0).id)
    assert highlight.status == "failed"
    assert "gone.mp3" in _one_line(highlight.error)
    (clip_job,) = stack.queue.list()
    assert (clip_job.kind, clip_job.status, clip_job.attempts) == ("clip", "failed", 2)


def test_corrupt_download_fails_with_one_line(stack: Stack, tmp_path: Path) -> None:
    corrupt = tmp_path / "corrupt.mp3"
    corrupt.write_bytes(os.urandom(200_000))
    episode_id = stack.add_episode(corrupt, duration=60.0)
    highlight = stack.settled(stack.snip(episode_id, 30.0).id)
    assert highlight.status == "failed"
    assert "corrupt.mp3" in _one_line(highlight.error)


def test_wrong_model_path_fails_the_transcription_until_fixed_and_retried(
    make_stack: Callable[..., Stack], garden_episode: Episode, tmp_path: Path
) -> None:
    wrong = tmp_path / "models" / "tiny"
    built: list[Transcriber] = []

    def transcriber() -> Transcriber:
        # as the daemon does: built on first use, so a bad path fails the job
        if not built:
            built.append(build_transcriber(TranscriptionConfig(model_path=wrong)))
        return built[0]

    stack = make_stack(transcriber, max_attempts=1)
    episode_id = stack.add_episode(garden_episode)
    highlight = stack.settled(stack.snip(episode_id, 30.0).id)
    assert highlight.status == "failed"
    assert str(wrong) in _one_line(highlight.error)
    assert highlight.clip_path and Path(highlight.clip_path).exists()  # the audio is saved

    config = tmp_path / "earmark.yaml"
    config.write_text(yaml.safe_dump({"data_dir": str(tmp_path / "data")}))
    listed = _earmark(config, "jobs")
    assert listed.returncode == 0, listed.stderr
    failed = [line for line in listed.stdout.splitlines() if " transcribe " in line]
    assert len(failed) == 1 and "failed" in failed[0] and str(wrong) in failed[0], listed.stdout
    job_id = failed[0].split()[0]

    wrong.parent.mkdir(parents=True)
    wrong.symlink_to(pinned_model_path(), target_is_directory=True)  # the listener fixes it
    # what `earmark retry` asks the running daemon to do
    assert stack.queue.retry(int(job_id))
    stack.worker.notify()
    highlight = stack.settled(highlight.id)
    assert highlight.status == "done", highlight.error
    assert highlight.error is None
    assert highlight.transcript


def test_clip_folder_that_cannot_be_written_fails_with_one_line(
    make_stack: Callable[..., Stack], garden_episode: Episode, tmp_path: Path
) -> None:
    # ENOSPC cannot be made here without mounting a file system; a file where the
    # clip folder should be fails the same write
    blocker = tmp_path / "clips"
    blocker.write_text("not a folder")
    stack = make_stack(clips_dir=blocker)
    episode_id = stack.add_episode(garden_episode)
    highlight = stack.settled(stack.snip(episode_id, 30.0).id)
    assert highlight.status == "failed"
    error = _one_line(highlight.error)
    assert error.startswith(f"cannot write clip {blocker}/") and "writable folder" in error
    assert stack.book.get(highlight.id) is not None


def _earmark(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "earmark", "-c", str(config), *args],
        capture_output=True,
        text=True,
        timeout=30,
    )


def test_a_full_database_is_one_line_and_the_snip_finishes_once_there_is_room(
    stack: Stack, garden_episode: Episode, caplog: pytest.LogCaptureFixture
) -> None:
    episode_id = stack.add_episode(garden_episode)
    episode = stack.catalog.episode(episode_id)
    assert episode is not None
    highlight, _ = Capturer(stack.book, 15.0, 5.0).capture(
        NowPlaying(episode.source, 30.0, episode.duration, episode_id), "test"
    )
    connection = stack.db.connection
    with stack.db.transaction() as conn:  # fill the pages the pipeline writes into
        conn.execute(
            'INSERT INTO transcript_segments (episode_id, start, "end", text, source) '
            "VALUES (?, 9000, 9001, ?, 'filler')",
            (episode_id, "x" * 3900),
        )
        conn.execute(
            "INSERT INTO outbox (topic, payload, created_at, sent_at) VALUES "
            "('filler', ?, 'then', 'then')",
            (b"x" * 3900,),
        )
    pages = connection.execute("PRAGMA page_count").fetchone()[0]
    # SQLite's own limit on the file's size: every write that needs a new page
    # fails with SQLITE_FULL, exactly as on a full disk
    connection.execute(f"PRAGMA max_page_count = {pages}")
    with caplog.at_level(logging.ERROR, logger="earmark.snip.worker"):
        stack.start()
        stack.worker.notify()
        wait_for(lambda: "database refused a write" in caplog.text, 60, 0.05, "the refusal")
    refusal = next(r for r in caplog.records if "refused a write" in r.getMessage())
    assert refusal.exc_info is None and "\n" not in refusal.getMessage()
    assert stack.book.get(highlight.id) is not None  # the saved snip survives
    connection.execute("PRAGMA max_page_count = 1073741823")
    stack.worker.notify()
    done = stack.settled(highlight.id, timeout=90)
    assert done.status == "done" and done.transcript


def test_press_in_silence_after_speech_stays_inside_the_window(
    stack: Stack, quiet_episode: Path
) -> None:
    # the window 0-15 s holds one sentence (0-2 s) and silence: snapping must not
    # shrink it to that sentence and leave the press, and what led to it, outside
    episode_id = stack.add_episode(quiet_episode, duration=_duration(quiet_episode))
    highlight = stack.settled(stack.snip(episode_id, 10.0).id)
    assert highlight.status == "done", highlight.error
    assert highlight.start <= 10.0 - PRESS_LEAD and highlight.end >= 10.0, (
        highlight.start,
        highlight.end,
    )
    assert "quiet hour" in (highlight.transcript or "").lower()
