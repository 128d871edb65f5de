"""Subscriptions, refreshes and downloads against real local HTTP servers:
feeds from the wild, each failure one line on its podcast, nothing stored lost."""

from __future__ import annotations

import gzip
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from earmark.config.model import LibraryConfig
from earmark.errors import FeedError
from earmark.library.downloads import Downloads
from earmark.library.publisher import PublisherTranscripts
from earmark.library.subscriptions import Subscriptions
from earmark.store.catalog import Catalog
from earmark.store.database import Database, utc_now
from earmark.store.highlights import DONE, Highlight, HighlightBook
from earmark.store.podcasts import Podcasts

from .servers import Request, Site, body, redirect, trickle

RSS_HEAD = (
    '<?xml version="1.0" encoding="UTF-8"?>\n'
    '<rss version="2.0" xmlns:itunes="http://www.itunes.com/dtds/podcast-1.0.dtd">'
    "<channel><title>{title}</title><description>About trains</description>"
)
RSS_TAIL = "</channel></rss>"


def item(guid: str, url: str, title: str | None = None, day: int = 1, extra: str = "") -> str:
    return (
        f"<item><guid>{guid}</guid><title>{title or guid}</title>"
        f"<pubDate>Mon, {day:02d} Jun 2026 10:00:00 +0000</pubDate>"
        f'<enclosure url="{url}" type="audio/mpeg" length="4"/>{extra}</item>'
    )


def rss(*items: str, title: str = "Trains") -> bytes:
    return (RSS_HEAD.format(title=title) + "".join(items) + RSS_TAIL).encode()


@dataclass
class Library:
    db: Database
    catalog: Catalog
    podcasts: Podcasts
    subscriptions: Subscriptions
    downloads: Downloads
    folder: Path


@pytest.fixture
def library(tmp_path: Path) -> Iterator[Library]:
    db = Database(tmp_path / "earmark.db")
    catalog = Catalog(db)
    podcasts = Podcasts(db)
    settings = LibraryConfig(connect_seconds=2, feed_seconds=3, max_feed_mb=1, keep_unplayed=2)
    folder = tmp_path / "episodes"
    yield Library(
        db,
        catalog,
        podcasts,
        Subscriptions(db, catalog, podcasts, settings),
        Downloads(db, catalog, settings, folder),
        folder,
    )
    db.close()


def highlight(library: Library, episode_id: int) -> Highlight:
    saved = Highlight(Highlight.new_id(), DONE, utc_now(), 10.0, 0.0, 20.0, episode_id)
    return HighlightBook(library.db, "box").add(saved)


def refresh(library: Library, url: str) -> None:
    podcast = library.podcasts.by_url(url)
    assert podcast is not None
    library.subscriptions.refresh(podcast)


def test_subscribe_stores_the_podcast_and_every_episode_and_downloads_nothing(
    library: Library, site: Site
) -> None:
    items = [item(f"g{i}", site.url(f"e{i}.mp3"), day=1 + i % 28) for i in range(50)]
    url = site.on("feed.xml", body(rss(*items)))

    result = library.subscriptions.subscribe(url)

    assert result.episodes == 50 and result.new == 50 and result.error is None
    (podcast,) = library.podcasts.all()
    assert podcast.title == "Trains" and podcast.episodes == 50 and podcast.last_error is None
    assert not any(e.local_path for e in library.catalog.episodes())
    assert site.asked("e1.mp3") == []  # a refresh never fetches audio


def test_a_feed_that_cannot_be_read_is_refused_and_leaves_nothing(
    library: Library, site: Site
) -> None:
    url = site.on("page.html", body(b"<html><body>Welcome!</body></html>"))
    with pytest.raises(FeedError) as refused:
        library.subscriptions.subscribe(url)
    assert "\n" not in str(refused.value) and url in str(refused.value)
    assert library.podcasts.all(subscribed_only=False) == []


