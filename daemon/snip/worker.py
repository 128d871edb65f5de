"""The job worker: threads that run durable jobs, most urgent first.

Heavy work (ffmpeg, ASR) runs here, never on the event loop, so a press is
captured within milliseconds while a transcription is under way. A failing
job is retried with backoff and never blocks the others. Kinds that may take
minutes (``SLOW_KINDS``: an LLM on a Pi) run on a lane of their own, so a snip's
stages never wait behind them.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections.abc import Callable

from earmark.errors import EarmarkError, GiveUp, RetryLater
from earmark.events import Event, JobFailed, JobFinished, JobStarted
from earmark.store.highlights import HighlightBook
from earmark.store.jobs import Job, JobKind, JobQueue

log = logging.getLogger(__name__)

Runner = Callable[[Job], None]
SLOW_KINDS = frozenset({JobKind.REFINE, JobKind.KEY_POINTS, JobKind.EXPORT})
# jobs whose last failure is the highlight's failure (an export that fails does not
# make the highlight any less saved)
PIPELINE_KINDS = frozenset({JobKind.CLIP, JobKind.TRANSCRIBE, JobKind.TAKEAWAYS})


class JobWorker:
    def __init__(
        self,
        queue: JobQueue,
        book: HighlightBook,
        runners: dict[str, Runner],
        announce: Callable[[Event], None] = lambda event: None,
        idle_seconds: float = 5.0,
    ) -> None:
        self.queue = queue
        self.book = book
        self.runners = runners
        self.announce = announce
        self.idle_seconds = idle_seconds
        self._stop = threading.Event()
        lanes = [
            [k for k in runners if k not in SLOW_KINDS],
            [k for k in runners if k in SLOW_KINDS],
        ]
        self._lanes = [(tuple(kinds), threading.Event()) for kinds in lanes if kinds]
        self._threads = [
            threading.Thread(target=self._run, args=lane, name=f"job-worker-{i}", daemon=True)
            for i, lane in enumerate(self._lanes)
        ]
        self.busy = False  # the snip pipeline's lane is running a job

    def start(self) -> None:
        resumed = self.queue.resume_interrupted()
        if resumed:
            log.info("jobs resumed count=%d (left running by the last stop)", resumed)
        for thread in self._threads:
            thread.start()

    def notify(self) -> None:
        for _, wake in self._lanes:
            wake.set()

    def stop(self, grace: float = 1.0) -> None:
        """Stop taking jobs; give the pipeline's lane ``grace`` seconds to finish
        a short job (a clip). A job still running then (a transcription, an LLM
        answer) is left: back in the queue, the attempt not counted, it runs again
        at the next start. Its thread is a daemon thread, walked away from safely:
        a job's result and its ``done`` are one transaction, so it is whole or absent."""
        self._stop.set()
        self.notify()
        self._threads[0].join(grace)
        try:
            left = self.queue.release_running()
        except sqlite3.Error as exc:  # a full disk: the next start resumes them anyway
            log.warning("jobs left running could not be put back (%s); the next start does", exc)
            return
        for job_id, kind in left:
            log.info("job left for the next start id=%d kind=%s", job_id, kind)

    def _run(self, kinds: tuple[str, ...], wake: threading.Event) -> None:
        stranded: set[int] = set()  # claimed by this lane when the database refused a write
        refused = False  # said once per spell of refusals, not every few seconds
        while not self._stop.is_set():
            try:
                for job_id in sorted(stranded):
                    self.queue.release(job_id)  # back in the queue, the attempt not counted
                    stranded.discard(job_id)
                self._round(kinds, wake, stranded)
                if refused:
                    log.info("the database takes writes again; jobs go on")
                    refused = False
            except sqlite3.Error as exc:
                if self._stop.is_set():
                    return  # a job walked away from at stop met the closed store
                # a full disk or a locked database: nothing can be recorded now, so
                # the job that was running goes back in the queue once it can, and we wait
                if not refused:
                    log.error("the database refused a write (%s); jobs wait and retry", exc)
                refused = True
                wake.wait(self.idle_seconds)
            except Exception:  # a bug: the worker must keep going for the other jobs
                if self._stop.is_set():
                    return
                log.exception("job worker round failed; retrying")
                wake.wait(self.idle_seconds)

    def _round(self, kinds: tuple[str, ...], wake: threading.Event, stranded: set[int]) -> None:
        job = self.queue.claim(kinds=kinds)
        if job is None:
            wake.wait(self._idle_wait())
            wake.clear()
            return
        pipeline = kinds == self._lanes[0][0]
        if pipeline:
            self.busy = True
        self.announce(JobStarted(job.id, str(job.kind)))
        try:
            self._execute(job)
        except sqlite3.Error:
            stranded.add(job.id)
            raise
        finally:
            if pipeline:
                self.busy = False
            self.announce(JobFinished(job.id, str(job.kind)))

    def _idle_wait(self) -> float:
        ready_in = self.queue.seconds_to_next()
        if ready_in is None:
            return self.idle_seconds
        return min(self.idle_seconds, max(0.05, ready_in))

    def _execute(self, job: Job) -> None:
        runner = self.runners.get(job.kind)
        if runner is None:
            self._failed(job, f"no runner for job kind '{job.kind}'", retry=False)
            return
        started = time.monotonic()
        try:
            runner(job)
            log.debug(
                "job done id=%d kind=%s seconds=%.2f", job.id, job.kind, time.monotonic() - started
            )
        except sqlite3.Error:
            raise  # the database itself: handled by the loop, the job is not at fault
        except RetryLater as exc:
            self._failed(job, str(exc), delay=exc.seconds)
        except GiveUp as exc:
            self._failed(job, str(exc), retry=False)
        except EarmarkError as exc:
            self._failed(job, str(exc))
        except Exception as exc:  # a bug in one job must not stop the others
            log.exception("job id=%d kind=%s crashed", job.id, job.kind)
            self._failed(job, f"{type(exc).__name__}: {exc}")

    def _failed(self, job: Job, error: str, retry: bool = True, delay: float | None = None) -> None:
        # a final failure and the highlight's failed status: one transaction
        book = self.book if job.kind in PIPELINE_KINDS else None
        final = self.queue.fail(job, error, retry=retry, highlight_book=book, delay=delay)
        self.announce(JobFailed(job.id, str(job.kind), job.highlight_id, error, final))
        if final:
            log.error(
                "job failed id=%d kind=%s attempts=%d: %s", job.id, job.kind, job.attempts, error
            )
        else:
            log.warning(
                "job will retry id=%d kind=%s attempt=%d: %s", job.id, job.kind, job.attempts, error
            )
