"""Episode chapters: from a Podcasting 2.0 JSON chapters file, Podlove Simple
Chapters (in the feed or in a document of their own), timestamps in the show
notes, or embedded in the audio file (ID3 CHAP, MP4 chapters) as ffprobe reads
them."""

from __future__ import annotations

import json
import logging
import math
import re
import subprocess
import xml.etree.ElementTree as ET
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from earmark.errors import FeedError
from earmark.library.download import DownloadError, fetch_bytes
from earmark.library.sanitize import plain_text

# one chapter type for the whole speaker: the player's
from earmark.player.state import Chapter

__all__ = [
    "Chapter",
    "chapters_from_notes",
    "embedded_chapters",
    "fetch_chapters",
    "parse_chapters_json",
    "parse_podlove",
    "podlove_chapters",
]

log = logging.getLogger(__name__)

PSC_NS = "http://podlove.org/simple-chapters"
MAX_TITLE = 1000
MAX_CHAPTERS = 1000
MAX_NOTES_LINES = 5000
# Normal Play Time as Podlove uses it: "01:35:52", "7:48", "35:12.250", "37"
_NPT = re.compile(r"^(?:npt:)?(?:(?:(\d+):)?(\d{1,2}):)?(\d{1,2}|\d+(?=$|\.))(\.\d+)?$")
# a line break in HTML show notes
_BREAK = re.compile(r"<\s*/?\s*(?:br|p|li|div|h[1-6]|tr)\b[^>]*>", re.IGNORECASE)
# "(04:32) Title", "04:32 - Title", "1:09:35 Title", "[00:12:05] Title", "• 12:05 Title"
_NOTES_LINE = re.compile(
    r"^[\s•·*–—-]*[(\[]?((?:\d{1,2}:)?\d{1,2}:\d{2})[)\]]?"
    r"(?:\s*[-–—:|]\s*|\s+)(?![ap]\.?m\b)(\S.*)$",
    re.IGNORECASE,
)


def fetch_chapters(url: str, timeout: float = 30.0) -> list[Chapter]:
    """The chapters in the file at ``url``: Podcasting 2.0 JSON, or a Podlove
    Simple Chapters document (XML or JSON). The URL comes from a feed: http(s) only."""
    try:
        data = fetch_bytes(url, timeout=timeout, limit=5 * 1024 * 1024, allow_file=False)
    except DownloadError as exc:
        raise FeedError(f"cannot fetch chapters {url}: {exc.reason}") from None
    if data.lstrip()[:1] == b"<":
        return parse_podlove(data, url)
    return parse_chapters_json(data, url)


def parse_chapters_json(data: bytes | str, source: str = "chapters") -> list[Chapter]:
    """Chapters from Podcasting 2.0 JSON, sorted by start; entries without a
    usable start time, and those hidden from the table of contents, are dropped."""
    try:
        document = json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise FeedError(f"{source} is not valid JSON chapters ({exc})") from None
    entries = document.get("chapters") if isinstance(document, dict) else None
    if not isinstance(entries, list):
        raise FeedError(f'{source} is not JSON chapters (no "chapters" list)')
    chapters: dict[float, Chapter] = {}
    for entry in entries:
        chapter = _chapter(entry)
        if chapter is None:
            log.debug("chapter dropped source=%s entry=%.200r", source, entry)
            continue
        chapters.setdefault(chapter.start, chapter)  # the first of two at one time wins
    return sorted(chapters.values(), key=lambda c: c.start)


def npt_seconds(text: object) -> float | None:
    """Seconds from a Podlove time ("00:01:02.500", "3:07", "37"), else None."""
    if not isinstance(text, str):
        return None
    match = _NPT.match(text.strip())
    if not match:
        return None
    hours, minutes, whole, fraction = match.groups()
    if minutes is not None and hours is not None and int(minutes) >= 60:
        return None
    if minutes is not None and int(whole) >= 60:
        return None
    return int(hours or 0) * 3600 + int(minutes or 0) * 60 + float(whole + (fraction or ""))


def podlove_chapters(marks: Iterable[tuple[object, object]]) -> list[Chapter]:
    """Chapters from Podlove (start, title) pairs, sorted by start; a mark
    without a readable start is dropped, the first of two at one time wins."""
    chapters: dict[float, Chapter] = {}
    for n, (start, title) in enumerate(marks):
        if n >= MAX_CHAPTERS:
            break
        seconds = npt_seconds(start)
        if seconds is None:
            log.debug("podlove chapter dropped start=%.40r", start)
            continue
        text = plain_text(title, MAX_TITLE) if isinstance(title, str) else ""
        chapters.setdefault(seconds, Chapter(seconds, text))
    return sorted(chapters.values(), key=lambda c: c.start)


