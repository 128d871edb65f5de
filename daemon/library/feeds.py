"""Podcast feeds: the one module that reads RSS (through feedparser).

feedparser keeps only the last of repeated namespaced elements (an episode
often has several ``podcast:transcript``), so the Podcasting 2.0 elements are
read from the raw XML as well, and feedparser's view is the fallback when the
XML is too broken for a strict parser.
"""

from __future__ import annotations

import calendar
import logging
import re
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from xml.parsers import expat

import feedparser

from earmark.errors import FeedError
from earmark.library.download import DownloadError, fetch_bytes
from earmark.transcribe.base import language_code

log = logging.getLogger(__name__)

PODCAST_NS = "https://podcastindex.org/namespace/1.0"
# expat's ways of saying "the document stopped early": a cut-off download
_TRUNCATED = {
    expat.errors.codes[message]
    for message in (
        expat.errors.XML_ERROR_NO_ELEMENTS,
        expat.errors.XML_ERROR_UNCLOSED_TOKEN,
        expat.errors.XML_ERROR_PARTIAL_CHAR,
    )
}
_DURATION = re.compile(r"^(?:(?:(\d+):)?(\d+):)?(\d+(?:\.\d+)?)$")


@dataclass(frozen=True)
class PublisherTranscript:
    url: str
    type: str
    language: str | None = None


@dataclass(frozen=True)
class FeedEpisode:
    guid: str
    title: str
    description: str
    published: datetime | None  # UTC
    enclosure_url: str
    enclosure_type: str
    enclosure_length: int | None
    duration: float | None  # seconds, from itunes:duration
    chapters_url: str | None = None
    chapters_type: str | None = None
    transcripts: tuple[PublisherTranscript, ...] = ()


@dataclass(frozen=True)
class Feed:
    url: str
    title: str
    author: str
    description: str
    image: str | None
    link: str | None
    episodes: tuple[FeedEpisode, ...]
    # the podcast's language from RSS <language>, as a code ("de-DE" -> "de"); None if unsaid
    language: str | None = None


@dataclass(frozen=True)
class _Extras:
    """Podcasting 2.0 elements of one item, read from the raw XML."""

    chapters: tuple[str, str] | None
    transcripts: tuple[PublisherTranscript, ...]


def fetch_feed(url: str, timeout: float = 30.0) -> Feed:
    """Fetch and parse the feed at ``url`` (http, https or file)."""
    try:
        data = fetch_bytes(url, timeout=timeout)
    except DownloadError as exc:
        raise FeedError(f"cannot fetch feed {url}: {exc.reason}") from None
    return parse_feed(data, url)


def parse_feed(data: bytes, url: str) -> Feed:
    """The podcast and its playable episodes described by the feed ``data``."""
    if not data.strip():
        raise FeedError(f"feed {url} is empty; check the address")
    parsed = feedparser.parse(data, sanitize_html=True, resolve_relative_uris=False)
    if not parsed.get("version"):
        raise FeedError(f"{url} is not a podcast feed (no RSS or Atom in it); check the address")
    extras = _podcast_extras(data, url)
    channel = parsed.get("feed", {})
    if not channel.get("title") and not parsed.entries:
        raise FeedError(f"feed {url} has no podcast in it (no title, no episodes)")
    if parsed.get("bozo") and extras is None:
        log.warning(
            "feed not well-formed, read leniently url=%s error=%s",
            url,
            parsed.get("bozo_exception"),
        )
    episodes: list[FeedEpisode] = []
    seen: set[str] = set()
    for entry in parsed.entries:
        episode = _episode(entry, extras, url)
        if episode is None:
            continue
        if episode.guid in seen:
            log.warning(
                "feed episode skipped url=%s guid=%s reason=duplicate guid", url, episode.guid
            )
            continue
        seen.add(episode.guid)
        episodes.append(episode)
    image = channel.get("image", {})
    return Feed(
        url=url,
        title=str(channel.get("title", "")).strip() or url,
        author=str(channel.get("author", "")).strip(),
        description=str(channel.get("subtitle", "") or channel.get("summary", "")).strip(),
        image=image.get("href") or image.get("url") or None,
        link=channel.get("link") or None,
        episodes=tuple(episodes),
        language=language_code(str(channel.get("language") or "")),
    )


