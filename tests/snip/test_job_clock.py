"""Job timing survives the wall clock jumping a year either way: backoffs keep
their order and their length, while the speaker runs and across a restart."""

from __future__ import annotations

from pathlib import Path

from earmark.store.database import Database
from earmark.store.jobs import JobClock, JobKind, JobQueue, enqueue

YEAR = 365 * 24 * 3600.0


class Clocks:
    """A wall clock a test can jump, and a monotonic one it advances."""

    def __init__(self) -> None:
        self.wall_time = 1_800_000_000.0
        self.mono_time = 1000.0

    def wall(self) -> float:
        return self.wall_time

    def monotonic(self) -> float:
        return self.mono_time

    def advance(self, seconds: float) -> None:
        self.wall_time += seconds
        self.mono_time += seconds


def _queue(tmp_path: Path, clocks: Clocks) -> JobQueue:
    db = Database(tmp_path / "earmark.db")
    return JobQueue(
        db, max_attempts=5, backoff_seconds=10.0, clock=JobClock(clocks.wall, clocks.monotonic)
    )


def _two_failed(queue: JobQueue) -> tuple[int, int]:
    with queue.db.transaction() as conn:
        first = enqueue(conn, JobKind.CLIP, clock=queue.clock)
        second = enqueue(conn, JobKind.CLIP, clock=queue.clock)
    for _ in range(2):
        job = queue.claim()
        assert job is not None
        queue.fail(job, "try again", delay=10.0 if job.id == first else 20.0)
    return first, second


def _ready_ids(queue: JobQueue) -> list[int]:
    ready = []
    while (job := queue.claim()) is not None:
        ready.append(job.id)
    return ready


def test_backoff_does_not_fire_early_when_the_clock_jumps_forward(tmp_path: Path) -> None:
    clocks = Clocks()
    queue = _queue(tmp_path, clocks)
    first, second = _two_failed(queue)
    clocks.wall_time += YEAR
    assert _ready_ids(queue) == []
    clocks.advance(10.5)
    assert _ready_ids(queue) == [first]
    clocks.advance(10.0)
    assert _ready_ids(queue) == [second]


def test_backoff_is_not_delayed_when_the_clock_jumps_back(tmp_path: Path) -> None:
    clocks = Clocks()
    queue = _queue(tmp_path, clocks)
    first, second = _two_failed(queue)
    clocks.wall_time -= YEAR
    seconds = queue.seconds_to_next()
    assert seconds is not None and 9.5 < seconds <= 10.0
    clocks.advance(10.5)
    assert _ready_ids(queue) == [first]
    clocks.advance(10.0)
    assert _ready_ids(queue) == [second]


def test_a_restart_after_the_clock_went_back_waits_no_longer_than_asked(tmp_path: Path) -> None:
    clocks = Clocks()
    first, second = _two_failed(_queue(tmp_path, clocks))
    clocks.wall_time -= YEAR  # the next start reads a wall clock a year behind
    again = _queue(tmp_path, clocks)
    again.resume_interrupted()
    seconds = again.seconds_to_next()
    assert seconds is not None and 9.5 < seconds <= 10.0
    clocks.advance(10.5)
    assert _ready_ids(again) == [first]
    clocks.advance(10.0)
    assert _ready_ids(again) == [second]


def test_a_job_left_running_at_stop_is_queued_without_losing_an_attempt(tmp_path: Path) -> None:
    queue = _queue(tmp_path, Clocks())
    with queue.db.transaction() as conn:
        job_id = enqueue(conn, JobKind.TRANSCRIBE, clock=queue.clock)
    assert queue.claim() is not None
    assert queue.release_running() == [(job_id, "transcribe")]
    job = queue.claim()
    assert job is not None and job.id == job_id and job.attempts == 1


def test_a_restart_after_the_clock_went_forward_keeps_the_order(tmp_path: Path) -> None:
    """A year ahead at the next start: the waits are long over by the new clock,
    so both jobs are ready at once, in the order their backoffs would have freed them."""
    clocks = Clocks()
    first, second = _two_failed(_queue(tmp_path, clocks))
    clocks.wall_time += YEAR
    again = _queue(tmp_path, clocks)
    again.resume_interrupted()
    assert _ready_ids(again) == [first, second]


def test_a_year_forward_and_back_while_a_job_waits_changes_nothing(tmp_path: Path) -> None:
    clocks = Clocks()
    queue = _queue(tmp_path, clocks)
    first, second = _two_failed(queue)
    clocks.advance(5.0)
    clocks.wall_time += YEAR
    assert _ready_ids(queue) == []
    clocks.wall_time -= 2 * YEAR  # and back past where it was
    seconds = queue.seconds_to_next()
    assert seconds is not None and 4.5 < seconds <= 5.0
    clocks.advance(5.5)
    assert _ready_ids(queue) == [first]
    clocks.advance(10.0)
    assert _ready_ids(queue) == [second]
