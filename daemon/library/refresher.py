"""The feed refresher: a task of its own that keeps the library in step.

At start it serves and stores the bundled demo (when enabled) and refreshes
every subscribed feed, then says the library is ready (the root starts
playback); after that it refreshes every ``library.refresh_minutes``. Fetching
runs off the loop; a broken feed is one log line and the others go on.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from pathlib import Path

from earmark.config.model import LibraryConfig
from earmark.errors import EarmarkError
from earmark.events import Event, LibraryChanged
from earmark.library.fileserver import FileServer
from earmark.library.subscriptions import Subscriptions

log = logging.getLogger(__name__)

DEMO_FEED_ID = "demo:earmark"


class Refresher:
    def __init__(
        self,
        settings: LibraryConfig,
        subscriptions: Subscriptions,
        data_dir: Path,
        announce: Callable[[Event], None],
    ) -> None:
        self.settings = settings
        self.subscriptions = subscriptions
        self.data_dir = data_dir
        self.announce = announce
        self.demo_server: FileServer | None = None

    async def run(self, on_ready: Callable[[], None]) -> None:
        loop = asyncio.get_running_loop()
        try:
            if self.settings.demo:
                await loop.run_in_executor(None, self._serve_demo)
            await self.refresh_all()
        except Exception:
            log.exception("library preparation failed")
        on_ready()
        while self.settings.feeds:
            await asyncio.sleep(max(1.0, self.settings.refresh_minutes * 60))
            await self.refresh_all()

    async def refresh_all(self) -> None:
        """Fetch every subscribed feed (off the loop); a broken one is one log line."""
        for url in self.settings.feeds:
            await self._refresh(url)

    async def _refresh(self, url: str, stored_as: str | None = None) -> None:
        loop = asyncio.get_running_loop()
        try:
            podcast_id = await loop.run_in_executor(
                None, self.subscriptions.refresh, url, stored_as
            )
        except EarmarkError as exc:
            log.error("feed skipped url=%s: %s", url, exc)
            return
        except Exception:
            log.exception("feed refresh failed url=%s", url)
            return
        self.announce(LibraryChanged(stored_as or url, podcast_id))

    def _serve_demo(self) -> None:
        from earmark.library.demo import build_demo

        folder = self.data_dir / "demo"
        folder.mkdir(parents=True, exist_ok=True)
        self.demo_server = FileServer(folder).start()
        feed = build_demo(folder, self.demo_server.base_url)
        podcast_id = self.subscriptions.refresh(
            self.demo_server.url(feed.name), stored_as=DEMO_FEED_ID
        )
        self.announce(LibraryChanged(DEMO_FEED_ID, podcast_id))

    def stop(self) -> None:
        if self.demo_server is not None:
            self.demo_server.stop()
