"""Podcast feeds: the one module that reads RSS (through feedparser).

A feed is a stranger's document. Before feedparser sees it, a streaming
pre-pass (``sanitize.slim_xml``) decodes it, caps every text run and
attribute, drops DTD entities and live items, and tells a download cut off
mid-way from a feed that merely lacks its last closing tags. What is kept is
plain text, sanitised HTML or an http(s) URL, each of capped length.

feedparser keeps only the last of repeated namespaced elements (an episode
often has several ``podcast:transcript``), so the Podcasting 2.0 elements are
read from the slimmed XML as well, and feedparser's view is the fallback when
the XML is too broken for a strict parser.
"""

from __future__ import annotations

import calendar
import logging
import math
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import feedparser

from earmark.errors import FeedError
from earmark.library.chapters import (
    PSC_NS,
    Chapter,
    chapters_from_notes,
    podlove_chapters,
)
from earmark.library.download import DownloadError, fetch_bytes
from earmark.library.sanitize import (
    document_encoding,
    plain_text,
    safe_html,
    slim_xml,
    web_url,
)
from earmark.library.transcripts import TIMED_TYPES
from earmark.transcribe.base import language_code

log = logging.getLogger(__name__)

PODCAST_NS = "https://podcastindex.org/namespace/1.0"
ITUNES_NS = "http://www.itunes.com/dtds/podcast-1.0.dtd"
ATOM_NS = "http://www.w3.org/2005/Atom"

MAX_TITLE = 1_000  # characters of a title, author, name
MAX_DESCRIPTION = 64 * 1024  # characters of a description (HTML)
MAX_URL = 2_048
MAX_EPISODES = 5_000  # the newest are kept
MAX_PER_EPISODE = 64  # transcripts, persons, soundbites of one episode
MAX_TEXT_RUN = 2 * MAX_DESCRIPTION  # any text node, cut by the pre-pass
MAX_ATTRIBUTE = 2 * MAX_URL
_SHORT = 100  # a MIME type, a role, a language tag
_NOT_EPISODES = frozenset({"liveItem"})  # podcast:liveItem: a live stream, not an episode
_EPISODE_TAGS = ("item", "entry")
# the lenient path (XML too broken for the pre-pass) cuts the same things on bytes
_LIVE_ITEM = re.compile(rb"<(?:[\w.-]+:)?liveItem\b.*?</(?:[\w.-]+:)?liveItem\s*>", re.DOTALL)
_LONG_RUN = re.compile(rb"(?<![^<])[^<]{%d,}" % MAX_TEXT_RUN)
_EPISODE_START = re.compile(rb"<(?:item|entry)[\s>/]")
_EPISODE_END = re.compile(rb"</(?:item|entry)\s*>")
_DURATION = re.compile(r"^(?:(?:(\d+):)?(\d+):)?(\d+(?:\.\d+)?)$")
_TRUE = {"yes", "true", "explicit"}
_FALSE = {"no", "false", "clean"}
# publisher transcript formats, best first within timed and within untimed
_TRANSCRIPT_RANK = {
    kind: n
    for n, kind in enumerate(
        (
            "application/json",
            "text/vtt",
            "application/x-subrip",
            "application/srt",
            "text/srt",
            "text/html",
            "text/plain",
        )
    )
}


@dataclass(frozen=True)
class PublisherTranscript:
    url: str
    type: str
    language: str | None = None
    rel: str | None = None  # "captions": timed by promise


@dataclass(frozen=True)
class Soundbite:
    """A moment the publisher suggests as a preview (``podcast:soundbite``)."""

    start: float
    duration: float
    title: str = ""


@dataclass(frozen=True)
class Person:
    """Someone on the episode (``podcast:person``)."""

    name: str
    role: str = "host"
    group: str = "cast"
    href: str | None = None
    img: str | None = None


@dataclass(frozen=True)
class FeedEpisode:
    guid: str
    title: str
    description: str  # sanitised HTML
    published: datetime | None  # UTC
    enclosure_url: str
    enclosure_type: str
    enclosure_length: int | None
    duration: float | None  # seconds, from itunes:duration
    chapters_url: str | None = None
    chapters_type: str | None = None
    transcripts: tuple[PublisherTranscript, ...] = ()
    season: int | None = None
    number: int | None = None
    explicit: bool | None = None
    image: str | None = None
    soundbites: tuple[Soundbite, ...] = ()
    persons: tuple[Person, ...] = ()
    chapters: tuple[Chapter, ...] = ()  # inline Podlove Simple Chapters
    podlove_chapters_url: str | None = None  # external Podlove Simple Chapters
    notes_chapters: tuple[Chapter, ...] = ()  # timestamps listed in the description


