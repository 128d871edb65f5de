"""Publisher transcripts (Podcasting 2.0 ``<podcast:transcript>``) as ``Transcript``s.

A publisher's transcript is the best source for a snip when it is timed and
covers the window: WebVTT, SubRip (SRT) and the Podcasting 2.0 JSON format
are. ``text/plain`` and ``text/html`` carry no times, so they can never say
what was spoken in a window: ``parse_transcript`` rejects them with
``UntimedTranscriptError`` (the snip pipeline falls back to the next source),
and ``untimed_text`` gives their words as plain text for whoever wants to keep
them (search, show notes).

Cues become segments without word timings (sentence snapping then uses cue
edges). Times are episode times.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterable
from typing import Any

from earmark.errors import EarmarkError
from earmark.library.sanitize import plain_text
from earmark.transcribe.base import Segment, Transcript

SOURCE = "publisher"


class TranscriptFormatError(EarmarkError, ValueError):
    """A publisher transcript that cannot be read; the message says which and why."""


class UntimedTranscriptError(TranscriptFormatError):
    """A transcript without times (plain text, HTML): it cannot cover a window."""


TIMED_TYPES = {
    "text/vtt": "vtt",
    "application/x-subrip": "srt",
    "application/srt": "srt",
    "text/srt": "srt",
    "application/json": "json",
}
UNTIMED_TYPES = {"text/plain", "text/html"}
MAX_UNTIMED = 4 * 1024 * 1024  # characters of an untimed transcript kept

# 01:02:03.456, 02:03.456 (VTT may omit hours), 01:02:03,456 (SRT uses a comma)
_TIMESTAMP = r"(?:\d+:)?\d{1,2}:\d{2}[.,]\d{1,3}"
_CUE_TIMING = re.compile(rf"^\s*({_TIMESTAMP})\s*-->\s*({_TIMESTAMP})")
_TAG = re.compile(r"<[^>]*>")
_VOICE = re.compile(r"<v(?:\.[^\s>]*)?\s+([^>]*)>")


def parse_transcript(body: str | bytes, mime_type: str) -> Transcript:
    """Read a publisher transcript of type ``mime_type`` (as the feed names it)."""
    kind = mime_type.split(";")[0].strip().lower()
    if kind in UNTIMED_TYPES:
        raise UntimedTranscriptError(
            f"a {kind} transcript has no timings, so it cannot cover a snip's window"
        )
    form = TIMED_TYPES.get(kind)
    if form is None:
        raise TranscriptFormatError(f"transcript type '{mime_type}' is not VTT, SRT or JSON")
    if isinstance(body, bytes):
        body = body.decode("utf-8-sig", errors="replace")
    body = body.lstrip("\ufeff")
    segments = _parse_json(body) if form == "json" else _parse_cues(body, vtt=form == "vtt")
    return Transcript(segments=tuple(sorted(segments, key=lambda s: s.start)), source=SOURCE)


def untimed_text(body: str | bytes, mime_type: str) -> str:
    """The words of an untimed publisher transcript (``text/plain``: as
    written; ``text/html``: its text, tags and scripts removed), whitespace
    collapsed, at most ``MAX_UNTIMED`` characters."""
    kind = mime_type.split(";")[0].strip().lower()
    if kind not in UNTIMED_TYPES:
        raise TranscriptFormatError(f"transcript type '{mime_type}' is not plain text or HTML")
    if isinstance(body, bytes):
        body = body[: 4 * MAX_UNTIMED].decode("utf-8-sig", errors="replace")
    body = body.lstrip("\ufeff")
    if kind == "text/plain":
        return " ".join(body[:MAX_UNTIMED].split())
    return plain_text(body, MAX_UNTIMED)


def seconds(stamp: str) -> float:
    """``01:02:03.456`` / ``02:03,456`` -> seconds."""
    parts = stamp.replace(",", ".").split(":")
    total = 0.0
    for part in parts:
        total = total * 60 + float(part)
    return total


def _parse_cues(body: str, *, vtt: bool) -> list[Segment]:
    lines = body.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    if vtt and not lines[0].startswith("WEBVTT"):
        raise TranscriptFormatError("a text/vtt transcript must start with 'WEBVTT'")
    segments: list[Segment] = []
    i = 0
    while i < len(lines):
        timing = _CUE_TIMING.match(lines[i])
        if not timing:
            if "-->" in lines[i]:
                raise TranscriptFormatError(
                    f"transcript line {i + 1} has a malformed cue timing: {lines[i].strip()[:80]}"
                )
            i += 1
            continue
        start, end = seconds(timing.group(1)), seconds(timing.group(2))
        if end < start:
            raise TranscriptFormatError(
                f"transcript line {i + 1} has a cue that ends before it starts"
            )
        i += 1
        text_lines: list[str] = []
        while i < len(lines) and lines[i].strip():
            text_lines.append(lines[i].strip())
            i += 1
        text = _clean(" ".join(text_lines))
        if text:
            segments.append(Segment(start, end, text))
    if not segments:
        raise TranscriptFormatError("the transcript holds no timed cues")
    return segments


def _clean(text: str) -> str:
    text = _VOICE.sub("", text)  # WebVTT voice spans: <v Alice>hello</v>
    return " ".join(html.unescape(_TAG.sub("", text)).split())


def _parse_json(body: str) -> list[Segment]:
    try:
        data: Any = json.loads(body)
    except ValueError as exc:
        raise TranscriptFormatError(f"the JSON transcript is not valid JSON ({exc})") from exc
    raw = data.get("segments") if isinstance(data, dict) else None
    if not isinstance(raw, list):
        raise TranscriptFormatError("the JSON transcript has no 'segments' list")
    segments = list(_json_segments(raw))
    if not segments:
        raise TranscriptFormatError("the JSON transcript holds no timed segments")
    return segments


def _json_segments(raw: Iterable[Any]) -> Iterable[Segment]:
    for n, item in enumerate(raw):
        try:
            start, end = float(item["startTime"]), float(item["endTime"])
            body = str(item.get("body", ""))
        except (KeyError, TypeError, ValueError) as exc:
            raise TranscriptFormatError(
                f"JSON transcript segment {n} lacks a numeric startTime/endTime"
            ) from exc
        if end < start:
            raise TranscriptFormatError(f"JSON transcript segment {n} ends before it starts")
        text = _clean(body)
        if text:
            yield Segment(start, end, text)


def covers(transcript: Transcript, start: float, end: float, *, slack: float = 2.0) -> bool:
    """True when the transcript's timed text spans [start, end] (within ``slack`` seconds).

    Gaps inside (music, a pause) are fine; a transcript that stops before the
    window ends (a preview, a truncated file) is not.
    """
    spoken = [s for s in transcript.segments if s.text.strip()]
    if not spoken or end <= start:
        return False
    first = min(s.start for s in spoken)
    last = max(s.end for s in spoken)
    overlaps = any(s.end > start and s.start < end for s in spoken)
    return overlaps and first <= start + slack and last >= end - slack


def window_text(transcript: Transcript, start: float, end: float) -> str:
    """The text of the cues that lie mostly inside [start, end]."""
    picked = [
        s.text.strip()
        for s in transcript.segments
        if s.text.strip()
        and (
            min(s.end, end) - max(s.start, start) > 0.5 * (s.end - s.start)
            or (s.start <= start and s.end >= end)  # one cue longer than the window
        )
    ]
    return " ".join(picked)
