"""The job worker reacts to the speaker: a saved snip is worked on at once, and
the look-ahead follows the episode that is playing."""

from __future__ import annotations

from earmark.events import EpisodeStarted, Listener, SnipSaved
from earmark.snip.lookahead import LookAhead
from earmark.snip.worker import JobWorker


class WorkerWake(Listener):
    def __init__(self, worker: JobWorker, lookahead: LookAhead) -> None:
        self.worker = worker
        self.lookahead = lookahead

    def snip_saved(self, event: SnipSaved) -> None:
        self.worker.notify()

    def episode_started(self, event: EpisodeStarted) -> None:
        if self.lookahead.follow(event.episode_id):
            self.worker.notify()
