"""Episode chapters: from a Podcasting 2.0 JSON chapters file, or embedded in
the audio file (ID3 CHAP, MP4 chapters) as ffprobe reads them."""

from __future__ import annotations

import json
import logging
import math
import subprocess
from pathlib import Path
from typing import Any

from earmark.errors import FeedError
from earmark.library.download import DownloadError, fetch_bytes

# one chapter type for the whole speaker: the player's
from earmark.player.state import Chapter

__all__ = ["Chapter", "embedded_chapters", "fetch_chapters", "parse_chapters_json"]

log = logging.getLogger(__name__)


def fetch_chapters(url: str, timeout: float = 30.0) -> list[Chapter]:
    """The chapters in the Podcasting 2.0 JSON file at ``url``."""
    try:
        data = fetch_bytes(url, timeout=timeout, limit=5 * 1024 * 1024)
    except DownloadError as exc:
        raise FeedError(f"cannot fetch chapters {url}: {exc.reason}") from None
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
