"""Subscriptions: a feed's answer into the store.

Subscribing fetches the feed once, so a wrong address is refused at once and
nothing is stored for it. Refreshing asks with the validators of the last
answer (304 costs nothing), follows permanent moves, and stores the podcast
and every episode in one transaction. Any failure is one line in the
podcast's ``last_error``; what was stored before stays. Audio is not fetched
here (see ``downloads.py``): a refresh of 10 000 items stores 10 000 rows and
downloads nothing.
"""

from __future__ import annotations

import logging
import random
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from earmark.config.model import LibraryConfig
from earmark.errors import EarmarkError, FeedError
from earmark.library.download import DownloadError, Fetched, Validators, fetch_document
from earmark.library.feeds import Feed, FeedEpisode, choose_transcript, parse_feed
from earmark.library.http import FeedGone
from earmark.store.catalog import Catalog, EpisodeRecord
from earmark.store.database import Database
from earmark.store.podcasts import PodcastDetails, Podcasts, StoredPodcast

log = logging.getLogger(__name__)

MEGABYTE = 1024 * 1024
# where an episode's chapters came from, best last: a better source replaces a worse
NOTES, PODLOVE, EMBEDDED, CHAPTERS_FILE = "notes", "podlove", "id3", "podcast:chapters"


@dataclass(frozen=True)
class Refreshed:
    """What one refresh did."""

    podcast_id: int
    title: str
    episodes: int = 0  # in the feed now
    new: int = 0  # never seen before
    not_modified: bool = False
    error: str | None = None

    def line(self) -> str:
        if self.error:
            return f"{self.title}: {self.error}"
        if self.not_modified:
            return f"{self.title}: unchanged"
        return f"{self.title}: {self.episodes} episodes, {self.new} new"


