"""Reading podcast feeds: what a real feed holds, and every way one can be broken."""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from earmark.errors import FeedError
from earmark.library.chapters import Chapter
from earmark.library.feeds import (
    Person,
    PublisherTranscript,
    Soundbite,
    choose_transcript,
    fetch_feed,
    parse_duration,
    parse_feed,
)
from earmark.library.fileserver import FileServer
from earmark.library.transcripts import TranscriptFormatError, parse_transcript, untimed_text

HEAD = (
    '<?xml version="1.0" encoding="UTF-8"?>\n'
    '<rss version="2.0" xmlns:itunes="http://www.itunes.com/dtds/podcast-1.0.dtd"'
    ' xmlns:podcast="https://podcastindex.org/namespace/1.0">\n<channel>\n'
    "<title>Night Trains</title><link>https://trains.example/</link>"
    "<description>Sleeper trains across Europe.</description>"
    "<itunes:author>Ada Rail</itunes:author>"
    '<itunes:image href="https://trains.example/cover.jpg"/>\n'
)
TAIL = "</channel>\n</rss>\n"


def item(
    guid: str | None = "ep1",
    url: str | None = "https://trains.example/1.mp3",
    extra: str = "",
    title: str = "Vienna to Rome",
) -> str:
    parts = [f"<title>{title}</title>"]
    if guid is not None:
        parts.append(f'<guid isPermaLink="false">{guid}</guid>')
    if url is not None:
        parts.append(f'<enclosure url="{url}" type="audio/mpeg" length="1234"/>')
    return "<item>" + "".join(parts) + extra + "</item>\n"


def feed(*items: str) -> bytes:
    return (HEAD + "".join(items) + TAIL).encode()


RICH_ITEM = item(
    extra=(
        "<description>&lt;p&gt;Overnight through the Alps.&lt;/p&gt;</description>"
        "<pubDate>Tue, 02 Jan 2024 23:30:00 +0100</pubDate>"
        "<itunes:duration>1:02:03</itunes:duration>"
        '<podcast:chapters url="https://trains.example/1.json" type="application/json+chapters"/>'
        '<podcast:transcript url="https://trains.example/1.vtt" type="text/vtt" language="en"/>'
        '<podcast:transcript url="https://trains.example/1.srt" type="application/srt"'
        ' rel="captions"/>'
    )
)


def test_feed_gives_the_podcast_and_its_episode() -> None:
    parsed = parse_feed(feed(RICH_ITEM), "https://trains.example/feed.xml")
    assert (parsed.title, parsed.author, parsed.link, parsed.image) == (
        "Night Trains",
        "Ada Rail",
        "https://trains.example/",
        "https://trains.example/cover.jpg",
    )
    assert parsed.description == "Sleeper trains across Europe."
    assert parsed.url == "https://trains.example/feed.xml"
    [episode] = parsed.episodes
    assert episode.guid == "ep1"
    assert episode.title == "Vienna to Rome"
    assert "Overnight through the Alps." in episode.description
    assert episode.published == datetime(2024, 1, 2, 22, 30, tzinfo=UTC)
    assert (episode.enclosure_url, episode.enclosure_type, episode.enclosure_length) == (
        "https://trains.example/1.mp3",
        "audio/mpeg",
        1234,
    )
    assert episode.duration == 3723
    assert (episode.chapters_url, episode.chapters_type) == (
        "https://trains.example/1.json",
        "application/json+chapters",
    )


def test_every_publisher_transcript_is_kept() -> None:
    # feedparser alone keeps only the last podcast:transcript of an item
    [episode] = parse_feed(feed(RICH_ITEM), "u").episodes
    assert episode.transcripts == (
        PublisherTranscript("https://trains.example/1.vtt", "text/vtt", "en"),
        PublisherTranscript("https://trains.example/1.srt", "application/srt", None, "captions"),
    )


def test_transcripts_match_their_episode_not_their_position() -> None:
    first = item(
        "a",
        "https://trains.example/a.mp3",
        '<podcast:transcript url="https://trains.example/a.vtt" type="text/vtt"/>',
    )
    audio_only = item(None, "https://trains.example/b.mp3")
    third = item(
        "c",
        "https://trains.example/c.mp3",
        '<podcast:transcript url="https://trains.example/c.srt" type="application/srt"/>',
    )
    episodes = parse_feed(feed(first, item("x", None), audio_only, third), "u").episodes
    assert [e.guid for e in episodes] == ["a", "https://trains.example/b.mp3", "c"]
    assert [[t.url for t in e.transcripts] for e in episodes] == [
        ["https://trains.example/a.vtt"],
        [],
        ["https://trains.example/c.srt"],
    ]


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("3723", 3723),
        ("62:03", 3723),
        ("1:02:03", 3723),
        ("00:45", 45),
        ("1:02:03.5", 3723.5),
        ("90.25", 90.25),
        ("", None),
        ("an hour", None),
        (None, None),
        ("1:2:3:4", None),
    ],
)
def test_itunes_duration_is_read_in_all_its_forms(text: str | None, seconds: float | None) -> None:
    assert parse_duration(text) == seconds


