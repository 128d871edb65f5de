"""The event seam: what the speaker announces, and the bus that delivers it.

Everything that *reacts* to the speaker (MQTT state publishing, the outbox
relay's wake-up, the status LED, and later Home Assistant discovery, the
dashboard feed, exporters, sd_notify) is a listener registered by the
composition root; nothing reacts by being called from inside playback or the
snip pipeline. The shape is Mopidy's ``CoreListener``: each event has a name,
and a ``Listener`` subclass implements a method of that name for the events it
cares about.

Events may be emitted from any thread (mpv's, paho's, the job worker's); the
bus delivers every one on the asyncio loop, in the order emitted, to every
listener. A listener that raises is logged and does not stop the others.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

if TYPE_CHECKING:
    from earmark.player.state import PlayerState
    from earmark.store.highlights import Highlight

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Event:
    name: ClassVar[str] = "event"


@dataclass(frozen=True)
class PlayerStateChanged(Event):
    """The player's state (about once a second while playing), with what plays."""

    name: ClassVar[str] = "player_state_changed"
    state: PlayerState
    podcast: str = ""
    episode: str = ""
    queue_length: int = 0


@dataclass(frozen=True)
class EpisodeStarted(Event):
    """An episode began or resumed playing."""

    name: ClassVar[str] = "episode_started"
    episode_id: int


@dataclass(frozen=True)
class EpisodeFinished(Event):
    name: ClassVar[str] = "episode_finished"
    episode_id: int | None
    reason: str


@dataclass(frozen=True)
class PositionSaved(Event):
    name: ClassVar[str] = "position_saved"
    episode_id: int
    position: float
    played: bool


@dataclass(frozen=True)
class SnipSaved(Event):
    """A press was captured durably (a new highlight, or an extended one)."""

    name: ClassVar[str] = "snip_saved"
    highlight: Highlight
    new: bool
    source: str


@dataclass(frozen=True)
class SnipRefused(Event):
    name: ClassVar[str] = "snip_refused"
    reason: str
    source: str
    # the database refused a press the listener made: they hear an error earcon
    # (nothing playing is said in words, not with a sound)
    audible: bool = False


@dataclass(frozen=True)
class HighlightChanged(Event):
    """A version of a highlight was committed (with its outbox row)."""

    name: ClassVar[str] = "highlight_changed"
    highlight: Highlight

    @property
    def version(self) -> int:
        return self.highlight.version


@dataclass(frozen=True)
class ExportsChanged(Event):
    """An export target holds more, or was parked or runs again: per target
    (name, items held, why parked or None)."""

    name: ClassVar[str] = "exports_changed"
    targets: tuple[tuple[str, int, str | None], ...]


@dataclass(frozen=True)
class LibraryChanged(Event):
    """A feed was refreshed (or subscribed) and its podcast stored."""

    name: ClassVar[str] = "library_changed"
    feed_url: str
    podcast_id: int


@dataclass(frozen=True)
class EpisodeDownloaded(Event):
    """An episode's audio is on the card (it played from its stream until now)."""

    name: ClassVar[str] = "episode_downloaded"
    episode_id: int
    path: str


@dataclass(frozen=True)
class BrokerConnected(Event):
    name: ClassVar[str] = "broker_connected"


@dataclass(frozen=True)
class BrokerDisconnected(Event):
    name: ClassVar[str] = "broker_disconnected"
    reason: str


@dataclass(frozen=True)
class HeadsetConnected(Event):
    """The configured Bluetooth headset is connected: at start, or back again."""

    name: ClassVar[str] = "headset_connected"
    address: str


@dataclass(frozen=True)
class HeadsetAway(Event):
    """The configured headset is not connected (switched off, out of range, not
    back yet): said at start and whenever it goes."""

    name: ClassVar[str] = "headset_away"
    address: str


@dataclass(frozen=True)
class JobStarted(Event):
    name: ClassVar[str] = "job_started"
    job_id: int
    kind: str


@dataclass(frozen=True)
class JobFinished(Event):
    """A job ran to its end (done, failed, or to be retried)."""

    name: ClassVar[str] = "job_finished"
    job_id: int
    kind: str


@dataclass(frozen=True)
class JobFailed(Event):
    name: ClassVar[str] = "job_failed"
    job_id: int
    kind: str
    highlight_id: str | None
    error: str
    final: bool


class Listener:
    """Implement a method named after each event of interest (``highlight_changed``,
    ``player_state_changed``, ...); the rest are ignored. Runs on the loop: keep
    it short, hand heavy work to a thread or a job."""

    def on_event(self, event: Event) -> None:
        method = getattr(self, event.name, None)
        if method is not None:
            method(event)


class EventBus:
    """Delivers events on one asyncio loop to the registered listeners, in order."""

    def __init__(self) -> None:
        self._listeners: list[Listener] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._early: deque[Event] = deque()
        self._lock = threading.Lock()

    def register(self, listener: Listener) -> None:
        self._listeners.append(listener)

    def attach(self, loop: asyncio.AbstractEventLoop) -> None:
        """Start delivering on ``loop``; events emitted before now are delivered first."""
        with self._lock:
            self._loop = loop
            early, self._early = list(self._early), deque()
        for event in early:
            loop.call_soon_threadsafe(self._deliver, event)

    def detach(self) -> None:
        with self._lock:
            self._loop = None

    def emit(self, event: Event) -> None:
        """Announce ``event``; safe from any thread, never blocks, never raises."""
        with self._lock:
            loop = self._loop
            if loop is None:
                self._early.append(event)
                return
        if loop.is_closed():
            log.debug("event dropped after stop: %s", event.name)
            return
        try:
            loop.call_soon_threadsafe(self._deliver, event)
        except RuntimeError:  # the loop closed between the check and the call
            log.debug("event dropped after stop: %s", event.name)

    def _deliver(self, event: Event) -> None:
        if self._loop is None:
            # handed to the loop before the speaker stopped: its parts (the store)
            # are closed now, so no listener may act on it
            log.debug("event dropped after stop: %s", event.name)
            return
        for listener in list(self._listeners):
            try:
                listener.on_event(event)
            except Exception:  # one broken listener must not silence the others
                log.exception("listener %s failed on event %s", type(listener).__name__, event.name)


class OnLoop:
    """Hands a callback from a library's thread to the loop (``call_soon_threadsafe``)."""

    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None

    def attach(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop

    def __call__(self, callback: object, *args: object) -> None:
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        with contextlib.suppress(RuntimeError):  # the loop closed just now: we are stopping
            loop.call_soon_threadsafe(callback, *args)  # type: ignore[arg-type]
