"""gPodder sync on the speaker: the library as the sync sees it, over the store,
and the task that syncs every ``gpodder.interval_minutes`` (docs/gpodder.md).

The protocol lives in ``earmark.sync.gpodder``; this is the speaker's half. The
client blocks, so each sync runs on a thread of its own; what it changed is
announced on the loop afterwards (``LibraryChanged``), and the refresher is woken
to fetch a feed subscribed from the phone.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import urllib.parse
from collections.abc import Awaitable, Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import cast

from earmark.config.model import GpodderConfig
from earmark.errors import EarmarkError
from earmark.events import Event, LibraryChanged
from earmark.store.catalog import Catalog, ListenedPosition
from earmark.store.podcasts import Podcasts
from earmark.sync.gpodder import (
    Flavour,
    GpodderBusy,
    GpodderClient,
    GpodderError,
    GpodderLibrary,
    GpodderSync,
    PlayPosition,
    SyncReport,
    SyncState,
)

log = logging.getLogger(__name__)

STATE_FILE = "gpodder-state.json"
# the shortest wait after a server said "busy", whatever Retry-After says
SHORTEST_RETRY = 30.0


class StoredLibrary:
    """The speaker's subscriptions and play positions, read from and written to
    the store, as gPodder sync wants them (``GpodderLibrary``)."""

    def __init__(self, catalog: Catalog, podcasts: Podcasts) -> None:
        self.catalog = catalog
        self.podcasts = podcasts

    def subscriptions(self) -> list[str]:
        """Subscribed feeds on the web (not the bundled demo)."""
        return [p.feed_url for p in self.podcasts.all() if _on_the_web(p.feed_url)]

    def subscribe(self, feed_url: str) -> None:
        """Subscribed now; the refresher fetches it when it next looks."""
        self.podcasts.subscribe(feed_url)

    def unsubscribe(self, feed_url: str) -> None:
        podcast = self.podcasts.by_url(feed_url)
        if podcast is not None and podcast.subscribed:
            self.podcasts.unsubscribe(podcast.id)

    def play_positions_since(self, since: datetime | None) -> list[PlayPosition]:
        stored = self.catalog.positions_since(None if since is None else _iso(since))
        return [_play_position(p) for p in stored if _on_the_web(p.feed_url)]

    def apply_play_position(self, position: PlayPosition) -> bool:
        """Move the episode to the remote position, kept with the remote time (so it
        does not go up again as ours); a newer position here stays."""
        found = self.catalog.find_episode(position.feed_url, position.media_url, position.guid)
        if found is None:
            return False
        stored = self.catalog.save_position_from_elsewhere(
            found, float(position.position), float(position.total) or None, _iso(position.when)
        )
        if not stored:
            log.info("gpodder position kept ours episode=%d (ours is newer)", found)
        return True


_: type[GpodderLibrary] = StoredLibrary  # mypy checks it keeps to the protocol


def _on_the_web(url: str) -> bool:
    return urllib.parse.urlsplit(url).scheme in ("http", "https")


def _iso(when: datetime) -> str:
    """As the store writes times (``utc_now``): UTC, milliseconds, Z."""
    return when.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _play_position(stored: ListenedPosition) -> PlayPosition:
    return PlayPosition(
        feed_url=stored.feed_url,
        media_url=stored.enclosure_url,
        guid=stored.guid or None,
        position=int(stored.position),
        total=int(stored.duration or 0),
        when=datetime.fromisoformat(stored.updated_at).astimezone(UTC),
    )


class GpodderTask:
    """Syncs with the gPodder account now and every ``interval_minutes``."""

    def __init__(
        self,
        settings: GpodderConfig,
        library: StoredLibrary,
        state_path: Path,
        announce: Callable[[Event], None],
        wake: Callable[[], None],
        environ: Mapping[str, str] = os.environ,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.settings = settings
        self.library = library
        self.state_path = state_path
        self.announce = announce
        self.wake = wake
        self._environ = environ
        self._sleep = sleep
        self._client: GpodderClient | None = None
        self._thread = ThreadPoolExecutor(1, "earmark-gpodder")
        self._one_at_a_time = asyncio.Lock()

    async def run(self) -> None:
        """Sync at once, then every interval; a failure is one line and the next
        sync comes as usual (or when a busy server said)."""
        while True:
            wait = self.settings.interval_minutes * 60
            try:
                await self.sync_now()
            except GpodderBusy as exc:
                wait = max(SHORTEST_RETRY, exc.retry_after)
                log.warning("gpodder sync put off: %s", exc)
            except EarmarkError as exc:
                log.warning("gpodder sync failed: %s", exc)
            except Exception:
                log.exception("gpodder sync failed")
            await self._sleep(wait)

    async def sync_now(self) -> SyncReport:
        """One sync, off the loop; what it changed here is announced."""
        loop = asyncio.get_running_loop()
        async with self._one_at_a_time:
            report = await loop.run_in_executor(self._thread, self._sync)
        changed = [*report.subscribed, *report.unsubscribed]
        for url in changed:
            podcast = self.library.podcasts.by_url(url)
            if podcast is not None:
                self.announce(LibraryChanged(url, podcast.id))
        if changed:
            self.wake()  # the refresher fetches what the phone subscribed to
        return report

    def stop(self) -> None:
        self._thread.shutdown(wait=False, cancel_futures=True)

    def _sync(self) -> SyncReport:
        client = self._client or self._connect()
        state = self._load_state()
        before = state.to_json()
        try:
            return GpodderSync(client, self.library, state).run_once()
        finally:  # each half that succeeded has moved the state on
            if state.to_json() != before:
                self._save_state(state)

    def _connect(self) -> GpodderClient:
        settings = self.settings
        password = settings.password
        if not password and settings.password_env:
            password = self._environ.get(settings.password_env)
            if not password:
                raise GpodderError(
                    f"gPodder sync: gpodder.password_env names ${settings.password_env}, which "
                    "is not set for the daemon: set it (systemd: EnvironmentFile=)"
                )
        self._client = GpodderClient(
            settings.server or "",
            settings.username or "",
            password or "",
            settings.device_id or "",
            cast(Flavour, settings.flavour.value),
        )
        return self._client

    def _load_state(self) -> SyncState:
        try:
            text = self.state_path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return SyncState()
        except (OSError, UnicodeDecodeError) as exc:
            raise GpodderError(
                f"gPodder sync: cannot read {self.state_path} ({exc}): delete it to sync "
                "from the start"
            ) from None
        return SyncState.from_json(text)

    def _save_state(self, state: SyncState) -> None:
        """Atomically, readable by the speaker's user only."""
        scratch = self.state_path.with_name(f".{self.state_path.name}.tmp")
        try:
            fd = os.open(scratch, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with open(fd, "w", encoding="utf-8") as out:
                os.fchmod(out.fileno(), 0o600)
                out.write(state.to_json())
                out.flush()
                os.fsync(out.fileno())
            os.replace(scratch, self.state_path)
        except OSError as exc:
            with contextlib.suppress(OSError):
                scratch.unlink()
            raise GpodderError(
                f"gPodder sync: cannot save {self.state_path} ({exc.strerror or exc}): "
                "check the data folder"
            ) from None