def bad_answers(site: Site) -> dict[str, str]:
    """Each bad input the wild serves, at its own path; the value is a word
    its one-line error must hold."""
    full = rss(item("a", site.url("a.mp3")), item("b", site.url("b.mp3")))
    site.on("invalid.xml", body(b"<rss><channel><title>x</title><item></rss"))
    site.on("html", body(b"<!DOCTYPE html><html><head><title>Shop</title></head></html>"))
    site.on("empty", body(b""))
    site.on("gone", body(b"bye", status=410))
    site.on("broken", body(b"oops", status=500))
    site.on("missing", body(b"no", status=404))
    site.on("loop-a", redirect(302, site.url("loop-b")))
    site.on("loop-b", redirect(302, site.url("loop-a")))
    site.on("trickle", trickle(full, every=0.5))
    site.on("huge", body(b"<rss>" + b" " * (2 * 1024 * 1024) + b"</rss>"))
    site.on("cut", body(full[: len(full) * 2 // 3]))
    return {
        "invalid.xml": "feed",
        "html": "not a podcast feed",
        "empty": "empty",
        "gone": "410",
        "broken": "500",
        "missing": "404",
        "loop-a": "redirect loop",
        "trickle": "sent only",
        "huge": "MB",
        "cut": "cut off",
    }


def test_every_bad_answer_is_one_line_on_its_podcast_and_loses_nothing(
    library: Library, site: Site
) -> None:
    good = site.on("good.xml", body(rss(item("a", site.url("a.mp3")))))
    library.subscriptions.subscribe(good)
    answers = bad_answers(site)
    for path in answers:
        # each was a good feed once: its episode is stored
        site.on(f"first/{path}", body(rss(item(f"{path}-1", site.url("a.mp3")))))
        library.subscriptions.subscribe(site.url(f"first/{path}"))
    for path in answers:
        podcast = library.podcasts.by_url(site.url(f"first/{path}"))
        assert podcast is not None
        with library.db.transaction() as conn:
            library.podcasts.moved(conn, podcast.id, site.url(path))

    for podcast in library.podcasts.all():
        library.subscriptions.refresh(podcast)

    for path, word in answers.items():
        podcast = library.podcasts.by_url(site.url(path))
        assert podcast is not None
        assert podcast.last_error and word in podcast.last_error, (path, podcast.last_error)
        assert "\n" not in podcast.last_error
        assert podcast.episodes == 1  # what was stored stays
        assert podcast.gone == (path == "gone")
    fine = library.podcasts.by_url(good)
    assert fine is not None and fine.last_error is None and fine.refreshed_at


def test_a_second_refresh_asks_with_the_validators_and_a_304_changes_nothing(
    library: Library, site: Site
) -> None:
    feed = rss(item("a", site.url("a.mp3")))

    def answer(request: Request) -> None:
        if request.headers.get("If-None-Match") == '"v1"':
            request.send(304)
        else:
            request.send(200, gzip.compress(feed), {"ETag": '"v1"', "Content-Encoding": "gzip"})

    url = site.on("feed.xml", answer)
    library.subscriptions.subscribe(url)
    before = library.podcasts.by_url(url)
    refresh(library, url)

    assert site.asked("feed.xml")[1].get("If-None-Match") == '"v1"'
    assert "gzip" in site.asked("feed.xml")[0].get("Accept-Encoding", "")
    after = library.podcasts.by_url(url)
    assert before is not None and after is not None
    assert after.episodes == 1 and after.last_error is None and after.etag == '"v1"'


@pytest.mark.parametrize(
    ("status", "moves"), [(301, True), (308, True), (302, False), (307, False)]
)
def test_only_a_permanent_redirect_moves_the_subscription(
    library: Library, site: Site, status: int, moves: bool
) -> None:
    new = site.on("new.xml", body(rss(item("a", site.url("a.mp3")))))
    old = site.on("old.xml", body(rss(item("a", site.url("a.mp3")))))
    library.subscriptions.subscribe(old)
    site.on("old.xml", redirect(status, new))

    refresh(library, old)

    (podcast,) = library.podcasts.all()
    assert podcast.feed_url == (new if moves else old)
    assert podcast.episodes == 1 and podcast.last_error is None


def test_episodes_are_keyed_by_guid_and_one_that_leaves_the_feed_is_kept(
    library: Library, site: Site
) -> None:
    url = site.on("feed.xml", body(rss(item("a", site.url("a.mp3")), item("b", site.url("b.mp3")))))
    library.subscriptions.subscribe(url)
    ids = {e.guid: e.id for e in library.catalog.episodes()}
    library.catalog.save_position(ids["a"], 321.0, 600.0)

    site.on("feed.xml", body(rss(item("a", site.url("a.mp3"), title="A, renamed"))))
    refresh(library, url)

    a, b = (library.catalog.episode(ids[g]) for g in ("a", "b"))
    assert a is not None and a.title == "A, renamed" and a.in_feed
    assert library.catalog.position(ids["a"]) == 321.0
    assert b is not None and not b.in_feed  # marked, not deleted


def test_hostile_enclosures_are_never_fetched(library: Library, site: Site) -> None:
    url = site.on(
        "feed.xml",
        body(
            rss(
                item("passwd", "file:///etc/passwd"),
                item("zero", "file:///dev/zero"),
                item("ftp", "ftp://example.org/a.mp3"),
                item("js", "javascript:alert(1)"),
                item("relative", "audio/fine.mp3"),
            )
        ),
    )
    site.on("audio/fine.mp3", body(b"fine"))
    library.subscriptions.subscribe(url)

    (episode,) = library.catalog.episodes()
    assert episode.guid == "relative" and episode.enclosure_url == site.url("audio/fine.mp3")
    library.downloads.run_once()
    assert [p.read_bytes() for p in library.folder.rglob("*") if p.is_file()] == [b"fine"]


def test_enclosures_with_the_same_file_name_get_files_of_their_own(
    library: Library, site: Site
) -> None:
    site.on("one/default.mp3", body(b"one!"))
    site.on("two/default.mp3", body(b"two!"))
    site.on("play.php?id=1", body(b"php1"))
    url = site.on(
        "feed.xml",
        body(
            rss(
                item("one", site.url("one/default.mp3"), day=3),
                item("two", site.url("two/default.mp3"), day=2),
                item("php", site.url("play.php?id=1"), day=1),
            )
        ),
    )
    library.subscriptions.subscribe(url)
    library.downloads.settings = LibraryConfig(keep_unplayed=3)

    library.downloads.run_once()

    audio = {
        e.guid: Path(e.local_path).read_bytes() for e in library.catalog.episodes() if e.local_path
    }
    assert audio == {"one": b"one!", "two": b"two!", "php": b"php1"}
    names = {Path(e.local_path or "").name for e in library.catalog.episodes()}
    assert names == {f"{e.id}.mp3" for e in library.catalog.episodes()}


def test_only_the_newest_unplayed_are_downloaded_and_a_reupload_is_fetched_again(
    library: Library, site: Site
) -> None:
    for name in ("old", "mid", "new", "new-v2"):
        site.on(f"{name}.mp3", body(name.encode()))
    items = [item("old", site.url("old.mp3"), day=1), item("mid", site.url("mid.mp3"), day=2)]
    url = site.on("feed.xml", body(rss(*items, item("new", site.url("new.mp3"), day=3))))
    library.subscriptions.subscribe(url)

    library.downloads.run_once()  # keep_unplayed=2
    on_card = {e.guid for e in library.catalog.episodes() if e.local_path}
    assert on_card == {"new", "mid"}

    site.on("feed.xml", body(rss(*items, item("new", site.url("new-v2.mp3"), day=3))))
    refresh(library, url)
    library.downloads.run_once()

    (new,) = [e for e in library.catalog.episodes() if e.guid == "new"]
    assert new.local_path and Path(new.local_path).read_bytes() == b"new-v2"


def test_the_disk_budget_retires_the_oldest_played_and_never_a_protected_one(
    library: Library, site: Site, tmp_path: Path
) -> None:
    megabyte = b"x" * (1024 * 1024)
    for name in ("a", "b", "c", "d"):
        site.on(f"{name}.mp3", body(megabyte))
    items = [item(g, site.url(f"{g}.mp3"), day=i + 1) for i, g in enumerate("abcd")]
    url = site.on("feed.xml", body(rss(*items)))
    library.subscriptions.subscribe(url)
    ids = {e.guid: e.id for e in library.catalog.episodes()}
    library.downloads.settings = LibraryConfig(keep_unplayed=4, disk_budget_mb=2.5)
    library.downloads.run_once()  # d and c fit; b and a do not
    assert {e.guid for e in library.catalog.episodes() if e.local_path} == {"d", "c"}

    # d and c are played; c has a highlight; b is now wanted and needs room
    for guid in ("d", "c"):
        library.catalog.mark_played(ids[guid])
    highlight(library, ids["c"])
    library.downloads.run_once()

    on_card = {e.guid for e in library.catalog.episodes() if e.local_path}
    assert "c" in on_card and "d" not in on_card and "b" in on_card
    assert library.downloads.used_bytes() <= 2.5 * 1024 * 1024


def test_unsubscribing_keeps_highlights_and_drops_downloads(library: Library, site: Site) -> None:
    site.on("a.mp3", body(b"aaaa"))
    url = site.on("feed.xml", body(rss(item("a", site.url("a.mp3")))))
    podcast_id = library.subscriptions.subscribe(url).podcast_id
    library.downloads.run_once()
    (episode,) = library.catalog.episodes()
    saved = highlight(library, episode.id)

    library.podcasts.unsubscribe(podcast_id)
    library.downloads.run_once()

    assert library.podcasts.all() == [] and library.catalog.episodes() == []
    kept = HighlightBook(library.db, "box").get(saved.id)
    assert kept is not None and kept.episode_id == episode.id
    # a highlighted episode's audio stays too (its snip may need it again)
    assert library.catalog.episode(episode.id).local_path  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("chapters", "transcript"),
    [(b"", b""), (b"this is not json {", b"WEBVTT garbage \x00\xff")],
    ids=["404", "garbage"],
)
def test_broken_chapters_or_transcripts_never_stop_the_download(
    library: Library,
    site: Site,
    caplog: pytest.LogCaptureFixture,
    chapters: bytes,
    transcript: bytes,
) -> None:
    site.on("a.mp3", body(b"aaaa"))
    if chapters:
        site.on("chapters.json", body(chapters))
        site.on("a.vtt", body(transcript, content_type="text/vtt"))
    extra = (
        f'<podcast:chapters url="{site.url("chapters.json")}" type="application/json+chapters"/>'
        f'<podcast:transcript url="{site.url("a.vtt")}" type="text/vtt"/>'
    )
    head = RSS_HEAD.replace("<rss ", '<rss xmlns:podcast="https://podcastindex.org/namespace/1.0" ')
    url = site.on(
        "feed.xml",
        body(
            (head.format(title="T") + item("a", site.url("a.mp3"), extra=extra) + RSS_TAIL).encode()
        ),
    )
    transcripts = PublisherTranscripts(library.db, library.catalog)
    library.downloads.transcripts = transcripts
    library.subscriptions.subscribe(url)
    with caplog.at_level(logging.WARNING):
        library.downloads.run_once()
    (episode,) = library.catalog.episodes()
    assert episode.local_path and Path(episode.local_path).read_bytes() == b"aaaa"
    assert episode.chapters == ()
    assert site.asked("a.vtt"), "the transcript was fetched with the download"
    warned = [r.getMessage() for r in caplog.records]
    assert any("chapters" in line for line in warned)
    assert any("transcript" in line for line in warned)
    assert all("\n" not in line for line in warned)


def test_duplicate_guids_warn_once_per_feed(
    library: Library, site: Site, caplog: pytest.LogCaptureFixture
) -> None:
    items = [item("same", site.url(f"e{i}.mp3")) for i in range(20)]
    url = site.on("feed.xml", body(rss(*items)))
    with caplog.at_level(logging.WARNING):
        library.subscriptions.subscribe(url)
    warnings = [r for r in caplog.records if "duplicate" in r.getMessage()]
    assert len(warnings) == 1
    assert len(library.catalog.episodes()) == 1
