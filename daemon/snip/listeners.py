"""The job worker reacts to the speaker: a saved snip is worked on at once, and
the look-ahead follows the episode that is playing."""

from __future__ import annotations

from earmark.events import EpisodeStarted, Listener, SnipSaved
from earmark.library.sources import is_stream
from earmark.playback import Playback
from earmark.snip.lookahead import Listening, LookAhead
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


def listening(playback: Playback) -> Listening:
    """What plays now, as the look-ahead needs it (called on the worker thread)."""
    state = playback.snapshot()
    local = state.source if state.source and not is_stream(state.source) else None
    cached = playback.cached() if local is None else ()
    return Listening(
        state.episode_id,
        local,
        state.position,
        state.duration,
        state.status == "playing",
        cached,
    )
