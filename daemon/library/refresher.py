"""The feed refresher: a task of its own that keeps the library in step.

At start it serves and stores the bundled demo (when enabled) and says the
library is ready at once: playback starts with what is stored and never waits
for a feed. Every subscribed podcast is then refreshed when it comes due
(``library.refresh_minutes``, jittered), at most ``refresh_concurrency`` at a
time, each within its own deadline, so one slow server delays nothing else.
Downloads run one at a time beside the refreshes, never in front of them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from pathlib import Path

from earmark.config.model import LibraryConfig
from earmark.events import EpisodeDownloaded, Event, LibraryChanged
from earmark.library.background import Abandonable
from earmark.library.downloads import Downloads
from earmark.library.fileserver import FileServer
from earmark.library.subscriptions import Refreshed, Subscriptions
from earmark.store.podcasts import Podcasts, StoredPodcast

log = logging.getLogger(__name__)

DEMO_FEED_ID = "demo:earmark"
# the longest the refresher sleeps between looks at the schedule
LONGEST_NAP = 300.0


class Refresher:
    def __init__(
        self,
        settings: LibraryConfig,
        subscriptions: Subscriptions,
        podcasts: Podcasts,
        downloads: Downloads,
        data_dir: Path,
        announce: Callable[[Event], None],
    ) -> None:
        self.settings = settings
        self.subscriptions = subscriptions
        self.podcasts = podcasts
        self.downloads = downloads
        self.data_dir = data_dir
        self.announce = announce
        self.demo_server: FileServer | None = None
        # never joined: a stop walks away from a silent server (the work is durable)
        self._feeds = Abandonable(settings.refresh_concurrency, "earmark-feed")
        self._files = Abandonable(1, "earmark-download")
        self._wake = asyncio.Event()
        self._download_wanted = asyncio.Event()

    async def run(self, on_ready: Callable[[], None]) -> None:
        loop = asyncio.get_running_loop()
        try:
            if self.settings.demo:
                await loop.run_in_executor(self._feeds, self._serve_demo)
        except Exception:
            log.exception("the demo podcast could not be prepared")
        on_ready()
        for url in self.settings.feeds:
            if self.podcasts.by_url(url) is None:
                self.podcasts.subscribe(url)
        downloading = loop.create_task(self._download_loop())
        try:
            while True:
                await self.refresh_due()
                await self._nap()
        finally:
            downloading.cancel()

    async def refresh_due(self) -> list[Refreshed]:
        """Refresh every podcast that is due, ``refresh_concurrency`` at a time."""
        return await self.refresh(self.podcasts.due(time.time()))

    async def refresh(self, podcasts: list[StoredPodcast]) -> list[Refreshed]:
        loop = asyncio.get_running_loop()
        # the demo is fetched only from this run's demo server
        chosen = [p for p in podcasts if p.feed_url != DEMO_FEED_ID or self.demo_server]
        results = await asyncio.gather(
            *(loop.run_in_executor(self._feeds, self._refresh_one, podcast) for podcast in chosen)
        )
        for podcast, result in zip(chosen, results, strict=True):
            if result.error is None:
                self.announce(LibraryChanged(podcast.feed_url, result.podcast_id))
        self._download_wanted.set()
        return list(results)

    async def subscribe(self, url: str) -> Refreshed:
        """Subscribe now (the first refresh runs at once, off the loop)."""
        loop = asyncio.get_running_loop()
        result = await loop.run_in_executor(self._feeds, self.subscriptions.subscribe, url)
        self.announce(LibraryChanged(url, result.podcast_id))
        self._download_wanted.set()
        return result

    def wake(self) -> None:
        """Look at the schedule again now (a subscription or unsubscription changed it)."""
        self._wake.set()
        self._download_wanted.set()

    def _refresh_one(self, podcast: StoredPodcast) -> Refreshed:
        fetch_from = None
        if podcast.feed_url == DEMO_FEED_ID and self.demo_server is not None:
            fetch_from = self.demo_server.url("feed.xml")  # this run's demo server
        return self.subscriptions.refresh(podcast, fetch_from)

    async def _nap(self) -> None:
        due = self.podcasts.next_due()
        wait = LONGEST_NAP if due is None else max(1.0, min(LONGEST_NAP, due - time.time()))
        self._wake.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), wait)

    async def _download_loop(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await self._download_wanted.wait()
            self._download_wanted.clear()
            try:
                done = await loop.run_in_executor(self._files, self.downloads.run_once)
            except Exception:
                log.exception("downloads failed")
                continue
            for fetched in done:
                if fetched.path is not None:
                    self.announce(EpisodeDownloaded(fetched.episode_id, str(fetched.path)))

    def _serve_demo(self) -> None:
        from earmark.library.demo import build_demo

        folder = self.data_dir / "demo"
        folder.mkdir(parents=True, exist_ok=True)
        self.demo_server = FileServer(folder).start()
        feed = build_demo(folder, self.demo_server.base_url)
        podcast = self.podcasts.by_url(DEMO_FEED_ID)
        if podcast is None or not podcast.subscribed:
            result = self.subscriptions.subscribe(DEMO_FEED_ID, self.demo_server.url(feed.name))
        else:
            result = self.subscriptions.refresh(podcast, self.demo_server.url(feed.name))
        # the demo's audio is local and small: on the card before playback starts
        for episode in self.downloads.wanted() if self.settings.download else ():
            if episode.podcast_id == result.podcast_id:
                self.downloads.fetch(episode)
        self.announce(LibraryChanged(DEMO_FEED_ID, result.podcast_id))

    def stop(self) -> None:
        """Stop at once: a download under way stops at its next chunk (its part
        file resumes at the next start); a refresh under way is left to its thread."""
        self.downloads.stop()
        self._feeds.shutdown(wait=False, cancel_futures=True)
        self._files.shutdown(wait=False, cancel_futures=True)
        if self.demo_server is not None:
            self.demo_server.stop()
