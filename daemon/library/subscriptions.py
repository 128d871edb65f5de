"""Keep the stored library in step with the subscribed feeds.

Fetch a feed, store its podcast and episodes, their chapters, and download the
audio so snips can be cut from a local file. One broken feed or episode is
logged in one line and skipped; the others go on.
"""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path

from earmark.errors import EarmarkError
from earmark.library.chapters import fetch_chapters
from earmark.library.download import download
from earmark.library.feeds import Feed, FeedEpisode, fetch_feed
from earmark.store.catalog import Catalog

log = logging.getLogger(__name__)

# publisher transcript types earmark reads, best first
TIMED_TRANSCRIPTS = ("application/json", "text/vtt", "application/x-subrip", "application/srt")


class Subscriptions:
    def __init__(
        self, catalog: Catalog, downloads: Path, download_audio: bool = True, timeout: float = 30.0
    ) -> None:
        self.catalog = catalog
        self.downloads = downloads
        self.download_audio = download_audio
        self.timeout = timeout

    def refresh(self, feed_url: str, stored_as: str | None = None) -> int:
        """Fetch ``feed_url`` and store what it holds; returns the podcast id.

        ``stored_as`` keeps one identity for a feed whose address changes (the
        demo feed is served on a new port each run)."""
        feed = fetch_feed(feed_url, timeout=self.timeout)
        podcast_id = self.catalog.save_podcast(
            stored_as or feed.url,
            feed.title,
            feed.author,
            feed.description,
            feed.image,
            language=feed.language,
        )
        for item in feed.episodes:
            try:
                self._store_episode(feed, podcast_id, item, stored_as)
            except EarmarkError as exc:
                log.warning("episode skipped feed=%s guid=%s: %s", feed_url, item.guid, exc)
        log.info("feed refreshed title=%r episodes=%d", feed.title, len(feed.episodes))
        return podcast_id

    def _store_episode(
        self, feed: Feed, podcast_id: int, item: FeedEpisode, stored_as: str | None
    ) -> None:
        transcript = next(
            (t for kind in TIMED_TRANSCRIPTS for t in item.transcripts if t.type == kind), None
        )
        episode_id = self.catalog.save_episode(
            podcast_id,
            item.guid,
            item.title,
            item.enclosure_url,
            enclosure_type=item.enclosure_type,
            description=item.description,
            published_at=item.published.isoformat() if item.published else None,
            duration=item.duration,
            chapters_url=item.chapters_url,
            transcript_url=transcript.url if transcript else None,
            transcript_type=transcript.type if transcript else None,
        )
        stored = self.catalog.episode(episode_id)
        if item.chapters_url and stored is not None and not stored.chapters:
            chapters = fetch_chapters(item.chapters_url, timeout=self.timeout)
            self.catalog.set_chapters(episode_id, [(c.start, c.title) for c in chapters])
        if (
            self.download_audio
            and stored is not None
            and not (stored.local_path and Path(stored.local_path).exists())
        ):
            folder = self.downloads / _folder_name(stored_as or feed.url)
            path = download(item.enclosure_url, folder, timeout=self.timeout)
            self.catalog.set_download(episode_id, str(path))
            log.info("episode downloaded title=%r path=%s", item.title, path)


def _folder_name(feed_url: str) -> str:
    return hashlib.sha256(feed_url.encode()).hexdigest()[:12]