def test_episode_without_audio_is_skipped_with_a_log_line(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="earmark.library.feeds"):
        parsed = parse_feed(feed(item("text-only", None, title="Show notes"), item()), "u")
    assert [e.guid for e in parsed.episodes] == ["ep1"]
    assert "reason=no audio enclosure" in caplog.text and "Show notes" in caplog.text


def test_duplicate_guid_keeps_the_first_episode(caplog: pytest.LogCaptureFixture) -> None:
    parsed = parse_feed(
        feed(item("same", "https://t.example/1.mp3"), item("same", "https://t.example/2.mp3")), "u"
    )
    assert [e.enclosure_url for e in parsed.episodes] == ["https://t.example/1.mp3"]
    assert "duplicate guid" in caplog.text


def test_missing_guid_falls_back_to_the_enclosure_url() -> None:
    [episode] = parse_feed(feed(item(None, "https://t.example/only.mp3")), "u").episodes
    assert episode.guid == "https://t.example/only.mp3"


def test_feed_with_a_stray_ampersand_is_read_leniently() -> None:
    broken = feed(item(title="Trains & boats")).replace(b"&amp;", b"&")
    [episode] = parse_feed(broken, "u").episodes
    assert episode.title == "Trains & boats"


def one_line(error: pytest.ExceptionInfo[FeedError]) -> str:
    message = str(error.value)
    assert "\n" not in message and message
    return message


def test_html_instead_of_rss_is_a_one_line_error() -> None:
    html = b"<!DOCTYPE html><html><head><title>Welcome</title></head><body>Hi</body></html>"
    with pytest.raises(FeedError) as error:
        parse_feed(html, "https://trains.example/")
    assert "not a podcast feed" in one_line(error)