@dataclass(frozen=True)
class Feed:
    url: str
    title: str
    author: str
    description: str  # sanitised HTML
    image: str | None
    link: str | None
    episodes: tuple[FeedEpisode, ...]
    # the podcast's language from RSS <language>, as a code ("de-DE" -> "de"); None if unsaid
    language: str | None = None
    podcast_guid: str | None = None
    explicit: bool | None = None
    new_url: str | None = None  # itunes:new-feed-url: the podcast has moved
    duplicate_guids: int = 0  # items dropped because an earlier one had their guid


@dataclass(frozen=True)
class _Extras:
    """Elements of one item feedparser reads poorly, read from the XML."""

    chapters: tuple[str, str] | None = None
    transcripts: tuple[PublisherTranscript, ...] = ()
    season: int | None = None
    number: int | None = None
    explicit: bool | None = None
    image: str | None = None
    soundbites: tuple[Soundbite, ...] = ()
    persons: tuple[Person, ...] = ()
    psc: tuple[Chapter, ...] = ()
    podlove_url: str | None = None


def fetch_feed(url: str, timeout: float = 30.0) -> Feed:
    """Fetch and parse the feed at ``url`` (http, https or file)."""
    try:
        data = fetch_bytes(url, timeout=timeout)
    except DownloadError as exc:
        raise FeedError(f"cannot fetch feed {url}: {exc.reason}") from None
    return parse_feed(data, url)


def parse_feed(data: bytes, url: str, content_type: str | None = None) -> Feed:
    """The podcast and its playable episodes described by the feed ``data``;
    ``content_type`` is the HTTP Content-Type it came with (its charset)."""
    if not data or data.isspace():
        raise FeedError(f"feed {url} is empty; check the address")
    document, encoding, strict = _prepared(data, url, content_type)
    # nh3 (sanitize.safe_html) is the one sanitiser: feedparser's own would
    # cost a sixth of the parse of a long feed and be redone anyway
    parsed = feedparser.parse(
        document,
        sanitize_html=False,
        resolve_relative_uris=False,
        response_headers={"content-type": f"application/xml; charset={encoding}"},
    )
    if not parsed.get("version"):
        raise FeedError(f"{url} is not a podcast feed (no RSS or Atom in it); check the address")
    root = _tree(document) if strict else None
    channel = parsed.get("feed", {})
    if not channel.get("title") and not parsed.entries:
        raise FeedError(f"feed {url} has no podcast in it (no title, no episodes)")
    extras = _podcast_extras(root, url) if root is not None else None
    episodes, duplicates = _episodes(parsed.entries, extras, url)
    image = channel.get("image", {})
    found = root.find("channel") if root is not None else None
    return Feed(
        url=url,
        title=plain_text(str(channel.get("title", "")), MAX_TITLE) or url,
        author=plain_text(str(channel.get("author", "")), MAX_TITLE),
        description=safe_html(
            str(channel.get("subtitle", "") or channel.get("summary", "")), MAX_DESCRIPTION
        ),
        image=web_url(image.get("href") or image.get("url"), url, MAX_URL),
        link=web_url(channel.get("link"), url, MAX_URL),
        episodes=episodes,
        language=language_code(str(channel.get("language") or "")[:_SHORT]),
        podcast_guid=plain_text(str(channel.get("podcast_guid", "")), _SHORT) or None,
        explicit=_explicit(found.findtext(f"{{{ITUNES_NS}}}explicit"))
        if found is not None
        else (True if channel.get("itunes_explicit") else None),
        new_url=web_url(channel.get("itunes_new-feed-url"), url, MAX_URL),
        duplicate_guids=duplicates,
    )


def choose_transcript(
    transcripts: Iterable[PublisherTranscript], language: str | None
) -> PublisherTranscript | None:
    """The publisher transcript to use: one in the podcast's ``language`` first
    (one that does not say its language next), then timed (JSON, VTT, SRT, or
    ``rel="captions"``) before untimed (HTML, plain text); None when none is in
    a format earmark reads."""
    wanted = language_code(language)

    def rank(transcript: PublisherTranscript) -> tuple[int, int, int]:
        kind = _mime(transcript.type)
        spoken = language_code(transcript.language)
        fit = 0 if wanted and spoken == wanted else 1 if not (wanted and spoken) else 2
        timed = kind in TIMED_TYPES or (transcript.rel or "").lower() == "captions"
        return fit, 0 if timed else 1, _TRANSCRIPT_RANK[kind]

    usable = [t for t in transcripts if _mime(t.type) in _TRANSCRIPT_RANK]
    return min(usable, key=rank) if usable else None


