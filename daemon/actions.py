"""What a listener can ask of the speaker, whatever they pressed to ask it.

Input adapters in ``earmark.device`` turn button gestures and headphone keys
into :class:`InputEvent`\\ s; the core only ever sees these.
"""

from __future__ import annotations

import enum
import time
from dataclasses import dataclass, field


class Action(enum.StrEnum):
    SNIP = "snip"
    PLAY_PAUSE = "play_pause"
    PLAY = "play"
    PAUSE = "pause"
    NEXT = "next"
    PREVIOUS = "previous"
    SKIP_BACK = "skip_back"
    SKIP_FORWARD = "skip_forward"
    NEXT_CHAPTER = "next_chapter"
    PREVIOUS_CHAPTER = "previous_chapter"
    VOLUME_UP = "volume_up"
    VOLUME_DOWN = "volume_down"
    STOP = "stop"


@dataclass(frozen=True)
class InputEvent:
    """One request from the listener: what, from where, and when (monotonic seconds)."""

    action: Action
    source: str
    at: float = field(default_factory=time.monotonic)