class Subscriptions:
    def __init__(
        self,
        db: Database,
        catalog: Catalog,
        podcasts: Podcasts,
        settings: LibraryConfig,
        scratch: Path | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """``scratch``: where feeds are written while they arrive (None: the system's
        temporary folder)."""
        self.scratch = scratch
        if scratch is not None:
            scratch.mkdir(parents=True, exist_ok=True)
        self.db = db
        self.catalog = catalog
        self.podcasts = podcasts
        self.settings = settings
        self.clock = clock

    def subscribe(self, url: str, fetch_from: str | None = None) -> Refreshed:
        """Subscribe to the feed at ``url`` and store it; a feed that cannot be
        read now is refused (raises FeedError) and leaves nothing behind."""
        url = url.strip()
        known = self.podcasts.by_url(url)
        podcast_id = self.podcasts.subscribe(url)
        try:
            fetched, feed = self._read(url, fetch_from or url, None)
        except EarmarkError as exc:
            if known is None:
                self.podcasts.forget(podcast_id)
            raise FeedError(f"cannot subscribe to {url}: {_reason(exc)}") from None
        assert feed is not None  # asked without validators: never "not modified"
        return self._store(podcast_id, url, fetched, feed)

    def refresh(self, podcast: StoredPodcast, fetch_from: str | None = None) -> Refreshed:
        """Refresh one subscribed podcast; never raises for what its server does."""
        validators = Validators(podcast.etag, podcast.last_modified)
        try:
            fetched, feed = self._read(podcast.feed_url, fetch_from, validators)
        except FeedGone as exc:
            return self._failed(podcast, _reason(exc), gone=True)
        except EarmarkError as exc:
            return self._failed(podcast, _reason(exc))
        if feed is None:
            with self.db.transaction() as conn:
                self.podcasts.refreshed(
                    conn, podcast.id, podcast.etag, podcast.last_modified, self._due()
                )
            log.info("feed unchanged title=%r", podcast.title)
            return Refreshed(podcast.id, podcast.title, podcast.episodes, not_modified=True)
        return self._store(podcast.id, podcast.feed_url, fetched, feed)

    def _read(
        self, url: str, fetch_from: str | None, validators: Validators | None
    ) -> tuple[Fetched, Feed | None]:
        """The feed's answer and, unless it was "not modified", the feed.

        The body streams to a scratch file and is read back once: held in memory
        while it arrives, a 50 MB feed would be there twice."""
        with tempfile.TemporaryDirectory(dir=self.scratch, prefix="feed-") as folder:
            body = Path(folder) / "feed.xml"
            fetched = fetch_document(
                fetch_from or url,
                validators=validators,
                timeout=self.settings.connect_seconds,
                deadline=self.settings.feed_seconds,
                limit=int(self.settings.max_feed_mb * MEGABYTE),
                # the feed's own address is the user's; only URLs read from a feed are not
                allow_file=True,
                into=body,
            )
            if fetched.not_modified or fetched.path is None:
                return fetched, None
            data = body.read_bytes()
        feed = parse_feed(data, fetched.final_url, content_type=fetched.content_type)
        return fetched, feed

    def _store(self, podcast_id: int, url: str, fetched: Fetched, feed: Feed) -> Refreshed:
        records = [_record(item, feed.language) for item in feed.episodes]
        with self.db.transaction() as conn:
            known = self.catalog.guids(conn, podcast_id)
            moved_to = _moved_to(url, fetched, feed)
            if moved_to and self.podcasts.moved(conn, podcast_id, moved_to):
                log.info("feed moved for good from=%s to=%s", url, moved_to)
            self.podcasts.save_details(conn, podcast_id, _details(feed))
            ids = self.catalog.save_episodes(conn, podcast_id, records)
            for item in feed.episodes:
                # chapters the feed itself holds; a chapters file or the audio's own
                # (fetched with the download) take their place
                inline, source = _inline_chapters(item)
                if inline:
                    self.catalog.offer_chapters(conn, ids[item.guid], inline, source)
            in_feed = {ids[r.guid] for r in records}
            left = self.catalog.left_feed(conn, podcast_id, in_feed)
            self.podcasts.refreshed(
                conn,
                podcast_id,
                fetched.validators.etag,
                fetched.validators.last_modified,
                self._due(),
            )
        new = sum(1 for r in records if r.guid not in known)
        log.info(
            "feed refreshed title=%r episodes=%d new=%d left_feed=%d",
            feed.title,
            len(records),
            new,
            left,
        )
        return Refreshed(podcast_id, feed.title, len(records), new)

    def _failed(self, podcast: StoredPodcast, reason: str, gone: bool = False) -> Refreshed:
        self.podcasts.failed(podcast.id, reason, self._due(), gone=gone)
        log.warning(
            "feed not refreshed title=%r url=%s: %s", podcast.title, podcast.feed_url, reason
        )
        return Refreshed(podcast.id, podcast.title or podcast.feed_url, error=reason)

    def _due(self) -> float:
        """When the podcast is refreshed next: the interval, jittered by a tenth so
        that feeds subscribed together do not all come due together."""
        interval = self.settings.refresh_minutes * 60
        return self.clock() + interval * random.uniform(0.9, 1.1)


def _reason(exc: EarmarkError) -> str:
    """One line: the reason alone, without the URL the podcast already names."""
    if isinstance(exc, DownloadError):
        return exc.reason
    return str(exc).splitlines()[0]


def _moved_to(url: str, fetched: Fetched, feed: Feed) -> str | None:
    if fetched.moved_permanently and fetched.url != url:
        return fetched.url
    if feed.new_url and feed.new_url != url:
        return feed.new_url
    return None


def _inline_chapters(item: FeedEpisode) -> tuple[list[tuple[float, str]], str]:
    if item.chapters:
        return [(c.start, c.title) for c in item.chapters], PODLOVE
    return [(c.start, c.title) for c in item.notes_chapters], NOTES


def _details(feed: Feed) -> PodcastDetails:
    return PodcastDetails(
        title=feed.title,
        author=feed.author,
        description=feed.description,
        image_url=feed.image,
        language=feed.language,
        link=feed.link,
        podcast_guid=feed.podcast_guid,
        explicit=feed.explicit,
    )


def _record(item: FeedEpisode, language: str | None) -> EpisodeRecord:
    transcript = choose_transcript(item.transcripts, language)
    return EpisodeRecord(
        guid=item.guid,
        title=item.title,
        enclosure_url=item.enclosure_url,
        enclosure_type=item.enclosure_type,
        enclosure_length=item.enclosure_length,
        description=item.description,
        published_at=item.published.isoformat() if item.published else None,
        duration=item.duration,
        chapters_url=item.chapters_url or item.podlove_chapters_url,
        transcript_url=transcript.url if transcript else None,
        transcript_type=transcript.type if transcript else None,
        season=item.season,
        number=item.number,
        explicit=item.explicit,
        image_url=item.image,
        soundbites=tuple(
            {"start": s.start, "duration": s.duration, "title": s.title} for s in item.soundbites
        ),
        persons=tuple(
            {"name": p.name, "role": p.role, "group": p.group, "href": p.href, "img": p.img}
            for p in item.persons
        ),
    )