def test_truncated_feed_is_a_one_line_error() -> None:
    data = feed(RICH_ITEM, item("ep2"))
    with pytest.raises(FeedError) as error:
        parse_feed(data[: len(data) * 2 // 3], "u")
    assert "ends early" in one_line(error)


def test_empty_body_is_a_one_line_error() -> None:
    with pytest.raises(FeedError) as error:
        parse_feed(b"  \n", "u")
    assert "empty" in one_line(error)


def test_feed_is_fetched_over_http(file_server: FileServer) -> None:
    (file_server.root / "feed.xml").write_bytes(feed(RICH_ITEM))
    parsed = fetch_feed(file_server.url("feed.xml"), timeout=5)
    assert parsed.title == "Night Trains" and len(parsed.episodes) == 1


def test_feed_is_read_from_a_file_url(tmp_path: Path) -> None:
    path = tmp_path / "feed.xml"
    path.write_bytes(feed(RICH_ITEM))
    assert fetch_feed(path.as_uri()).title == "Night Trains"


def test_feed_that_404s_is_a_one_line_error(file_server: FileServer) -> None:
    with pytest.raises(FeedError) as error:
        fetch_feed(file_server.url("gone.xml"), timeout=5)
    assert "HTTP 404" in one_line(error)


def test_unreachable_server_is_a_one_line_error(refused_url: str) -> None:
    with pytest.raises(FeedError) as error:
        fetch_feed(refused_url, timeout=5)
    assert "connection refused" in one_line(error)


def test_server_that_never_answers_times_out(silent_url: str) -> None:
    started = time.monotonic()
    with pytest.raises(FeedError) as error:
        fetch_feed(silent_url, timeout=0.5)
    assert time.monotonic() - started < 5
    assert "no answer" in one_line(error) or "stopped sending" in one_line(error)


def test_missing_file_url_is_a_one_line_error(tmp_path: Path) -> None:
    with pytest.raises(FeedError) as error:
        fetch_feed((tmp_path / "nope.xml").as_uri())
    assert "No such file" in one_line(error)


def test_address_that_is_not_a_url_is_a_one_line_error() -> None:
    with pytest.raises(FeedError) as error:
        fetch_feed("trains.example/feed")
    assert "not an http, https or file address" in one_line(error)


def test_atom_podcast_is_read() -> None:
    atom = b"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom"><title>Atom Show</title>
<id>urn:show</id><updated>2024-01-01T00:00:00Z</updated>
<entry><title>First</title><id>urn:ep1</id><updated>2024-01-02T00:00:00Z</updated>
<link rel="enclosure" href="https://a.example/1.ogg" type="audio/ogg" length="99"/></entry>
</feed>"""
    parsed = parse_feed(atom, "u")
    assert parsed.title == "Atom Show"
    [episode] = parsed.episodes
    assert (episode.guid, episode.enclosure_url, episode.enclosure_type) == (
        "urn:ep1",
        "https://a.example/1.ogg",
        "audio/ogg",
    )
    assert episode.published == datetime(2024, 1, 2, tzinfo=UTC)


@pytest.mark.parametrize(
    ("tag", "code"),
    [("de-DE", "de"), ("de", "de"), ("EN-us", "en"), ("pt_BR", "pt"), ("", None), (None, None)],
)
def test_the_podcast_language_is_read_as_a_code(tag: str | None, code: str | None) -> None:
    language = f"<language>{tag}</language>" if tag is not None else ""
    feed = parse_feed((HEAD + language + item() + TAIL).encode(), "https://trains.example/f")
    assert feed.language == code


def test_refresh_stores_the_podcast_language_with_its_episodes(tmp_path: Path) -> None:
    from earmark.config.model import LibraryConfig
    from earmark.library.subscriptions import Subscriptions
    from earmark.store.catalog import Catalog
    from earmark.store.database import Database
    from earmark.store.podcasts import Podcasts

    path = tmp_path / "feed.xml"
    path.write_text(HEAD + "<language>de-AT</language>" + item() + TAIL)
    db = Database(tmp_path / "earmark.db")
    catalog = Catalog(db)
    podcasts = Podcasts(db)
    subscriptions = Subscriptions(db, catalog, podcasts, LibraryConfig())
    subscriptions.subscribe(path.as_uri())
    (episode,) = catalog.episodes()
    assert episode.language == "de"
    path.write_text(HEAD + item() + TAIL)  # the publisher drops the tag: no longer known
    (podcast,) = podcasts.all()
    subscriptions.refresh(podcast)
    (episode,) = catalog.episodes()
    assert episode.language is None
    db.close()


PODCASTING_20 = (
    '<rss version="2.0" xmlns:itunes="http://www.itunes.com/dtds/podcast-1.0.dtd"'
    ' xmlns:podcast="https://podcastindex.org/namespace/1.0"'
    ' xmlns:atom="http://www.w3.org/2005/Atom" xmlns:psc="http://podlove.org/simple-chapters">'
    "<channel><title>Night Trains</title>"
    "<podcast:guid>917393e3-1b1e-5cef-ace4-edaa54e1f810</podcast:guid>"
    "<itunes:explicit>false</itunes:explicit>"
    "<itunes:new-feed-url>https://moved.example/feed.xml</itunes:new-feed-url>"
    "<item><title>Vienna to Rome</title><guid>ep1</guid>"
    '<enclosure url="https://trains.example/1.mp3" type="audio/mpeg" length="1234"/>'
    "<itunes:season>2</itunes:season><itunes:episode>7</itunes:episode>"
    "<itunes:explicit>yes</itunes:explicit>"
    '<itunes:image href="https://trains.example/1.jpg"/>'
    '<podcast:soundbite startTime="73.0" duration="60.0">The Alps at dawn</podcast:soundbite>'
    '<podcast:soundbite startTime="1234.5" duration="42.25"/>'
    '<podcast:soundbite startTime="later" duration="10"/>'
    '<podcast:person role="guest" group="writing" href="https://ada.example/"'
    ' img="https://ada.example/ada.jpg">Ada Rail</podcast:person>'
    "<podcast:person>Bo Sleeper</podcast:person>"
    '<atom:link rel="http://podlove.org/simple-chapters" href="/chapters/1.psc"/>'
    '<psc:chapters version="1.2"><psc:chapter start="0" title="Welcome"/>'
    '<psc:chapter start="00:01:02.500" title="Brenner"/></psc:chapters>'
    "<description>&lt;p&gt;(00:00) Departure&lt;br&gt;(12:05) Brenner pass&lt;/p&gt;</description>"
    "</item>"
    "<item><title>Rome to Naples</title><guid>ep2</guid>"
    '<enclosure url="https://trains.example/2.mp3" type="audio/mpeg"/>'
    "<podcast:season>3</podcast:season><podcast:episode>12</podcast:episode>"
    '<podcast:images srcset="https://trains.example/2-600.jpg 600w,'
    ' https://trains.example/2-1500.jpg 1500w"/>'
    "</item></channel></rss>"
)


def test_podcasting_20_channel_fields_are_read() -> None:
    parsed = parse_feed(PODCASTING_20.encode(), "https://trains.example/feed.xml")
    assert parsed.podcast_guid == "917393e3-1b1e-5cef-ace4-edaa54e1f810"
    assert parsed.explicit is False
    assert parsed.new_url == "https://moved.example/feed.xml"
    assert parsed.duplicate_guids == 0


def test_podcasting_20_episode_fields_are_read() -> None:
    first, second = parse_feed(PODCASTING_20.encode(), "https://trains.example/feed.xml").episodes
    assert (first.season, first.number, first.explicit) == (2, 7, True)
    assert first.image == "https://trains.example/1.jpg"
    assert first.soundbites == (
        Soundbite(73.0, 60.0, "The Alps at dawn"),
        Soundbite(1234.5, 42.25, ""),
    )
    assert first.persons == (
        Person(
            "Ada Rail", "guest", "writing", "https://ada.example/", "https://ada.example/ada.jpg"
        ),
        Person("Bo Sleeper", "host", "cast", None, None),
    )
    assert first.chapters == (Chapter(0.0, "Welcome"), Chapter(62.5, "Brenner"))
    assert first.podlove_chapters_url == "https://trains.example/chapters/1.psc"
    assert first.notes_chapters == (Chapter(0.0, "Departure"), Chapter(725.0, "Brenner pass"))
    assert (second.season, second.number, second.explicit) == (3, 12, None)
    assert second.image == "https://trains.example/2-1500.jpg"
    assert (second.soundbites, second.persons, second.chapters) == ((), (), ())


def test_podcasting_20_fields_survive_a_broken_feed() -> None:
    broken = PODCASTING_20.replace("Rome to Naples", "Rome & Naples").encode()
    first, second = parse_feed(broken, "https://trains.example/feed.xml").episodes
    assert second.title == "Rome & Naples"
    assert (first.season, first.number, first.image) == (2, 7, "https://trains.example/1.jpg")
    assert first.chapters == (Chapter(0.0, "Welcome"), Chapter(62.5, "Brenner"))
    assert first.podlove_chapters_url == "https://trains.example/chapters/1.psc"


@pytest.mark.parametrize(
    "moved", ["file:///etc/feed.xml", "javascript:alert(1)", "ftp://moved.example/feed.xml"]
)
def test_a_new_feed_url_that_is_not_http_is_ignored(moved: str) -> None:
    data = PODCASTING_20.replace("https://moved.example/feed.xml", moved).encode()
    assert parse_feed(data, "https://trains.example/feed.xml").new_url is None


def transcript(
    kind: str, language: str | None = None, rel: str | None = None
) -> PublisherTranscript:
    return PublisherTranscript(f"https://t.example/{kind.replace('/', '-')}", kind, language, rel)


@pytest.mark.parametrize(
    ("offered", "language", "chosen"),
    [
        # timed before untimed, JSON before VTT before SRT
        (["text/plain", "text/html", "application/srt", "text/vtt"], None, "text/vtt"),
        (["text/srt", "application/json", "text/vtt"], "en", "application/json"),
        (["text/plain", "text/html"], None, "text/html"),
        (["text/srt"], "de", "text/srt"),
        (["application/x-subrip", "text/plain"], "de", "application/x-subrip"),
    ],
)
def test_choose_transcript_prefers_timed_formats(
    offered: list[str], language: str | None, chosen: str
) -> None:
    picked = choose_transcript([transcript(kind) for kind in offered], language)
    assert picked is not None and picked.type == chosen


def test_choose_transcript_prefers_the_podcasts_language_over_timing() -> None:
    offered = [
        transcript("application/json", "en"),
        transcript("text/html", "de-DE"),
        transcript("text/vtt", None),
    ]
    assert choose_transcript(offered, "de") == offered[1]
    assert choose_transcript(offered, "fr") == offered[2]  # unsaid beats another language
    assert choose_transcript(offered, None) == offered[0]


def test_choose_transcript_counts_captions_as_timed() -> None:
    offered = [transcript("text/plain"), transcript("text/html", rel="captions")]
    assert choose_transcript(offered, None) == offered[1]


def test_choose_transcript_skips_formats_it_cannot_read() -> None:
    assert choose_transcript([transcript("application/pdf")], "en") is None
    assert choose_transcript([], "en") is None


@pytest.mark.parametrize("mime", ["text/srt", "application/srt", "application/x-subrip"])
def test_srt_transcripts_are_read_under_every_type(mime: str) -> None:
    body = "1\r\n00:00:01,000 --> 00:00:02,500\r\nAll aboard\r\n\r\n"
    assert [(s.start, s.end, s.text) for s in parse_transcript(body, mime).segments] == [
        (1.0, 2.5, "All aboard")
    ]


def test_untimed_transcripts_are_read_as_text() -> None:
    html = b"<html><body><p>All aboard &amp; away</p><script>steal()</script><p>to Rome</p>"
    assert untimed_text(html, "text/html; charset=utf-8") == "All aboard & away to Rome"
    assert untimed_text("All\n\naboard  <b>", "text/plain") == "All aboard <b>"
    with pytest.raises(TranscriptFormatError):
        untimed_text("WEBVTT", "text/vtt")
