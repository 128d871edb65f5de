"""The library as the speaker's commands see it: subscribe, unsubscribe, list
podcasts, episodes and chapters, refresh, OPML in and out, gPodder sync.

Built from config by the composition root; the refresher is its task, and the
gPodder sync another when ``gpodder.enabled``. What reaches the network runs off
the loop; the rest reads the store.
"""

from __future__ import annotations

import asyncio
import logging
import urllib.parse
from collections.abc import Callable
from pathlib import Path
from typing import Any

from earmark.config.model import Config
from earmark.errors import EarmarkError
from earmark.events import Event, LibraryChanged
from earmark.library.download import fetch_bytes
from earmark.library.downloads import Downloads
from earmark.library.gpodder_library import STATE_FILE, GpodderTask, StoredLibrary
from earmark.library.opml import OpmlFeed, read_opml, write_opml
from earmark.library.publisher import PublisherTranscripts
from earmark.library.refresher import DEMO_FEED_ID, Refresher
from earmark.library.subscriptions import Subscriptions
from earmark.store.catalog import Catalog, StoredEpisode
from earmark.store.database import Database
from earmark.store.podcasts import Podcasts, StoredPodcast
from earmark.sync.gpodder import SyncReport

log = logging.getLogger(__name__)

Reply = dict[str, Any]


class LibraryError(EarmarkError):
    """A library command that names nothing, or too much."""


