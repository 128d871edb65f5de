"""Payloads that cross a process boundary (MQTT, the control socket), versioned.

Every JSON payload carries ``schema``; readers refuse versions they don't know.
The dashboard will import this module, and only this one, from the core.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

SCHEMA = 1


@dataclass(frozen=True)
class HighlightPayload:
    id: str
    version: int
    status: str
    device_id: str
    pressed_at: str
    updated_at: str
    input_source: str
    podcast: str
    episode: str
    source_url: str
    press_position: float
    start: float
    end: float
    transcript: str | None = None
    transcript_source: str | None = None
    title: str | None = None
    takeaways: list[str] = field(default_factory=list)
    clip_seconds: float | None = None
    error: str | None = None
    schema: int = SCHEMA
    # why ``transcript`` is None, when the listener should know (e.g. "the Whisper model
    # ... is English-only and cannot transcribe 'de'"); None otherwise
    transcript_unavailable: str | None = None
    # passages of ``transcript`` heard with low confidence (never made into takeaways)
    low_confidence: list[str] = field(default_factory=list)

    def to_json(self) -> bytes:
        return json.dumps(asdict(self), ensure_ascii=False).encode()

    @classmethod
    def from_json(cls, data: bytes | str) -> HighlightPayload:
        raw: dict[str, Any] = json.loads(data)
        if raw.get("schema") != SCHEMA:
            raise ValueError(f"highlight payload schema {raw.get('schema')!r} is not {SCHEMA}")
        known = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in raw.items() if k in known})


@dataclass(frozen=True)
class StatePayload:
    status: str
    podcast: str = ""
    episode: str = ""
    episode_id: int | None = None
    position: float = 0.0
    duration: float | None = None
    chapter: str | None = None
    chapter_index: int | None = None
    # the episode's chapters: [{"start": seconds, "title": ...}, ...]
    chapters: list[dict[str, Any]] = field(default_factory=list)
    speed: float = 1.0
    volume: float = 100.0
    queue_length: int = 0
    schema: int = SCHEMA

    def to_json(self) -> bytes:
        return json.dumps(asdict(self), ensure_ascii=False).encode()