def parse_duration(text: str | None) -> float | None:
    """Seconds from ``itunes:duration`` ("3723", "62:03", "1:02:03", "1:02:03.5")."""
    match = _DURATION.match((text or "").strip()[:_SHORT])
    if not match:
        return None
    hours, minutes, seconds = match.groups()
    return int(hours or 0) * 3600 + int(minutes or 0) * 60 + float(seconds)


def _prepared(data: bytes, url: str, content_type: str | None) -> tuple[bytes, str, bool]:
    """The document feedparser reads, its encoding, and whether it is
    well-formed XML (then the Podcasting 2.0 elements are read from it too)."""
    encoding = document_encoding(data, content_type)
    slim = slim_xml(
        data,
        encoding,
        text_limit=MAX_TEXT_RUN,
        attribute_limit=MAX_ATTRIBUTE,
        drop=_NOT_EPISODES,
    )
    if slim.skipped_entities:
        log.warning("feed entities ignored url=%s count=%d", url, slim.skipped_entities)
    if slim.error is None:
        return slim.xml, "utf-8", True
    if slim.ends_early:
        cut_mid_episode = any(
            name.rpartition(":")[2] in _EPISODE_TAGS for name in slim.open_elements
        )
        if cut_mid_episode or (slim.unfinished and not slim.unfinished.startswith("</")):
            raise FeedError(
                f"feed {url} ends early ({slim.error}); the download was cut off, try again"
            )
        log.warning("feed lacks its closing tags, read leniently url=%s error=%s", url, slim.error)
        return slim.xml, "utf-8", True
    # not well-formed XML: feedparser's loose parser reads the bytes themselves
    last_end = max((m.end() for m in _EPISODE_END.finditer(data[-MAX_TEXT_RUN:])), default=-1)
    tail = data[-MAX_TEXT_RUN:][last_end if last_end >= 0 else 0 :]
    if last_end >= 0 and _EPISODE_START.search(tail):
        raise FeedError(
            f"feed {url} ends early (inside an episode); the download was cut off, try again"
        )
    log.warning("feed not well-formed, read leniently url=%s error=%s", url, slim.error)
    data = _LIVE_ITEM.sub(b"", data)
    return _LONG_RUN.sub(lambda m: m.group(0)[:MAX_TEXT_RUN], data), encoding, False


def _tree(document: bytes) -> ET.Element | None:
    try:
        return ET.fromstring(document)
    except ET.ParseError:  # an undeclared namespace prefix: feedparser's view only
        return None


def _episodes(
    entries: list[Any], extras: dict[str, _Extras] | None, url: str
) -> tuple[tuple[FeedEpisode, ...], int]:
    """The playable episodes, the first of each guid, at most MAX_EPISODES
    (the newest); and how many were dropped as duplicates."""
    episodes: list[FeedEpisode] = []
    seen: set[str] = set()
    duplicates = 0
    for entry in entries:
        episode = _episode(entry, extras, url)
        if episode is None:
            continue
        if episode.guid in seen:
            duplicates += 1
            continue
        seen.add(episode.guid)
        episodes.append(episode)
    if duplicates:
        log.warning("feed episodes skipped url=%s count=%d reason=duplicate guid", url, duplicates)
    if len(episodes) > MAX_EPISODES:
        oldest = datetime.min.replace(tzinfo=UTC)
        newest = sorted(episodes, key=lambda e: e.published or oldest, reverse=True)
        kept = {id(e) for e in newest[:MAX_EPISODES]}
        log.info(
            "feed episodes dropped url=%s count=%d reason=more than %d",
            url,
            len(episodes) - MAX_EPISODES,
            MAX_EPISODES,
        )
        episodes = [e for e in episodes if id(e) in kept]
    return tuple(episodes), duplicates