def parse_duration(text: str | None) -> float | None:
    """Seconds from ``itunes:duration`` ("3723", "62:03", "1:02:03", "1:02:03.5")."""
    match = _DURATION.match((text or "").strip())
    if not match:
        return None
    hours, minutes, seconds = match.groups()
    return int(hours or 0) * 3600 + int(minutes or 0) * 60 + float(seconds)


def _episode(
    entry: Mapping[str, Any], extras: dict[str, _Extras] | None, url: str
) -> FeedEpisode | None:
    enclosure = _enclosure(entry)
    title = str(entry.get("title", "")).strip()
    if enclosure is None:
        log.info("feed episode skipped url=%s title=%r reason=no audio enclosure", url, title)
        return None
    enclosure_url, enclosure_type, length = enclosure
    guid = str(entry.get("id") or "").strip() or enclosure_url
    found = (extras or {}).get(guid) or (extras or {}).get(enclosure_url)
    if found is None:
        # no strict parse: feedparser's view, which holds one transcript at most
        found = _extras_from_feedparser(entry)
    published = entry.get("published_parsed") or entry.get("updated_parsed")
    return FeedEpisode(
        guid=guid,
        title=title or guid,
        description=str(entry.get("summary", "")).strip(),
        published=datetime.fromtimestamp(calendar.timegm(published), UTC) if published else None,
        enclosure_url=enclosure_url,
        enclosure_type=enclosure_type,
        enclosure_length=length,
        duration=parse_duration(entry.get("itunes_duration")),
        chapters_url=found.chapters[0] if found.chapters else None,
        chapters_type=found.chapters[1] if found.chapters else None,
        transcripts=found.transcripts,
    )


def _enclosure(entry: Mapping[str, Any]) -> tuple[str, str, int | None] | None:
    """The episode's audio: its first audio (or video) enclosure, else its first."""
    enclosures = [
        link
        for link in entry.get("links", [])
        if link.get("rel") == "enclosure" and link.get("href")
    ]
    if not enclosures:
        return None
    playable = [e for e in enclosures if str(e.get("type", "")).startswith(("audio/", "video/"))]
    chosen = (playable or enclosures)[0]
    length = str(chosen.get("length", "")).strip()
    return (
        str(chosen["href"]).strip(),
        str(chosen.get("type", "")),
        int(length) if length.isdigit() and int(length) > 0 else None,
    )


def _podcast_extras(data: bytes, url: str) -> dict[str, _Extras] | None:
    """Podcasting 2.0 elements per item, keyed by guid and by enclosure URL;
    None when the XML is not well-formed."""
    try:
        root = ET.fromstring(data)
    except ET.ParseError as exc:
        if exc.code in _TRUNCATED:
            raise FeedError(
                f"feed {url} ends early ({exc}); the download was cut off, try again"
            ) from None
        return None
    extras: dict[str, _Extras] = {}
    for item in root.iter("item"):
        chapters = item.find(f"{{{PODCAST_NS}}}chapters")
        found = _Extras(
            chapters=(chapters.get("url", ""), chapters.get("type", "application/json+chapters"))
            if chapters is not None and chapters.get("url")
            else None,
            transcripts=tuple(
                PublisherTranscript(t.get("url", ""), t.get("type", ""), t.get("language"))
                for t in item.iter(f"{{{PODCAST_NS}}}transcript")
                if t.get("url")
            ),
        )
        guid = (item.findtext("guid") or "").strip()
        enclosure = item.find("enclosure")
        for key in (guid, enclosure.get("url", "").strip() if enclosure is not None else ""):
            if key:
                extras.setdefault(key, found)
    return extras


def _extras_from_feedparser(entry: Mapping[str, Any]) -> _Extras:
    chapters = entry.get("podcast_chapters") or {}
    transcript = entry.get("podcast_transcript") or {}
    return _Extras(
        chapters=(chapters["url"], chapters.get("type", "application/json+chapters"))
        if chapters.get("url")
        else None,
        transcripts=(
            PublisherTranscript(
                transcript["url"], transcript.get("type", ""), transcript.get("language")
            ),
        )
        if transcript.get("url")
        else (),
    )
