"""Transcribe the playing episode ahead of the listener.

A podcast is recorded in advance, so while it plays a low-priority job
transcribes the stretch just ahead of the play head into the episode's stored
transcript; a press usually finds its words already on disk. The job does one
chunk and queues itself again, so snip jobs (higher priority) always get the
worker next. Each chunk keeps only the segments that end before its last
seconds and the next chunk starts where they end: chunk borders fall in the
pauses between phrases, never inside a word. After a seek, a chunk that runs
into a stretch transcribed before stops at its start, so nothing is
transcribed twice.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from earmark.store import jobs as job_table
from earmark.store import segments
from earmark.store.database import Database
from earmark.store.jobs import Job, JobKind, JobQueue
from earmark.transcribe.base import Transcriber, TranscribeRequest, Transcript

log = logging.getLogger(__name__)

KIND = JobKind.LOOKAHEAD
AHEAD, BEHIND, OFF = "ahead", "behind", "off"


@dataclass(frozen=True)
class Listening:
    """What the player is on now, as the look-ahead needs it."""

    episode_id: int | None
    path: str | None  # a local file; None for a stream
    position: float
    duration: float | None
    playing: bool
    # for a stream: the stretches mpv's demuxer cache holds, which is all the
    # look-ahead may read (it never fetches the stream a second time)
    cached: tuple[tuple[float, float], ...] = ()


class LookAhead:
    def __init__(
        self,
        db: Database,
        queue: JobQueue,
        transcriber: Callable[[], Transcriber],
        listening: Callable[[], Listening],
        mode: str = AHEAD,
        chunk_seconds: float = 45.0,
        tail_guard: float = 2.0,
        horizon: float = 600.0,
        dump: Callable[[float, float, Path], bool] | None = None,
        scratch: Path | None = None,
        min_stream_chunk: float = 15.0,
    ) -> None:
        """``dump`` writes a cached stretch of the playing stream to a file (the
        player's dump-cache); without it streams are not looked ahead."""
        self.db = db
        self.queue = queue
        self.transcriber = transcriber
        self.listening = listening
        self.mode = mode
        self.chunk_seconds = chunk_seconds
        self.tail_guard = tail_guard
        self.horizon = horizon
        self.dump = dump
        self.scratch = scratch
        self.min_stream_chunk = min_stream_chunk

    def follow(self, episode_id: int) -> bool:
        """Start looking ahead in ``episode_id`` unless a job for it is waiting."""
        if self.mode == OFF:
            return False
        with self.db.transaction() as conn:
            if job_table.waiting_for_episode(conn, KIND, episode_id):
                return False
            job_table.enqueue(
                conn, KIND, episode_id=episode_id, priority=job_table.LOOKAHEAD_PRIORITY
            )
        return True

    def next_chunk(self, now: Listening) -> tuple[float, float] | None:
        """The stretch to transcribe next, or None when there is nothing to do."""
        plan = self._plan(now)
        return None if plan is None else (plan[0], plan[1])

    def _plan(self, now: Listening) -> tuple[float, float, bool] | None:
        """The next chunk, and whether its end is settled already: the episode's
        end, or the start of a stretch transcribed before (after a seek), which
        the chunk stops at so that nothing is transcribed twice."""
        if now.episode_id is None or now.duration is None or now.duration <= 0:
            return None
        covered = segments.spans(self.db, now.episode_id)
        candidates: list[float] = []
        if self.mode == AHEAD:
            candidates.append(_first_gap(covered, now.position, now.duration))
        candidates.append(_first_gap(covered, 0.0, now.duration))
        for start in candidates:
            limit = now.position if self.mode == BEHIND else now.position + self.horizon
            if start < now.duration - 0.05 and start < limit:
                end = min(start + self.chunk_seconds, now.duration)
                following = next((a for a, _ in covered if a > start + 0.05), None)
                settled = end >= now.duration - 0.05
                if following is not None and following <= end:
                    end, settled = following, True
                if self.mode == BEHIND and end > max(now.position, start + 1.0):
                    end, settled = max(now.position, start + 1.0), False
                return start, end, settled
        return None

    def run(self, job: Job) -> None:
        now = self.listening()
        streaming = now.path is None and self.dump is not None and self.scratch is not None
        on_it = now.playing and now.episode_id == job.episode_id and (bool(now.path) or streaming)
        if on_it and now.duration is None:
            self._again(job, delay=1.0)  # still loading: the length is not known yet
            return
        chunk = self._plan(now) if on_it else None
        if chunk is not None and streaming:
            chunk = self._cached_part(chunk, now)
            if chunk is None:
                self._again(job, delay=2.0)  # the cache has not got there yet
                return
        if chunk is None:
            with self.db.transaction() as conn:
                self.queue.finish(conn, job)  # follow() starts it again on the next play
            return
        start, end, settled = chunk
        if streaming:
            transcript = self._transcribe_cached(job.episode_id or 0, start, end)
            if transcript is None:
                self._again(job, delay=2.0)
                return
        else:
            transcript = self.transcriber().transcribe(
                TranscribeRequest(audio=Path(now.path or ""), start=start, end=end)
            )
        kept, reached = _keep_settled(transcript, end, self.tail_guard, settled)
        with self.db.transaction() as conn:
            segments.save(conn, job.episode_id or 0, kept)
            segments.mark_transcribed(conn, job.episode_id or 0, start, reached, kept.source)
            self.queue.finish(conn, job)
            job_table.enqueue(
                conn, KIND, episode_id=job.episode_id, priority=job_table.LOOKAHEAD_PRIORITY
            )
        log.debug(
            "look-ahead episode=%s %.1f-%.1f segments=%d",
            job.episode_id,
            start,
            reached,
            len(kept.segments),
        )

    def _cached_part(
        self, chunk: tuple[float, float, bool], now: Listening
    ) -> tuple[float, float, bool] | None:
        """The chunk cut to what the stream's cache holds; None if that is too little."""
        start, end, settled = chunk
        held = next((b for a, b in now.cached if a <= start + 0.05 < b), None)
        if held is None:
            return None
        if held < end:
            end, settled = held, False
        at_end = now.duration is not None and end >= now.duration - 0.05
        if end - start < self.min_stream_chunk and not at_end:
            return None
        return start, end, settled

    def _transcribe_cached(self, episode_id: int, start: float, end: float) -> Transcript | None:
        assert self.dump is not None and self.scratch is not None
        self.scratch.mkdir(parents=True, exist_ok=True)
        part = self.scratch / f"lookahead-{episode_id}.mkv"
        try:
            if not self.dump(start, end, part):
                return None
            heard = self.transcriber().transcribe(TranscribeRequest(audio=part))
            return heard.shifted(start)
        finally:
            part.unlink(missing_ok=True)

    def _again(self, job: Job, delay: float) -> None:
        with self.db.transaction() as conn:
            self.queue.finish(conn, job)
            job_table.enqueue(
                conn,
                KIND,
                episode_id=job.episode_id,
                priority=job_table.LOOKAHEAD_PRIORITY,
                delay=delay,
            )


def _first_gap(covered: list[tuple[float, float]], at: float, duration: float) -> float:
    point = at
    for a, b in covered:
        if a <= point + 0.05 and b > point:
            point = b
    return min(point, duration)


def _keep_settled(
    transcript: Transcript, end: float, guard: float, final: bool
) -> tuple[Transcript, float]:
    """The segments that end before the chunk's last ``guard`` seconds, and how far
    they settle the transcript (a segment cut by the chunk's end is left for the next)."""
    if final:
        return transcript, end
    settled = tuple(s for s in transcript.segments if s.end <= end - guard)
    if settled:
        reached = settled[-1].end
    elif transcript.segments:
        reached = max(transcript.segments[0].start - 0.1, end - guard - 0.1)
        reached = min(reached, transcript.segments[0].start)
        if reached <= 0:
            reached = end - guard
    else:
        reached = end - guard  # silence: nothing was said here
    kept = Transcript(settled, transcript.language, transcript.model, transcript.source)
    return kept, max(reached, 0.0)