class Library:
    def __init__(
        self,
        config: Config,
        db: Database,
        catalog: Catalog,
        announce: Callable[[Event], None],
        playing: Callable[[], int | None],
    ) -> None:
        settings, data_dir = config.library, config.data_dir
        self.catalog = catalog
        # the publisher's transcripts: fetched with a download, read by the snip pipeline
        self.transcripts = PublisherTranscripts(db, catalog)
        self.podcasts = Podcasts(db)
        self.announce = announce
        self.subscriptions = Subscriptions(
            db, catalog, self.podcasts, settings, scratch=data_dir / "tmp"
        )
        self.downloads = Downloads(
            db, catalog, settings, data_dir / "episodes", playing, self.transcripts
        )
        self.refresher = Refresher(
            settings, self.subscriptions, self.podcasts, self.downloads, data_dir, announce
        )
        self.gpodder: GpodderTask | None = None
        if config.gpodder.enabled:
            self.gpodder = GpodderTask(
                config.gpodder,
                StoredLibrary(catalog, self.podcasts),
                data_dir / STATE_FILE,
                announce,
                self.refresher.wake,
            )

    async def run(self, on_ready: Callable[[], None]) -> None:
        syncing = None
        if self.gpodder is not None:
            syncing = asyncio.get_running_loop().create_task(self.gpodder.run())
        try:
            await self.refresher.run(on_ready)
        finally:
            if syncing is not None:
                syncing.cancel()

    def stop(self) -> None:
        self.refresher.stop()
        if self.gpodder is not None:
            self.gpodder.stop()

    async def sync_gpodder(self) -> Reply:
        """Sync with the gPodder account now."""
        if self.gpodder is None:
            raise LibraryError("gPodder sync is off: set gpodder.enabled (see docs/gpodder.md)")
        report = await self.gpodder.sync_now()
        return {"ok": True, "message": sync_summary(report)}

    async def subscribe(self, url: str) -> Reply:
        result = await self.refresher.subscribe(url)
        return {
            "ok": True,
            "message": f"subscribed: {result.line()}",
            "podcast_id": result.podcast_id,
        }

    def unsubscribe(self, words: str) -> Reply:
        podcast = self.one_podcast(words)
        self.podcasts.unsubscribe(podcast.id)
        self.announce(LibraryChanged(podcast.feed_url, podcast.id))
        self.refresher.wake()  # its downloads go; its highlights stay
        return {"ok": True, "message": f"unsubscribed from {podcast.title or podcast.feed_url}"}

    def list_podcasts(self) -> Reply:
        return {"ok": True, "podcasts": [podcast_listing(p) for p in self.podcasts.all()]}

    def list_episodes(self, words: str | None) -> Reply:
        podcast_id = self.one_podcast(words).id if words else None
        chosen = self.catalog.episodes(podcast_id=podcast_id)
        return {"ok": True, "episodes": [self.episode_listing(e) for e in chosen]}

    def chapters(self, episode_id: int) -> Reply:
        episode = self.catalog.episode(episode_id)
        if episode is None:
            raise LibraryError(f"no episode {episode_id} (see `earmark episodes`)")
        return {
            "ok": True,
            "episode_id": episode.id,
            "title": episode.title,
            "source": episode.chapters_source,
            "chapters": [{"start": s, "title": t} for s, t in episode.chapters],
        }

    def downloads_now(self) -> Reply:
        """The download under way and the ones waiting, for `earmark downloads`."""
        current = self.downloads.in_progress
        waiting = [
            e for e in self.downloads.wanted() if current is None or e.id != current.episode_id
        ]
        return {
            "ok": True,
            "current": None
            if current is None
            else {
                "episode_id": current.episode_id,
                "title": current.title,
                "received": current.received,
                "total": current.total,
            },
            "waiting": [{"episode_id": e.id, "title": e.title} for e in waiting],
            "used_mb": round(self.downloads.used_bytes() / (1024 * 1024), 1),
        }

    async def refresh(self, words: str | None) -> Reply:
        chosen = [self.one_podcast(words)] if words else self.podcasts.all()
        results = await self.refresher.refresh(chosen)
        return {
            "ok": all(r.error is None for r in results),
            "message": "\n".join(r.line() for r in results) or "no podcasts to refresh",
            "refreshed": [
                {"podcast_id": r.podcast_id, "title": r.title, "new": r.new, "error": r.error}
                for r in results
            ],
        }

    async def import_opml(self, source: str) -> Reply:
        """Subscribe to every feed in an OPML file or URL at once; the first
        refreshes run in the background, ``refresh_concurrency`` at a time."""
        loop = asyncio.get_running_loop()
        data = await loop.run_in_executor(None, _read_source, source)
        feeds = read_opml(data, source)
        added = 0
        for feed in feeds:
            if self.podcasts.by_url(feed.url) is None:
                added += 1
            self.podcasts.subscribe(feed.url, feed.title)
        self.refresher.wake()
        return {
            "ok": True,
            "message": f"subscribed to {added} new of {len(feeds)} feeds;"
            " refreshing in the background",
        }

    def export_opml(self) -> Reply:
        feeds = [
            OpmlFeed(p.feed_url, p.title) for p in self.podcasts.all() if p.feed_url != DEMO_FEED_ID
        ]
        return {"ok": True, "opml": write_opml(feeds).decode()}

    def one_podcast(self, words: str) -> StoredPodcast:
        found = self.podcasts.find(words)
        if not found:
            raise LibraryError(f"no podcast '{words}' (see `earmark podcasts`)")
        if len(found) > 1:
            names = ", ".join(f"{p.id} {p.title}" for p in found[:5])
            raise LibraryError(f"'{words}' names {len(found)} podcasts ({names}); use its id")
        return found[0]

    def episode_listing(self, e: StoredEpisode) -> dict[str, Any]:
        return {
            "id": e.id,
            "podcast": e.podcast_title,
            "title": e.title,
            "published_at": e.published_at,
            "duration": e.duration,
            "season": e.season,
            "number": e.number,
            "played": e.played,
            "position": round(self.catalog.position(e.id), 1),
            "downloaded": bool(e.local_path),
            "in_feed": e.in_feed,
            "chapters": len(e.chapters),
            "error": e.last_error,
        }


def podcast_listing(p: StoredPodcast) -> dict[str, Any]:
    return {
        "id": p.id,
        "title": p.title or p.feed_url,
        "feed_url": p.feed_url,
        "episodes": p.episodes,
        "unplayed": p.unplayed,
        "downloaded": p.downloaded,
        "refreshed_at": p.refreshed_at,
        "last_error": p.last_error,
        "gone": p.gone,
    }


def sync_summary(report: SyncReport) -> str:
    return (
        f"gpodder sync done: subscribed {len(report.subscribed)},"
        f" unsubscribed {len(report.unsubscribed)} from the account;"
        f" sent +{len(report.uploaded_subscribed)}/-{len(report.uploaded_unsubscribed)};"
        f" positions {len(report.positions_applied)} taken"
        f" ({len(report.positions_unmatched)} of episodes not here),"
        f" {len(report.positions_uploaded)} sent"
    )


def _read_source(source: str) -> bytes:
    """An OPML document from a URL or a file on the speaker."""
    if urllib.parse.urlsplit(source).scheme:
        return fetch_bytes(source, limit=10 * 1024 * 1024, allow_file=True)
    try:
        return Path(source).read_bytes()
    except OSError as exc:
        raise LibraryError(f"cannot read {source}: {exc.strerror or exc}") from None