def _episode(
    entry: Mapping[str, Any], extras: dict[str, _Extras] | None, url: str
) -> FeedEpisode | None:
    enclosure = _enclosure(entry, url)
    title = plain_text(str(entry.get("title", "")), MAX_TITLE)
    if enclosure is None:
        log.info("feed episode skipped url=%s title=%r reason=no audio enclosure", url, title)
        return None
    enclosure_url, enclosure_type, length = enclosure
    guid = str(entry.get("id") or "").strip()[:MAX_URL] or enclosure_url
    found = (extras or {}).get(guid) or (extras or {}).get(enclosure_url)
    if found is None:
        # no strict parse: feedparser's view, which holds one of each at most
        found = _extras_from_feedparser(entry, url)
    published = entry.get("published_parsed") or entry.get("updated_parsed")
    description = safe_html(str(entry.get("summary", "")), MAX_DESCRIPTION)
    return FeedEpisode(
        guid=guid,
        title=title or guid,
        description=description,
        published=datetime.fromtimestamp(calendar.timegm(published), UTC) if published else None,
        enclosure_url=enclosure_url,
        enclosure_type=enclosure_type,
        enclosure_length=length,
        duration=parse_duration(entry.get("itunes_duration")),
        chapters_url=found.chapters[0] if found.chapters else None,
        chapters_type=found.chapters[1] if found.chapters else None,
        transcripts=found.transcripts,
        season=found.season,
        number=found.number,
        explicit=found.explicit,
        image=found.image,
        soundbites=found.soundbites,
        persons=found.persons,
        chapters=found.psc,
        podlove_chapters_url=found.podlove_url,
        notes_chapters=tuple(chapters_from_notes(description)),
    )


def _enclosure(entry: Mapping[str, Any], url: str) -> tuple[str, str, int | None] | None:
    """The episode's audio: its first audio (or video) enclosure, else its
    first; only http(s) ones count."""
    enclosures = [
        (href, link)
        for link in entry.get("links", [])
        if link.get("rel") == "enclosure"
        and (href := web_url(link.get("href"), url, MAX_URL)) is not None
    ]
    if not enclosures:
        return None
    playable = [e for e in enclosures if str(e[1].get("type", "")).startswith(("audio/", "video/"))]
    href, chosen = (playable or enclosures)[0]
    length = str(chosen.get("length", "")).strip()[:_SHORT]
    return (
        href,
        str(chosen.get("type", ""))[:_SHORT],
        int(length) if length.isdigit() and int(length) > 0 else None,
    )


def _podcast_extras(root: ET.Element, url: str) -> dict[str, _Extras]:
    """Podcasting 2.0 (and iTunes, Podlove) elements per item, keyed by guid
    and by enclosure URL."""
    extras: dict[str, _Extras] = {}
    for item in root.iter("item"):
        found = _item_extras(item, url)
        guid = (item.findtext("guid") or "").strip()[:MAX_URL]
        enclosure = item.find("enclosure")
        href = web_url(enclosure.get("url"), url, MAX_URL) if enclosure is not None else None
        for key in (guid, href):
            if key:
                extras.setdefault(key, found)
    return extras


def _item_extras(item: ET.Element, url: str) -> _Extras:
    def podcast(name: str) -> str:
        return f"{{{PODCAST_NS}}}{name}"

    def itunes(name: str) -> str:
        return f"{{{ITUNES_NS}}}{name}"

    chapters = item.find(podcast("chapters"))
    chapters_url = web_url(chapters.get("url"), url, MAX_URL) if chapters is not None else None
    image = item.find(itunes("image"))
    images = item.find(podcast("images"))
    psc = item.find(f"{{{PSC_NS}}}chapters")
    return _Extras(
        chapters=(
            chapters_url,
            (chapters.get("type") or "application/json+chapters")[:_SHORT],
        )
        if chapters is not None and chapters_url
        else None,
        transcripts=_transcripts(
            [
                (t.get("url"), t.get("type"), t.get("language"), t.get("rel"))
                for t in item.iter(podcast("transcript"))
            ],
            url,
        ),
        season=_number(item.findtext(itunes("season")) or item.findtext(podcast("season"))),
        number=_number(item.findtext(itunes("episode")) or item.findtext(podcast("episode"))),
        explicit=_explicit(item.findtext(itunes("explicit"))),
        image=(web_url(image.get("href"), url, MAX_URL) if image is not None else None)
        or (_largest(images.get("srcset"), url) if images is not None else None),
        soundbites=_soundbites(
            (s.get("startTime"), s.get("duration"), s.text or "")
            for s in item.iter(podcast("soundbite"))
        ),
        persons=_persons(
            [
                (p.text or "", p.get("role"), p.get("group"), p.get("href"), p.get("img"))
                for p in item.iter(podcast("person"))
            ],
            url,
        ),
        psc=tuple(
            podlove_chapters(
                (c.get("start"), c.get("title")) for c in psc.iter(f"{{{PSC_NS}}}chapter")
            )
        )
        if psc is not None
        else (),
        podlove_url=next(
            (
                found
                for link in item.iter(f"{{{ATOM_NS}}}link")
                if link.get("rel") == PSC_NS and (found := web_url(link.get("href"), url, MAX_URL))
            ),
            None,
        ),
    )


