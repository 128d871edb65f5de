"""Bring an episode's publisher transcript (Podcasting 2.0) into the store.

Stored as transcript segments with source "publisher" and marked transcribed
over the stretch it covers, so snips there read it instead of running ASR.
Fetched once per episode; a failure is logged in one line and the snip falls
back to the next source.
"""

from __future__ import annotations

import logging
import threading

from earmark.errors import EarmarkError
from earmark.library.download import fetch_bytes
from earmark.library.transcripts import SOURCE, TranscriptFormatError, parse_transcript
from earmark.store import segments
from earmark.store.catalog import Catalog
from earmark.store.database import Database

log = logging.getLogger(__name__)


class PublisherTranscripts:
    def __init__(self, db: Database, catalog: Catalog, timeout: float = 30.0) -> None:
        self.db = db
        self.catalog = catalog
        self.timeout = timeout
        self._tried: set[int] = set()
        self._lock = threading.Lock()

    def ensure(self, episode_id: int) -> bool:
        """Load the episode's publisher transcript if it has one; True if stored."""
        with self._lock:
            if episode_id in self._tried:
                return self._stored(episode_id)
            self._tried.add(episode_id)
        if self._stored(episode_id):
            return True
        episode = self.catalog.episode(episode_id)
        if episode is None or not episode.transcript_url or not episode.transcript_type:
            return False
        try:
            # the URL comes from a feed: http(s) only
            body = fetch_bytes(episode.transcript_url, timeout=self.timeout, allow_file=False)
            transcript = parse_transcript(body, episode.transcript_type)
        except (EarmarkError, TranscriptFormatError) as exc:
            log.warning("publisher transcript unusable episode=%r: %s", episode.title, exc)
            return False
        if not transcript.segments:
            return False
        with self.db.transaction() as conn:
            segments.save(conn, episode_id, transcript)
            segments.mark_transcribed(
                conn,
                episode_id,
                transcript.segments[0].start,
                transcript.segments[-1].end,
                SOURCE,
            )
        log.info(
            "publisher transcript stored episode=%r segments=%d",
            episode.title,
            len(transcript.segments),
        )
        return True

    def _stored(self, episode_id: int) -> bool:
        return segments.has_source(self.db, episode_id, SOURCE)
