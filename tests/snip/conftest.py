"""The snip pipeline in-process, on real parts: SQLite, ffmpeg, faster-whisper
(tiny.en, loaded once per session), the job worker thread. Only the player is
stood in for, by a ``NowPlaying`` the test moves: the look-ahead asks it where
the play head is, and that is all it asks."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

import pytest

from earmark.library.publisher import PublisherTranscripts
from earmark.player.state import NowPlaying
from earmark.snip.capture import Capturer
from earmark.snip.lookahead import KIND as LOOKAHEAD
from earmark.snip.lookahead import LookAhead
from earmark.snip.pipeline import SnipPipeline
from earmark.snip.worker import JobWorker, Runner
from earmark.store.catalog import Catalog
from earmark.store.database import Database
from earmark.store.highlights import DONE, FAILED, Highlight, HighlightBook
from earmark.store.jobs import JobQueue
from earmark.takeaways import ExtractiveSummarizer
from earmark.transcribe.base import (
    Transcriber,
    TranscribeRequest,
    Transcript,
    cannot_transcribe,
)
from earmark.transcribe.local import LocalTranscriber, pinned_model_path

from ..conftest import Episode
from ..support import wait_for

BEFORE, AFTER = 15.0, 5.0


@pytest.fixture(scope="session")
def whisper() -> Iterator[LocalTranscriber]:
    """The pinned tiny.en, loaded once for the session."""
    transcriber = LocalTranscriber(pinned_model_path(), beam_size=1, cpu_threads=1, language="en")
    transcriber.load()
    yield transcriber
    transcriber.close()


class CountingTranscriber:
    """Delegates to a real transcriber and remembers what it was asked."""

    def __init__(self, inner: Transcriber) -> None:
        self.inner = inner
        self.name = inner.name
        self.requests: list[TranscribeRequest] = []
        self._lock = threading.Lock()

    def transcribe(self, request: TranscribeRequest) -> Transcript:
        with self._lock:
            self.requests.append(request)
        return self.inner.transcribe(request)

    @property
    def calls(self) -> int:
        with self._lock:
            return len(self.requests)

    def cannot_transcribe(self, language: str | None) -> str | None:
        return cannot_transcribe(self.inner, language)

    def close(self) -> None:
        pass  # the session owns the model


@dataclass
class Stack:
    """One box's snip pipeline over one database."""

    db: Database
    catalog: Catalog
    book: HighlightBook
    queue: JobQueue
    asr: CountingTranscriber
    pipeline: SnipPipeline
    lookahead: LookAhead
    worker: JobWorker
    now: NowPlaying = field(default_factory=lambda: NowPlaying("", 0.0, None))
    _started: bool = False

    def add_episode(
        self,
        episode: Episode | Path,
        *,
        guid: str = "ep-1",
        enclosure_url: str | None = None,
        transcript_url: str | None = None,
        transcript_type: str | None = None,
        duration: float | None = None,
    ) -> int:
        path = episode.path if isinstance(episode, Episode) else episode
        length = episode.duration if isinstance(episode, Episode) else duration
        podcast = self.catalog.save_podcast("http://feeds.invalid/garden.xml", "The Slow Garden")
        episode_id = self.catalog.save_episode(
            podcast,
            guid,
            f"Episode {guid}",
            enclosure_url or f"http://feeds.invalid/{path.name}",
            duration=length,
            transcript_url=transcript_url,
            transcript_type=transcript_type,
        )
        self.catalog.set_download(episode_id, str(path))
        return episode_id

    def play(self, episode_id: int, position: float, playing: bool = True) -> None:
        episode = self.catalog.episode(episode_id)
        assert episode is not None
        source = episode.local_path or episode.source
        self.now = NowPlaying(source, position, episode.duration, episode_id, playing=playing)

    def seek(self, position: float) -> None:
        self.now = replace(self.now, position=position)

    def snip(self, episode_id: int, position: float) -> Highlight:
        episode = self.catalog.episode(episode_id)
        assert episode is not None
        capturer = Capturer(self.book, BEFORE, AFTER)
        highlight, _ = capturer.capture(
            NowPlaying(
                episode.source,
                position,
                episode.duration,
                episode_id,
                episode.podcast_title,
                episode.title,
            ),
            "test",
        )
        self.start()
        self.worker.notify()
        return highlight

    def start(self) -> None:
        if not self._started:
            self._started = True
            self.worker.start()

    def settled(self, highlight_id: str, timeout: float = 300.0) -> Highlight:
        """Wait until the highlight is done or failed for good, with no job left to run."""

        def final() -> Highlight | None:
            highlight = self.book.get(highlight_id)
            waiting = self.db.query(
                "SELECT count(*) FROM jobs WHERE highlight_id = ? AND status IN "
                "('queued', 'running')",
                (highlight_id,),
            )[0][0]
            if highlight is not None and highlight.status in (DONE, FAILED) and not waiting:
                return highlight
            return None

        return wait_for(final, timeout, 0.05, f"highlight {highlight_id} to settle")

    def look_ahead_step(self) -> tuple[float, float] | None:
        """Run one look-ahead job by hand; returns the span it marked transcribed."""
        job = self.queue.claim()
        assert job is not None and job.kind == LOOKAHEAD, job
        before = self.db.query("SELECT max(id) FROM transcribed_spans")[0][0] or 0
        self.lookahead.run(job)
        added = self.db.query(
            'SELECT start, "end" FROM transcribed_spans WHERE id > ? ORDER BY id', (before,)
        )
        return (added[0][0], added[0][1]) if added else None

    def look_ahead_all(self, episode_id: int, limit: int = 50) -> list[tuple[float, float]]:
        """Follow the episode and run the look-ahead until it has nothing left to do."""
        self.lookahead.follow(episode_id)
        chunks = []
        for _ in range(limit):
            if not self.waiting(LOOKAHEAD):
                return chunks
            chunk = self.look_ahead_step()
            if chunk is not None:
                chunks.append(chunk)
        raise AssertionError(f"look-ahead did not finish in {limit} steps: {chunks}")

    def waiting(self, kind: str) -> int:
        return int(
            self.db.query(
                "SELECT count(*) FROM jobs WHERE kind = ? AND status IN ('queued', 'running')",
                (kind,),
            )[0][0]
        )

    def close(self) -> None:
        if self._started:
            self.worker.stop()
        self.db.close()