def _extras_from_feedparser(entry: Mapping[str, Any], url: str) -> _Extras:
    chapters = entry.get("podcast_chapters") or {}
    transcript = entry.get("podcast_transcript") or {}
    chapters_url = web_url(chapters.get("url"), url, MAX_URL)
    images = entry.get("podcast_images") or {}
    psc = entry.get("psc_chapters") or {}
    return _Extras(
        chapters=(chapters_url, str(chapters.get("type") or "application/json+chapters")[:_SHORT])
        if chapters_url
        else None,
        transcripts=_transcripts(
            [
                (
                    transcript.get("url"),
                    transcript.get("type"),
                    transcript.get("language"),
                    transcript.get("rel"),
                )
            ],
            url,
        ),
        season=_number(entry.get("itunes_season") or entry.get("podcast_season")),
        number=_number(entry.get("itunes_episode") or entry.get("podcast_episode")),
        explicit=True if entry.get("itunes_explicit") else None,
        image=web_url((entry.get("image") or {}).get("href"), url, MAX_URL)
        or _largest(images.get("srcset"), url),
        psc=tuple(
            podlove_chapters((c.get("start"), c.get("title")) for c in psc.get("chapters", []))
        ),
        podlove_url=next(
            (
                found
                for link in entry.get("links", [])
                if link.get("rel") == PSC_NS and (found := web_url(link.get("href"), url, MAX_URL))
            ),
            None,
        ),
    )


def _transcripts(
    found: Iterable[tuple[str | None, str | None, str | None, str | None]], url: str
) -> tuple[PublisherTranscript, ...]:
    transcripts: list[PublisherTranscript] = []
    for href, kind, language, rel in found:
        if len(transcripts) >= MAX_PER_EPISODE:
            break
        if (absolute := web_url(href, url, MAX_URL)) is None:
            continue
        transcripts.append(
            PublisherTranscript(
                absolute,
                (kind or "").strip()[:_SHORT],
                (language or "").strip()[:_SHORT] or None,
                (rel or "").strip()[:_SHORT] or None,
            )
        )
    return tuple(transcripts)


def _soundbites(found: Iterable[tuple[str | None, str | None, str]]) -> tuple[Soundbite, ...]:
    soundbites: list[Soundbite] = []
    for start, duration, title in found:
        if len(soundbites) >= MAX_PER_EPISODE:
            break
        begins, lasts = _seconds(start), _seconds(duration)
        if begins is not None and lasts:
            soundbites.append(Soundbite(begins, lasts, plain_text(title, MAX_TITLE)))
    return tuple(soundbites)


def _persons(
    found: Iterable[tuple[str, str | None, str | None, str | None, str | None]], url: str
) -> tuple[Person, ...]:
    persons: list[Person] = []
    for name, role, group, href, img in found:
        if len(persons) >= MAX_PER_EPISODE:
            break
        if not (text := plain_text(name, MAX_TITLE)):
            continue
        persons.append(
            Person(
                text,
                plain_text(role or "", _SHORT).lower() or "host",
                plain_text(group or "", _SHORT).lower() or "cast",
                web_url(href, url, MAX_URL),
                web_url(img, url, MAX_URL),
            )
        )
    return tuple(persons)


def _largest(srcset: object, url: str) -> str | None:
    """The widest image of a ``podcast:images`` srcset ("a.jpg 1500w, b.jpg 600w")."""
    if not isinstance(srcset, str):
        return None
    best: tuple[int, str] | None = None
    for candidate in srcset[:MAX_ATTRIBUTE].split(",")[:MAX_PER_EPISODE]:
        parts = candidate.split()
        if not parts or (href := web_url(parts[0], url, MAX_URL)) is None:
            continue
        width = parts[1][:-1] if len(parts) > 1 and parts[1].endswith("w") else "0"
        size = int(width) if width.isdigit() else 0
        if best is None or size > best[0]:
            best = (size, href)
    return best[1] if best else None


def _number(text: object) -> int | None:
    """A season or episode number: a whole, non-negative number, else None."""
    if not isinstance(text, str):
        return None
    try:
        value = float(text.strip()[:_SHORT])
    except ValueError:
        return None
    return int(value) if math.isfinite(value) and value.is_integer() and value >= 0 else None


def _explicit(text: str | None) -> bool | None:
    word = (text or "").strip().lower()[:_SHORT]
    return True if word in _TRUE else False if word in _FALSE else None


def _seconds(text: str | None) -> float | None:
    try:
        value = float((text or "").strip()[:_SHORT])
    except ValueError:
        return None
    return value if math.isfinite(value) and value >= 0 else None


def _mime(kind: str) -> str:
    return kind.split(";")[0].strip().lower()
