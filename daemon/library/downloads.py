"""Downloads that fit a Pi: which episodes are on the card, and which go.

The newest ``library.keep_unplayed`` unplayed episodes of each subscribed
podcast are downloaded; the rest stream. A file is named from the episode's
id (never the URL's last segment, which many hosts share: ``default.mp3``).
Downloads stay within ``library.disk_budget_mb``: to make room the oldest
played episodes go first, then unplayed ones nobody asked to keep; never the
episode playing, one partly played in the last week, or one with highlights.
With a download come its chapters and the publisher's transcript, so the
first snip of it does not wait on the network.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from earmark.config.model import LibraryConfig
from earmark.errors import EarmarkError
from earmark.library.chapters import embedded_chapters, fetch_chapters
from earmark.library.download import DownloadStopped, Progress, download, extension
from earmark.library.publisher import PublisherTranscripts
from earmark.library.subscriptions import CHAPTERS_FILE, EMBEDDED, MEGABYTE
from earmark.store.catalog import Catalog, StoredEpisode
from earmark.store.database import Database

log = logging.getLogger(__name__)

# a partly played episode is kept while it was listened to this recently
RECENTLY = timedelta(days=7)


@dataclass(frozen=True)
class InProgress:
    """The download under way, for `earmark downloads`."""

    episode_id: int
    title: str
    received: int
    total: int | None


@dataclass(frozen=True)
class Fetched:
    episode_id: int
    title: str
    path: Path | None
    error: str | None = None


class Downloads:
    def __init__(
        self,
        db: Database,
        catalog: Catalog,
        settings: LibraryConfig,
        folder: Path,
        playing: Callable[[], int | None] = lambda: None,
        transcripts: PublisherTranscripts | None = None,
    ) -> None:
        self.db = db
        self.catalog = catalog
        self.settings = settings
        self.folder = folder
        self.playing = playing
        self.transcripts = transcripts
        # read by other threads (the loop answering `downloads`): replaced, never mutated
        self.in_progress: InProgress | None = None
        self._stop = threading.Event()

    def stop(self) -> None:
        """End the download under way at its next chunk (it resumes at the next start)
        and start no other."""
        self._stop.set()

    def wanted(self) -> list[StoredEpisode]:
        """The episodes that should be on the card and are not (or are an old upload)."""
        return [e for e in self._kept_unplayed() if not _on_card(e)]

    def run_once(self) -> list[Fetched]:
        """Retire what must go, then download what is wanted, within the budget."""
        if not self.settings.download:
            return []
        self.retire_unsubscribed()
        return [self.fetch(episode) for episode in self.wanted() if not self._stop.is_set()]

    def fetch(self, episode: StoredEpisode) -> Fetched:
        self.in_progress = InProgress(episode.id, episode.title, 0, episode.enclosure_length)
        try:
            return self._fetch(episode, self._reporter(episode))
        finally:
            self.in_progress = None

    def _reporter(self, episode: StoredEpisode) -> Progress:
        def report(received: int, total: int | None) -> None:
            self.in_progress = InProgress(episode.id, episode.title, received, total)

        return report

    def _fetch(self, episode: StoredEpisode, progress: Progress) -> Fetched:
        need = episode.enclosure_length or 0
        if not self.make_room(need):
            reason = (
                f"disk budget full ({self.settings.disk_budget_mb:g} MB); "
                "raise library.disk_budget_mb or play some episodes"
            )
            log.warning("episode not downloaded title=%r: %s", episode.title, reason)
            self.catalog.set_episode_error(episode.id, reason)
            return Fetched(episode.id, episode.title, None, reason)
        stale = _stale_file(episode)
        if stale is not None:
            # the same GUID with a new enclosure URL: the publisher re-uploaded the audio
            log.info("episode audio replaced title=%r", episode.title)
            stale.unlink(missing_ok=True)
        folder = self.folder / str(episode.podcast_id)
        try:
            path = download(
                episode.enclosure_url,
                folder,
                name=f"{episode.id}{extension(episode.enclosure_url, episode.enclosure_type)}",
                timeout=self.settings.connect_seconds,
                max_bytes=int(self.settings.max_episode_mb * MEGABYTE),
                progress=progress,
                stop=self._stop,
            )
        except DownloadStopped as exc:
            log.info("download stopped title=%r: %s", episode.title, exc.reason)
            return Fetched(episode.id, episode.title, None, exc.reason)
        except EarmarkError as exc:
            reason = str(exc).splitlines()[0]
            log.warning("episode not downloaded title=%r: %s", episode.title, reason)
            self.catalog.set_episode_error(episode.id, reason)
            return Fetched(episode.id, episode.title, None, reason)
        self.catalog.set_download(episode.id, str(path), from_url=episode.enclosure_url)
        # a feed's enclosure length is often wrong: the budget is checked again on the
        # real size, and the new file goes if nothing else may
        if not self.make_room(0, keep=episode.id):
            reason = (
                f"does not fit the disk budget ({self.settings.disk_budget_mb:g} MB) beside "
                "the episodes kept; raise library.disk_budget_mb or play some episodes"
            )
            self._delete(episode, "disk budget")
            self.catalog.set_episode_error(episode.id, reason)
            log.warning("episode not kept title=%r: %s", episode.title, reason)
            return Fetched(episode.id, episode.title, None, reason)
        self._extras(episode, path)
        return Fetched(episode.id, episode.title, path)

    def _extras(self, episode: StoredEpisode, path: Path) -> None:
        """Chapters and the publisher's transcript of a downloaded episode; a broken
        one is one line and never undoes the download."""
        try:
            if episode.chapters_url and episode.chapters_source != CHAPTERS_FILE:
                chapters = fetch_chapters(episode.chapters_url)
                if chapters:
                    self.catalog.set_chapters(
                        episode.id, [(c.start, c.title) for c in chapters], CHAPTERS_FILE
                    )
            elif not episode.chapters:
                embedded = embedded_chapters(path)
                if embedded:
                    self.catalog.set_chapters(
                        episode.id, [(c.start, c.title) for c in embedded], EMBEDDED
                    )
        except EarmarkError as exc:
            log.warning("chapters unusable title=%r: %s", episode.title, exc)
        if self.transcripts is not None and episode.transcript_url:
            self.transcripts.ensure(episode.id)

    def used_bytes(self) -> int:
        return sum(_size(e) for e in self.catalog.downloaded())

    def make_room(self, need: int, keep: int | None = None) -> bool:
        """Delete downloads (never ``keep``) until ``need`` more bytes fit the
        budget; False if they cannot."""
        budget = int(self.settings.disk_budget_mb * MEGABYTE)
        used = self.used_bytes()
        if used + need <= budget:
            return True
        for episode in self._retirable():
            if episode.id == keep:
                continue
            used -= _size(episode)
            self._delete(episode, "disk budget")
            if used + need <= budget:
                return True
        return used + need <= budget

    def retire_unsubscribed(self) -> None:
        protected = self._protected()
        for episode in self.catalog.downloaded(unsubscribed_only=True):
            if episode.id not in protected:
                self._delete(episode, "unsubscribed")

    def _retirable(self) -> list[StoredEpisode]:
        """Downloads that may go, in the order they go: played ones, the longest
        ago first; then unplayed ones beyond the newest kept, oldest first."""
        protected = self._protected()
        wanted = {e.id for e in self._kept_unplayed()}
        downloaded = [e for e in self.catalog.downloaded() if e.id not in protected]
        last = self.catalog.last_listened()
        played = sorted((e for e in downloaded if e.played), key=lambda e: last.get(e.id, ""))
        spare = sorted(
            (e for e in downloaded if not e.played and e.id not in wanted),
            key=lambda e: e.published_at or "",
        )
        return played + spare

    def _protected(self) -> set[int]:
        """Never deleted: playing, partly played in the last week, or with highlights."""
        protected = self.catalog.kept_for_listening((datetime.now(UTC) - RECENTLY).isoformat())
        playing = self.playing()
        if playing is not None:
            protected.add(playing)
        return protected

    def _kept_unplayed(self) -> list[StoredEpisode]:
        """The newest ``keep_unplayed`` unplayed episodes of each podcast, still in its feed."""
        keep = self.settings.keep_unplayed
        counts: dict[int, int] = {}
        kept = []
        for episode in self.catalog.episodes(unplayed_only=True):
            if episode.in_feed and counts.get(episode.podcast_id, 0) < keep:
                counts[episode.podcast_id] = counts.get(episode.podcast_id, 0) + 1
                kept.append(episode)
        return kept

    def _delete(self, episode: StoredEpisode, why: str) -> None:
        if episode.local_path:
            Path(episode.local_path).unlink(missing_ok=True)
        self.catalog.set_download(episode.id, None)
        log.info("download deleted title=%r reason=%s", episode.title, why)


def _on_card(episode: StoredEpisode) -> bool:
    return bool(episode.local_path and Path(episode.local_path).exists()) and (
        _stale_file(episode) is None
    )


def _stale_file(episode: StoredEpisode) -> Path | None:
    if episode.local_path and episode.downloaded_url not in (None, episode.enclosure_url):
        return Path(episode.local_path)
    return None


def _size(episode: StoredEpisode) -> int:
    try:
        return Path(episode.local_path or "").stat().st_size
    except OSError:
        return 0
