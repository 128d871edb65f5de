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
from earmark.store.jobs import Job, JobQueue
from earmark.transcribe.base import Transcriber, TranscribeRequest, Transcript

log = logging.getLogger(__name__)

KIND = "lookahead"
AHEAD, BEHIND, OFF = "ahead", "behind", "off"


@dataclass(frozen=True)
class Listening:
    """What the player is on now, as the look-ahead needs it."""

    episode_id: int | None
    path: str | None  # a local file; streams are not looked ahead (yet)
    position: float
    duration: float | None
    playing: bool


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
    ) -> None:
        self.db = db
        self.queue = queue
        self.transcriber = transcriber
        self.listening = listening
        self.mode = mode
        self.chunk_seconds = chunk_seconds
        self.tail_guard = tail_guard
        self.horizon = horizon

    def follow(self, episode_id: int) -> bool:
        """Start looking ahead in ``episode_id`` unless a job for it is waiting."""
        if self.mode == OFF:
            return False
        with self.db.transaction() as conn:
            waiting = conn.execute(
                "SELECT 1 FROM jobs WHERE kind = ? AND episode_id = ? "
                "AND status IN ('queued', 'running')",
                (KIND, episode_id),
            ).fetchone()
            if waiting:
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
        on_it = now.playing and now.episode_id == job.episode_id and bool(now.path)
        if on_it and now.duration is None:
            self._again(job, delay=1.0)  # still loading: the length is not known yet
            return
        chunk = self._plan(now) if on_it else None
        if chunk is None:
            with self.db.transaction() as conn:
                self.queue.finish(conn, job)  # follow() starts it again on the next play
            return
        start, end, settled = chunk
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
