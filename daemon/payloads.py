"""Payloads that cross a process boundary (MQTT, the control socket), versioned.

Every JSON payload carries ``schema``; readers refuse versions they don't know.
The dashboard imports this module, and only this one, from the core: the
highlight and state it reads, and the commands it may send (:data:`COMMANDS`,
checked by :func:`check_command` on both sides).
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from typing import Any

from earmark.errors import EarmarkError

SCHEMA = 1
MIN_SPEED, MAX_SPEED = 0.5, 3.0
# a command is a few fields; anything larger is refused before it is decoded
MAX_COMMAND_BYTES = 64 * 1024


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
    # the listener's own: a note, a star, tags; a deleted highlight is still published
    # (with deleted true) so every consumer hides it, and an undo is one more version
    note: str = ""
    starred: bool = False
    tags: list[str] = field(default_factory=list)
    deleted: bool = False
    # the sentence the listener pressed for, word for word, and where it begins in the
    # episode (seconds); what wrote title and takeaways ("minilm 1"), and why it is
    # not the configured summarizer when it is not (its model missing, the LLM timed out)
    quote: str | None = None
    quote_at: float | None = None
    summarizer: str | None = None
    summary_fallback: str | None = None
    # the episode in the speaker's library (its key points come on episode/<id>) and
    # its artwork (the episode's image, else the podcast's; a URL from the feed)
    episode_id: int | None = None
    artwork: str | None = None

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
class EpisodePayload:
    """An episode's key points (``episode/<episode_id>``, retained), once the
    look-ahead has transcribed all of it."""

    episode_id: int
    device_id: str
    podcast: str
    episode: str
    guid: str
    # [{"text": ..., "at": seconds into the episode}, ...] in the episode's order
    key_points: list[dict[str, Any]]
    summarizer: str
    schema: int = SCHEMA

    def to_json(self) -> bytes:
        return json.dumps(asdict(self), ensure_ascii=False).encode()


@dataclass(frozen=True)
class ExportsPayload:
    """Where the speaker's highlights go (``exports``, retained): per target, how
    many it holds and, when its token was refused, why it is parked."""

    device_id: str
    # [{"target": "readwise", "items": 12, "parked": null or "why"}, ...]
    targets: list[dict[str, Any]]
    schema: int = SCHEMA

    def to_json(self) -> bytes:
        return json.dumps(asdict(self), ensure_ascii=False).encode()


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


class CommandError(EarmarkError):
    """A command with a wrong name or arguments."""


@dataclass(frozen=True)
class Arg:
    """One argument of a command: its kind and the values it takes.

    ``kind`` is ``number``, ``whole``, ``text``, ``word``, ``flag`` or ``tags``;
    ``words`` are strings taken as they are besides the kind (the sleep timer's
    ``end``), or the only ones a ``word`` takes;
    ``empty`` lets a text be empty or null (it clears what it names).
    """

    kind: str
    required: bool = False
    low: float | None = None
    high: float | None = None
    words: tuple[str, ...] = ()
    max_chars: int = 500
    empty: bool = False

    def check(self, key: str, value: Any) -> Any:
        if isinstance(value, str) and value in self.words:
            return value
        if self.kind == "word":
            raise CommandError(
                f"'{key}' must be one of {', '.join(self.words)}, got {_shown(value)}"
            )
        if self.kind == "flag":
            if not isinstance(value, bool):
                raise CommandError(f"'{key}' must be true or false, got {_shown(value)}")
            return value
        if self.kind == "tags":
            return self._tags(key, value)
        if self.kind == "text":
            return self._text(key, value)
        return self._number(key, value)

    def _number(self, key: str, value: Any) -> float | int:
        whole = self.kind == "whole"
        ok = isinstance(value, int) if whole else isinstance(value, (int, float))
        if isinstance(value, bool) or not ok or not math.isfinite(value):
            what = "a whole number" if whole else "a number"
            also = "".join(f", '{w}'" for w in self.words)
            raise CommandError(f"'{key}' must be {what}{also}, got {_shown(value)}")
        if (self.low is not None and value < self.low) or (
            self.high is not None and value > self.high
        ):
            raise CommandError(f"'{key}' must be between {self.low} and {self.high}, got {value}")
        return int(value) if whole else float(value)

    def _text(self, key: str, value: Any) -> str | None:
        if value is None and self.empty:
            return None
        if not isinstance(value, str) or not (value.strip() or self.empty):
            raise CommandError(f"'{key}' must be a non-empty string, got {_shown(value)}")
        if len(value) > self.max_chars:
            raise CommandError(f"'{key}' is longer than {self.max_chars} characters")
        return value.strip()

    def _tags(self, key: str, value: Any) -> list[str]:
        if not isinstance(value, list) or len(value) > MAX_TAGS:
            raise CommandError(f"'{key}' must be a list of at most {MAX_TAGS} words")
        tags = [TAG.check(f"{key}[{i}]", tag) for i, tag in enumerate(value)]
        return list(dict.fromkeys(tags))  # each once, in the order given


MAX_TAGS = 20
TAG = Arg("text", max_chars=40)
_HIGHLIGHT = Arg("text", required=True, max_chars=64)
_EPISODE = Arg("whole", low=1)

NO_ARGUMENTS = (
    "snip",
    "play",
    "pause",
    "toggle",
    "play_pause",
    "next",
    "previous",
    "skip_back",
    "skip_forward",
    "next_chapter",
    "previous_chapter",
    "volume_up",
    "volume_down",
    "stop",
    "continue",
    "status",
    "wake",
    "podcasts",
    "downloads",
    "opml_export",
    "gpodder_sync",
    "ha_remove",
)

# every command a speaker takes, from MQTT ``cmd/<name>`` and the CLI alike, with
# its arguments; a command without arguments takes an empty object
COMMANDS: dict[str, dict[str, Arg]] = {
    **{name: {} for name in NO_ARGUMENTS},
    "seek": {"position": Arg("number", required=True, low=0)},
    "speed": {"value": Arg("number", required=True, low=MIN_SPEED, high=MAX_SPEED)},
    "volume": {"value": Arg("number", required=True, low=0, high=100)},
    # minutes from now, 'end' (of the episode) or 'off'
    "sleep": {"minutes": Arg("number", required=True, low=0, words=("end", "off"))},
    "queue": {
        "op": Arg("word", words=("list", "add", "remove", "move")),  # default: list
        "episode_id": _EPISODE,
        "index": Arg("whole", low=0),
    },
    "jobs": {"limit": Arg("whole", low=1, high=1000)},
    "retry": {"job_id": Arg("whole", required=True, low=1)},
    "subscribe": {"url": Arg("text", required=True, max_chars=2048)},
    "unsubscribe": {"podcast": Arg("text", required=True)},
    "episodes": {"podcast": Arg("text")},
    "chapters": {"episode_id": _EPISODE},
    "refresh": {"podcast": Arg("text")},
    "opml_import": {"source": Arg("text", required=True, max_chars=4096)},
    "highlights": {"episode_id": _EPISODE, "podcast": Arg("text")},
    # an ISO-8601 time; only highlights changed since then
    "resync": {"since": Arg("text", max_chars=64)},
    # the listener's changes to one highlight; what is left out stays as it is
    "edit": {
        "highlight": _HIGHLIGHT,
        # null or "" gives the title back to the summarizer
        "title": Arg("text", max_chars=200, empty=True),
        "note": Arg("text", max_chars=10_000, empty=True),
        "starred": Arg("flag"),
        "tags": Arg("tags"),
        "deleted": Arg("flag"),  # false undoes a delete
        # a new window (seconds into the episode): cut, transcribed and summarized again
        "start": Arg("number", low=0),
        "end": Arg("number", low=0),
    },
    # "continue on speaker": the highlight's episode from the highlight's start, on;
    # a highlight of another speaker names its moment, found here by the episode's
    # URL or by podcast and episode title
    "listen": {
        "highlight": _HIGHLIGHT,
        "podcast": Arg("text", max_chars=2_000),
        "episode": Arg("text", max_chars=2_000),
        "source_url": Arg("text", max_chars=4_096),
        "start": Arg("number", low=0),
    },
    # title and takeaways made again from the transcript: one highlight, or all
    "regenerate": {"highlight": Arg("text", max_chars=64), "all": Arg("flag")},
}


def check_command(name: str, args: dict[str, Any]) -> dict[str, Any]:
    """The arguments of command ``name``, checked and typed; CommandError names the
    first one that is wrong, unknown or missing."""
    spec = COMMANDS.get(name)
    if spec is None:
        raise CommandError(f"unknown command '{name}' (known: {', '.join(sorted(COMMANDS))})")
    for key in args:
        if key not in spec:
            known = ", ".join(spec) or "none"
            raise CommandError(f"'{name}' takes no argument '{key}' (it takes: {known})")
    checked = {}
    for key, arg in spec.items():
        if args.get(key) is None and not arg.empty:
            pass  # null is "not given", except where it clears something
        elif key in args:
            checked[key] = arg.check(key, args[key])
        if arg.required and key not in checked:
            raise CommandError(f"'{name}' needs '{key}'")
    return checked


def _shown(value: Any) -> str:
    """A value for an error line, never a whole 60 KB string."""
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."
