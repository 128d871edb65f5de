"""The snip's stages as job kinds: what the job table stores stays readable
across upgrades, and each stage does one thing (the clip stage cuts, the
transcribe stage hears), for downloads and streams alike."""

from __future__ import annotations

import shutil
from pathlib import Path

from earmark.library.fileserver import FileServer
from earmark.payloads import HighlightPayload
from earmark.store.highlights import PENDING, Highlight

from ..conftest import Episode
from ..support import word_error_rate
from .conftest import BEFORE, Stack


def test_a_clip_job_queued_by_an_older_earmark_still_runs(
    stack: Stack, garden_episode: Episode
) -> None:
    episode_id = stack.add_episode(garden_episode)
    episode = stack.catalog.episode(episode_id)
    assert episode is not None
    # the rows exactly as the earmark before stages were plug points wrote them
    highlight = stack.book.add(
        Highlight(
            id=Highlight.new_id(),
            status=PENDING,
            pressed_at="2026-11-01T10:00:00.000Z",
            press_position=30.0,
            start=30.0 - BEFORE,
            end=35.0,
            episode_id=episode_id,
            source_url=episode.source,
        )
    )
    with stack.db.transaction() as conn:
        conn.execute(
            "INSERT INTO jobs (kind, highlight_id, priority, status, run_after, created_at,"
            " updated_at) VALUES ('clip', ?, 0, 'queued', 0, 'then', 'then')",
            (highlight.id,),
        )
    stack.start()
    stack.worker.notify()
    done = stack.settled(highlight.id)
    assert done.status == "done", done.error
    assert done.transcript and done.clip_path and Path(done.clip_path).exists()
    kinds = stack.db.query(
        "SELECT kind, status FROM jobs WHERE highlight_id = ? ORDER BY id", (highlight.id,)
    )
    assert [tuple(r) for r in kinds] == [
        ("clip", "done"),
        ("transcribe", "done"),
        ("takeaways", "done"),
    ]


def test_the_clip_stage_only_keeps_audio_and_the_transcribe_stage_adds_the_words(
    stack: Stack, garden_episode: Episode
) -> None:
    episode_id = stack.add_episode(garden_episode)
    done = stack.settled(stack.snip(episode_id, 30.0).id)
    assert done.status == "done", done.error
    rows = stack.db.query("SELECT payload FROM outbox WHERE topic = 'highlight' ORDER BY id")
    versions = [HighlightPayload.from_json(r[0]) for r in rows]
    statuses = [v.status for v in versions]
    assert statuses == ["pending", "clipped", "transcribed", "done"], statuses
    clipped, transcribed = versions[1], versions[2]
    assert clipped.transcript is None and clipped.clip_seconds
    assert (clipped.start, clipped.end) == (15.0, 35.0)  # the window is not snapped yet
    assert transcribed.transcript and transcribed.transcript_source == "faster-whisper"


def test_stream_snip_is_heard_from_the_kept_audio(
    stack: Stack, garden_episode: Episode, file_server: FileServer, tmp_path: Path
) -> None:
    shutil.copy(garden_episode.path, Path(file_server.root) / "garden.mp3")
    episode_id = stack.add_episode(
        tmp_path / "never-downloaded.mp3",
        duration=garden_episode.duration,
        enclosure_url=file_server.url("garden.mp3"),
    )
    highlight = stack.settled(stack.snip(episode_id, 30.0).id)
    assert highlight.status == "done", highlight.error
    assert highlight.transcript_source == "faster-whisper"
    (request,) = stack.asr.requests
    assert request.audio.suffix == ".mka", request  # the kept clip, not the stream
    expected = garden_episode.audio.words_between(highlight.start, highlight.end)
    assert word_error_rate(expected, highlight.transcript or "") <= 0.15
