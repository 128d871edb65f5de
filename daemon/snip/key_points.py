"""Key points of an episode, once the look-ahead has transcribed it to its end.

The look-ahead queues one ``key_points`` job per episode; it runs on the worker's
slow lane (an hour of talk is some 600 sentences to embed), stores the points
and publishes them, retained, on ``episode/<id>`` for the dashboard.
"""

from __future__ import annotations

import logging
import sqlite3

from earmark.library.sanitize import plain_text
from earmark.payloads import EpisodePayload
from earmark.snip.stages import SnipStore
from earmark.snip.stages.takeaways import DESCRIPTION_CHARS, timed_sentences
from earmark.store import key_points as stored_points
from earmark.store.jobs import LOOKAHEAD_PRIORITY, Job, JobKind, waiting_for_episode
from earmark.store.jobs import enqueue as enqueue_job
from earmark.takeaways import Summarizer

log = logging.getLogger(__name__)

KIND = JobKind.KEY_POINTS


def queue_key_points(conn: sqlite3.Connection, episode_id: int) -> bool:
    """Queue the episode's key points unless they are made or waiting (in the
    caller's transaction); True when queued."""
    if stored_points.made(conn, episode_id) or waiting_for_episode(conn, KIND, episode_id):
        return False
    enqueue_job(conn, KIND, episode_id=episode_id, priority=LOOKAHEAD_PRIORITY)
    return True


class EpisodeKeyPoints:
    def __init__(self, store: SnipStore, summarizer: Summarizer) -> None:
        self.store = store
        self.summarizer = summarizer

    def run(self, job: Job) -> None:
        store = self.store
        episode = store.catalog.episode(job.episode_id) if job.episode_id else None
        found = []
        if episode is not None:
            sentences = timed_sentences(store, episode.id, 0.0, float("inf"))
            context = " ".join((episode.title, plain_text(episode.description, DESCRIPTION_CHARS)))
            found = [
                {"text": p.text, "at": p.at} for p in self.summarizer.key_points(sentences, context)
            ]
        with store.db.transaction() as conn:
            if episode is not None and found:
                payload = EpisodePayload(
                    episode_id=episode.id,
                    device_id=store.book.device_id,
                    podcast=episode.podcast_title,
                    episode=episode.title,
                    guid=episode.guid,
                    key_points=found,
                    summarizer=self.summarizer.name,
                )
                stored_points.save(conn, episode.id, self.summarizer.name, found, payload.to_json())
            store.queue.finish(conn, job)
        log.info("episode key points episode=%s points=%d", job.episode_id, len(found))
