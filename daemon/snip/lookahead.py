"""Transcribe the playing episode ahead of the listener.

A podcast is recorded in advance, so while it plays a low-priority job
transcribes the stretch just ahead of the play head into the episode's stored
transcript; a press usually finds its words already on disk. The job does one
chunk and queues itself again, so snip jobs (higher priority) always get the
worker next; a chunk under way gives up the worker as soon as another job is
waiting (it is cancelled between the transcriber's segments and queued again).

The job follows the listener for the whole episode: when it is ``horizon``
seconds ahead it waits until the play head has moved on (or a seek left a gap)
and goes on, and it ends only when the episode is transcribed, paused or left.

Every chunk border lies in a pause, the first one at the play head included:
the audio around a border is decoded and its quiet stretches found, and the
border goes to the middle of one, so no word is ever cut in two. After a seek,
a chunk that runs into a stretch transcribed before stops at its start, so
nothing is transcribed twice.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from earmark.player.state import NowPlaying
from earmark.snip.key_points import queue_key_points
from earmark.store import jobs as job_table
from earmark.store import segments
from earmark.store.catalog import Catalog
from earmark.store.database import Database
from earmark.store.jobs import Job, JobKind, JobQueue
from earmark.transcribe.base import (
    Transcriber,
    TranscribeRequest,
    Transcript,
    TranscriptionCancelled,
    cannot_transcribe,
)
from earmark.transcribe.pcm import SAMPLE_RATE, read_pcm

log = logging.getLogger(__name__)

KIND = JobKind.LOOKAHEAD
AHEAD, BEHIND, OFF = "ahead", "behind", "off"

FRAME = 0.01  # seconds of audio per loudness measurement
MIN_PAUSE = 0.15  # a quieter stretch this long is a pause, not a stop consonant


@dataclass(frozen=True)
class _Chunk:
    start: float
    end: float
    # the end is fixed already: the episode's end, or the start of a stretch
    # transcribed before (after a seek)
    settled: bool
    following: bool = False  # the end is the start of a stretch transcribed before


class LookAhead:
    def __init__(
        self,
        db: Database,
        queue: JobQueue,
        transcriber: Callable[[], Transcriber],
        listening: Callable[[], NowPlaying],
        mode: str = AHEAD,
        chunk_seconds: float = 45.0,
        horizon: float = 600.0,
        dump: Callable[[float, float, Path], bool] | None = None,
        scratch: Path | None = None,
        min_stream_chunk: float = 15.0,
        recheck: float = 10.0,
        reach: float = 5.0,
    ) -> None:
        """``dump`` writes a cached stretch of the playing stream to a file (the
        player's dump-cache); without it streams are not looked ahead.
        ``recheck`` is the longest wait, once ``horizon`` ahead, before looking
        where the play head is again; ``reach`` how far a border may move to
        find a pause."""
        self.db = db
        self.queue = queue
        self.transcriber = transcriber
        self.listening = listening
        self.mode = mode
        self.chunk_seconds = chunk_seconds
        self.horizon = horizon
        self.dump = dump
        self.scratch = scratch
        self.min_stream_chunk = min_stream_chunk
        self.recheck = recheck
        self.reach = reach

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

    def next_chunk(self, now: NowPlaying) -> tuple[float, float] | None:
        """The stretch to transcribe next (before its borders move into pauses),
        or None when there is nothing to do now."""
        plan = self._plan(now)
        return None if plan is None else (plan.start, plan.end)

    def _plan(self, now: NowPlaying) -> _Chunk | None:
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
                    return _Chunk(start, following, True, following=True)
                if self.mode == BEHIND and end > max(now.position, start + 1.0):
                    end, settled = max(now.position, start + 1.0), False
                return _Chunk(start, end, settled)
        return None

    def _idle_wait(self, now: NowPlaying) -> float | None:
        """With nothing to do now: how long to wait before looking again, or None
        when the episode is transcribed to its end."""
        assert now.episode_id is not None and now.duration is not None
        covered = segments.spans(self.db, now.episode_id)
        if _first_gap(covered, 0.0, now.duration) >= now.duration - 0.05:
            return None
        due_in = self.recheck
        if self.mode == AHEAD:
            # the next chunk is due when the play head is within ``horizon`` of it
            frontier = _first_gap(covered, now.position, now.duration)
            due_in = frontier - self.horizon - now.position
        return min(max(due_in, 1.0), self.recheck)

    def run(self, job: Job) -> None:
        now = self.listening()
        streaming = now.path is None and self.dump is not None and self.scratch is not None
        on_it = now.playing and now.episode_id == job.episode_id and (bool(now.path) or streaming)
        language = self._language(job.episode_id) if on_it else None
        refusal = cannot_transcribe(self.transcriber(), language) if on_it else None
        if refusal is not None:
            # invented words help no one: the snips of this podcast say why instead
            log.info("look-ahead skips episode=%s: %s", job.episode_id, refusal)
            self._finish(job)
            return
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
            # paused or left: follow() starts it again on the next play
            wait = self._idle_wait(now) if on_it else None
            if wait is None:
                self._finish(job, transcribed=on_it)
            else:  # ahead by ``horizon``: go on as the head moves
                self._again(job, delay=wait)
            return
        episode_id = job.episode_id or 0
        try:
            if streaming:
                heard = self._hear_cached(episode_id, chunk, now, language)
            else:
                heard = self._hear_file(Path(now.path or ""), chunk, now.duration or 0.0, language)
        except TranscriptionCancelled:
            log.debug("look-ahead episode=%s yields to a waiting job", job.episode_id)
            self._again(job, delay=0.0)
            return
        if heard is None:
            self._again(job, delay=2.0)
            return
        transcript, start, end = heard
        with self.db.transaction() as conn:
            segments.save(conn, episode_id, transcript)
            segments.mark_transcribed(conn, episode_id, start, end, transcript.source)
            self.queue.finish(conn, job)
            job_table.enqueue(
                conn, KIND, episode_id=job.episode_id, priority=job_table.LOOKAHEAD_PRIORITY
            )
        log.debug(
            "look-ahead episode=%s %.1f-%.1f segments=%d",
            job.episode_id,
            start,
            end,
            len(transcript.segments),
        )

    def _job_waiting(self) -> bool:
        """True when another job is ready: the chunk under way gives way to it."""
        ready_in = self.queue.seconds_to_next()
        return ready_in is not None and ready_in <= 0

    def _language(self, episode_id: int | None) -> str | None:
        episode = Catalog(self.db).episode(episode_id) if episode_id else None
        return episode.language if episode else None

    def _hear_file(
        self, path: Path, chunk: _Chunk, duration: float, language: str | None
    ) -> tuple[Transcript, float, float]:
        lo = max(0.0, chunk.start - self.reach)
        hi = min(duration, chunk.end + (self.reach if chunk.following else 0.0))
        pcm = read_pcm(TranscribeRequest(audio=path, start=lo, end=max(hi, lo + 0.1)))
        start, end = self._borders(chunk, Loudness(pcm, lo))
        if self._job_waiting():
            raise TranscriptionCancelled("a job is waiting")
        request = TranscribeRequest(
            audio=path, start=start, end=end, language=language, cancelled=self._job_waiting
        )
        return self.transcriber().transcribe(request), start, end

    def _hear_cached(
        self, episode_id: int, chunk: _Chunk, now: NowPlaying, language: str | None
    ) -> tuple[Transcript, float, float] | None:
        assert self.dump is not None and self.scratch is not None
        held_from, held_to = next(
            ((a, b) for a, b in now.cached if a <= chunk.start + 0.05 < b),
            (chunk.start, chunk.end),
        )
        lo = max(held_from, chunk.start - self.reach, 0.0)
        self.scratch.mkdir(parents=True, exist_ok=True)
        part = self.scratch / f"lookahead-{episode_id}.mkv"
        try:
            # never past what the cache holds: asking for more makes mpv fetch again
            if not self.dump(lo, min(chunk.end, held_to), part):
                return None
            start, end = self._borders(chunk, Loudness(read_pcm(TranscribeRequest(part)), lo))
            if self._job_waiting():
                raise TranscriptionCancelled("a job is waiting")
            request = TranscribeRequest(
                audio=part,
                start=start - lo,
                end=end - lo,
                language=language,
                cancelled=self._job_waiting,
            )
            return self.transcriber().transcribe(request).shifted(lo), start, end
        finally:
            part.unlink(missing_ok=True)

    def _borders(self, chunk: _Chunk, loud: Loudness) -> tuple[float, float]:
        """The chunk's start and end moved into pauses."""
        start = chunk.start
        if start <= self.reach and loud.offset <= 0.0:
            start = 0.0  # the episode's first seconds: leave no sliver before them
        elif not loud.in_pause(start):
            # the longest pause within reach: most often where a sentence begins
            found = loud.pause_near(start - self.reach, start, latest=True, longest=True)
            start = _or(found, start)
        end = chunk.end
        if chunk.following:
            if not loud.in_pause(end):  # a snip's stretch: overlap it up to a pause
                end = _or(loud.pause_near(end, end + self.reach, latest=False), end)
        elif not chunk.settled:
            floor = start + min(self.chunk_seconds, end - start) / 2
            end = _or(loud.pause_near(floor, end, latest=True, longest=True), end)
        if end <= start + 0.5:
            end = chunk.end  # no pause that leaves a chunk: keep the plan's end
        return round(start, 3), round(end, 3)

    def _cached_part(self, chunk: _Chunk, now: NowPlaying) -> _Chunk | None:
        """The chunk cut to what the stream's cache holds; None if that is too little."""
        held = next((b for a, b in now.cached if a <= chunk.start + 0.05 < b), None)
        if held is None:
            return None
        if now.duration is not None and held >= now.duration - 1.0:
            held = now.duration  # the cache holds the stream to its end (its last packet)
        if held < chunk.end:
            chunk = _Chunk(chunk.start, held, False)
        at_end = now.duration is not None and chunk.end >= now.duration - 0.05
        if chunk.end - chunk.start < self.min_stream_chunk and not at_end:
            return None
        return chunk

    def _finish(self, job: Job, transcribed: bool = False) -> None:
        """Done with the episode for now; ``transcribed``: to its end, so its key
        points can be made."""
        with self.db.transaction() as conn:
            self.queue.finish(conn, job)
            if transcribed and job.episode_id is not None:
                queue_key_points(conn, job.episode_id)

    def _again(self, job: Job, delay: float) -> None:
        with self.db.transaction() as conn:
            self.queue.finish(conn, job)
            job_table.enqueue(
                conn,
                KIND,
                episode_id=job.episode_id,
                priority=job_table.LOOKAHEAD_PRIORITY,
                delay=delay,
                clock=self.queue.clock,
            )


class Loudness:
    """How loud decoded audio is, 10 ms at a time, and where its pauses are."""

    def __init__(self, pcm: bytes, offset: float) -> None:
        self.offset = offset
        per_frame = int(SAMPLE_RATE * FRAME)
        samples = np.frombuffer(pcm, dtype="<i2").astype(np.float32) / 32768.0
        count = len(samples) // per_frame
        frames = samples[: count * per_frame].reshape(count, per_frame)
        self.db = 10.0 * np.log10(np.mean(frames * frames, axis=1) + 1e-12)
        # quiet = well below the speech, relative to this stretch's own floor
        # (digital silence, a hiss, a room), never louder than -35 dBFS
        floor = float(np.percentile(self.db, 10)) if count else -120.0
        quiet = self.db < min(max(floor + 20.0, -60.0), -35.0)
        edges = np.flatnonzero(np.diff(np.concatenate(([0], quiet.astype(np.int8), [0]))))
        self.pauses = [
            (offset + a * FRAME, offset + b * FRAME)
            for a, b in zip(edges[0::2], edges[1::2], strict=True)
            if (b - a) * FRAME >= MIN_PAUSE
        ]

    def in_pause(self, at: float) -> bool:
        return any(a <= at <= b for a, b in self.pauses)

    def pause_near(
        self, lo: float, hi: float, *, latest: bool, longest: bool = False
    ) -> float | None:
        """The middle of a pause whose middle lies in [lo, hi]: the latest (or
        earliest), or the longest (the latest of equals); failing any, the
        quietest 0.2 s there. None when [lo, hi] holds no audio."""
        inside = [(a, b) for a, b in self.pauses if lo <= (a + b) / 2 <= hi]
        if inside:
            if longest:
                a, b = max(inside, key=lambda p: (round(p[1] - p[0], 2), p[0]))
            else:
                a, b = inside[-1] if latest else inside[0]
            return (a + b) / 2
        first = max(0, int((lo - self.offset) / FRAME))
        last = min(len(self.db), int((hi - self.offset) / FRAME))
        if last - first < 1:
            return None
        window = min(20, last - first)
        smooth = np.convolve(self.db[first:last], np.ones(window) / window, mode="valid")
        quietest = first + int(np.argmin(smooth)) + window / 2
        return self.offset + quietest * FRAME


def _or(found: float | None, otherwise: float) -> float:
    return otherwise if found is None else found


def _first_gap(covered: list[tuple[float, float]], at: float, duration: float) -> float:
    point = at
    for a, b in covered:
        if a <= point + 0.05 and b > point:
            point = b
    return min(point, duration)