def parse_podlove(data: bytes | str, source: str = "chapters") -> list[Chapter]:
    """Chapters from an external Podlove Simple Chapters document: the XML
    ``<psc:chapters>`` of the specification, or the JSON list Podlove's tools
    write (``[{"start": "00:01:02.500", "title": "..."}]``)."""
    text = data.decode("utf-8-sig", errors="replace") if isinstance(data, bytes) else data
    text = text.lstrip("\ufeff \t\r\n")
    if text.startswith(("[", "{")):
        return _podlove_json(text, source)
    if "<!DOCTYPE" in text or "<!ENTITY" in text:
        raise FeedError(f"{source} declares a DOCTYPE; refused as Podlove chapters")
    try:
        root = ET.fromstring(text)
    except ET.ParseError as exc:
        raise FeedError(f"{source} is not valid Podlove chapters XML ({exc})") from None
    marks = [
        (element.get("start"), element.get("title"))
        for element in root.iter()
        if element.tag in (f"{{{PSC_NS}}}chapter", "chapter")
    ]
    if not marks:
        raise FeedError(f"{source} holds no Podlove chapters (no psc:chapter)")
    return podlove_chapters(marks)


def _podlove_json(text: str, source: str) -> list[Chapter]:
    try:
        document = json.loads(text)
    except ValueError as exc:
        raise FeedError(f"{source} is not valid JSON chapters ({exc})") from None
    if isinstance(document, dict):
        document = document.get("chapters")
    if not isinstance(document, list):
        raise FeedError(f"{source} is not Podlove JSON chapters (no list of chapters)")
    return podlove_chapters(
        (entry.get("start"), entry.get("title")) for entry in document if isinstance(entry, dict)
    )


# a clock time anywhere in a line: the only lines worth cleaning and matching
_ANY_CLOCK = re.compile(r"\d:\d\d")


def chapters_from_notes(text: str) -> list[Chapter]:
    """Chapters from timestamps that start lines of show notes (plain text or
    HTML): "(04:32) Title", "04:32 - Title", "[1:09:35] Title", "• 12:05 Title".

    Only a list counts: at least two such lines whose times increase; a time
    inside a sentence ("at 3:30 pm we") is not a chapter."""
    lines = _BREAK.sub("\n", text).splitlines()[:MAX_NOTES_LINES]
    found: list[Chapter] = []
    for line in lines:
        if not _ANY_CLOCK.search(line):
            continue  # cheap: most lines (links "https:") never reach the sanitizer
        match = _NOTES_LINE.match(plain_text(line, MAX_TITLE + 16))
        start = _clock_seconds(match.group(1)) if match else None
        if match is None or start is None:
            continue
        found.append(Chapter(start, match.group(2).strip()))
    if len(found) < 2 or any(b.start <= a.start for a, b in zip(found, found[1:], strict=False)):
        return []
    return found[:MAX_CHAPTERS]


def _clock_seconds(stamp: str) -> float | None:
    """Seconds from "1:09:35" / "04:32"; None when minutes or seconds pass 59."""
    parts = [int(p) for p in stamp.split(":")]
    if parts[-1] >= 60 or (len(parts) == 3 and parts[1] >= 60):
        return None
    total = 0
    for part in parts:
        total = total * 60 + part
    return float(total)


def embedded_chapters(audio: Path) -> list[Chapter]:
    """Chapters embedded in ``audio``, read by ffprobe; empty when it has none."""
    try:
        result = subprocess.run(
            ["ffprobe", "-v", "error", "-show_chapters", "-of", "json", str(audio)],
            capture_output=True,
            text=True,
            timeout=30,
        )
    except FileNotFoundError:
        raise FeedError("ffprobe is missing; install ffmpeg") from None
    except subprocess.TimeoutExpired:
        raise FeedError(f"ffprobe took too long reading chapters of {audio}") from None
    if result.returncode != 0:
        reason = result.stderr.strip().splitlines()[-1:] or ["unknown error"]
        raise FeedError(f"cannot read chapters of {audio}: {reason[0]}")
    found: list[Chapter] = []
    for entry in json.loads(result.stdout).get("chapters", []):
        start = _seconds(entry.get("start_time"))
        if start is None:
            continue
        title = str((entry.get("tags") or {}).get("title", "")).strip()
        found.append(Chapter(start, title))
    return sorted(found, key=lambda c: c.start)


def _chapter(entry: Any) -> Chapter | None:
    if not isinstance(entry, dict) or entry.get("toc") is False:
        return None
    start = _seconds(entry.get("startTime"))
    if start is None:
        return None
    title = entry.get("title")
    return Chapter(start, title.strip() if isinstance(title, str) else "")


def _seconds(value: Any) -> float | None:
    """A non-negative, finite number of seconds (JSON and ffprobe give numbers
    or numeric strings), else None."""
    if isinstance(value, bool):
        return None
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        return None
    return seconds if math.isfinite(seconds) and seconds >= 0 else None
