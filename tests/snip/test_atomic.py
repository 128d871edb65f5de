"""Atomic to the end: a job's final failure and its highlight's ``failed`` status
are one commit, and the takeaways stage lets go of the kept audio only after
the commit that stops naming it."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest

from earmark.player.state import NowPlaying
from earmark.snip import clip
from earmark.snip.capture import Capturer
from earmark.store.database import Database
from earmark.store.highlights import PENDING, Highlight, HighlightBook
from earmark.store.jobs import Job, JobKind, JobQueue

from ..conftest import Episode
from .conftest import Stack

REFUSE_HIGHLIGHT_WRITES = (
    "CREATE TRIGGER refuse BEFORE UPDATE ON highlights BEGIN SELECT RAISE(ABORT, 'refused'); END"
)
REFUSE_DONE = (
    "CREATE TRIGGER refuse BEFORE UPDATE ON highlights WHEN NEW.status = 'done'"
    " BEGIN SELECT RAISE(ABORT, 'refused'); END"
)


def _execute(db: Database, sql: str) -> None:
    with db.transaction() as conn:
        conn.execute(sql)


def test_a_final_failure_and_the_highlights_failed_status_commit_together(
    tmp_path: Path,
) -> None:
    db = Database(tmp_path / "earmark.db")
    book = HighlightBook(db, "testbox")
    queue = JobQueue(db, max_attempts=1)
    highlight = book.add(
        Highlight(Highlight.new_id(), PENDING, "2026-11-01T10:00:00.000Z", 30.0, 15.0, 35.0),
        jobs=[(JobKind.CLIP, 0)],
    )
    job = queue.claim()
    assert job is not None
    _execute(db, REFUSE_HIGHLIGHT_WRITES)
    with pytest.raises(sqlite3.Error):
        queue.fail(job, "ffmpeg said no", highlight_book=book)
    # the highlight could not be marked failed, so neither is the job
    assert [j.status for j in queue.list()] == ["running"]

    _execute(db, "DROP TRIGGER refuse")
    assert queue.fail(job, "ffmpeg said no", highlight_book=book)
    failed = book.get(highlight.id)
    assert failed is not None and (failed.status, failed.error) == ("failed", "ffmpeg said no")
    assert [(j.status, j.last_error) for j in queue.list()] == [("failed", "ffmpeg said no")]
    db.close()


def _to_takeaways(stack: Stack, episode: Episode, tmp_path: Path) -> tuple[Highlight, Job, Path]:
    """A snip of a downloaded copy of ``episode`` run by hand up to its takeaways job."""
    download = tmp_path / "downloaded.mp3"
    shutil.copy(episode.path, download)
    episode_id = stack.add_episode(download, duration=episode.duration)
    highlight, _ = Capturer(stack.book, 15.0, 5.0).capture(
        NowPlaying(str(download), 30.0, episode.duration, episode_id), "test"
    )
    while (job := stack.queue.claim()) is not None and job.kind != JobKind.TAKEAWAYS:
        stack.pipeline.run(job)
    assert job is not None
    return highlight, job, download


def test_takeaways_whose_commit_failed_finish_from_the_kept_audio(
    stack: Stack, garden_episode: Episode, tmp_path: Path
) -> None:
    highlight, job, download = _to_takeaways(stack, garden_episode, tmp_path)
    _execute(stack.db, REFUSE_DONE)  # as a full disk refuses the commit
    with pytest.raises(sqlite3.Error):
        stack.pipeline.run(job)
    stack.queue.release(job.id)  # what the job worker does after a refused write
    _execute(stack.db, "DROP TRIGGER refuse")
    download.unlink()  # and meanwhile the download was deleted (the feed's URL is no more)

    retry = stack.queue.claim()
    assert retry is not None and retry.kind == JobKind.TAKEAWAYS
    stack.pipeline.run(retry)
    done = stack.book.get(highlight.id)
    assert done is not None and done.status == "done", done
    assert done.clip_path and done.clip_path.endswith(".opus") and Path(done.clip_path).exists()
    assert abs((done.clip_seconds or 0) - (done.end - done.start)) < 0.25
    # the kept audio goes once the commit no longer names it
    assert not list(Path(done.clip_path).parent.glob("*.mka"))


def test_takeaways_accept_the_clip_an_earlier_attempt_made(
    stack: Stack, garden_episode: Episode, tmp_path: Path
) -> None:
    highlight, job, download = _to_takeaways(stack, garden_episode, tmp_path)
    now = stack.book.get(highlight.id)
    assert now is not None and now.clip_path and now.clip_start is not None
    # an earlier earmark cut the final clip, deleted the kept audio, then its
    # commit failed; the download is gone too
    kept = Path(now.clip_path)
    final = kept.with_suffix(".opus")
    clip.cut(str(kept), now.start - now.clip_start, now.end - now.clip_start, final)
    kept.unlink()
    download.unlink()

    stack.pipeline.run(job)
    done = stack.book.get(highlight.id)
    assert done is not None and done.status == "done", done
    assert done.clip_path == str(final) and final.exists()