@pytest.fixture
def make_stack(tmp_path: Path, whisper: LocalTranscriber) -> Iterator[Callable[..., Stack]]:
    """Build the pipeline over ``tmp_path/data``; calling it again opens the same
    database afresh, as a restarted daemon would."""
    built: list[Stack] = []

    def make(
        transcriber: Callable[[], Transcriber] | None = None,
        *,
        clips_dir: Path | None = None,
        max_attempts: int = 2,
        backoff: float = 0.05,
        # shorter than the daemon's chunks, so a minute of speech has chunk borders
        chunk_seconds: float = 30.0,
    ) -> Stack:
        if built and built[-1]._started:
            built[-1].worker.stop()
        db = Database(tmp_path / "data" / "earmark.db")
        catalog = Catalog(db)
        book = HighlightBook(db, "testbox")
        queue = JobQueue(db, max_attempts=max_attempts, backoff_seconds=backoff)
        asr = CountingTranscriber(whisper)
        pipeline = SnipPipeline(
            db,
            book,
            queue,
            catalog,
            transcriber or (lambda: asr),
            ExtractiveSummarizer(),
            clips_dir or tmp_path / "data" / "clips",
            publisher_words=PublisherTranscripts(db, catalog).ensure,
        )
        stack: Stack
        lookahead = LookAhead(
            db, queue, lambda: asr, lambda: stack.now, chunk_seconds=chunk_seconds
        )
        runners: dict[str, Runner] = {kind: pipeline.run for kind in pipeline.handlers}
        runners[LOOKAHEAD] = lookahead.run
        worker = JobWorker(queue, book, runners, idle_seconds=0.2)
        stack = Stack(db, catalog, book, queue, asr, pipeline, lookahead, worker)
        built.append(stack)
        return stack

    yield make
    for stack in built:
        stack.close()


@pytest.fixture
def stack(make_stack: Callable[..., Stack]) -> Stack:
    return make_stack()
