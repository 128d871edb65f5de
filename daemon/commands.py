"""The commands a running speaker takes, from the CLI's control socket and from
MQTT ``cmd/<name>`` alike: one table, each argument checked before anything
changes. A bad command is refused with one line and changes nothing.

Each transport decodes its own wire format (``control.py`` for the socket,
``sync/remote.py`` for MQTT) and calls :meth:`Commands.run`. The table receives
exactly the parts it drives, never the whole speaker.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Awaitable, Callable
from typing import Any

from earmark.actions import Action, InputEvent
from earmark.errors import EarmarkError
from earmark.library.service import Library
from earmark.playback import Playback
from earmark.player.mpv_player import MAX_SPEED, MIN_SPEED
from earmark.snip.service import SnipService
from earmark.store.catalog import Catalog
from earmark.store.highlights import HighlightBook
from earmark.store.jobs import Job, JobQueue
from earmark.sync.relay import resync

Reply = dict[str, Any]
# a command that reaches the network (subscribe, refresh) answers when it is done
Answer = Reply | Awaitable[Reply]


class CommandError(EarmarkError):
    """A command with a wrong name or arguments."""


def number(
    args: dict[str, Any], key: str, low: float | None = None, high: float | None = None
) -> float:
    value = args.get(key)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise CommandError(f"'{key}' must be a number, got {value!r}")
    if (low is not None and value < low) or (high is not None and value > high):
        raise CommandError(f"'{key}' must be between {low} and {high}, got {value}")
    return float(value)


def text(args: dict[str, Any], key: str) -> str:
    value = args.get(key)
    if not isinstance(value, str) or not value.strip():
        raise CommandError(f"'{key}' must be a non-empty string, got {value!r}")
    return value.strip()


def optional_text(args: dict[str, Any], key: str) -> str | None:
    return text(args, key) if args.get(key) is not None else None


def whole(args: dict[str, Any], key: str) -> int:
    value = args.get(key)
    if isinstance(value, bool) or not isinstance(value, int):
        raise CommandError(f"'{key}' must be a whole number, got {value!r}")
    return value


# names the CLI and MQTT use for an action whose enum value differs
ALIASES = {"toggle": Action.PLAY_PAUSE}


class Commands:
    def __init__(
        self,
        playback: Playback,
        catalog: Catalog,
        book: HighlightBook,
        jobs: JobQueue,
        snips: SnipService,
        library: Library,
        status: Callable[[], Reply],
        wake_worker: Callable[[], None],
        remove_home_assistant: Callable[[], Reply] | None = None,
    ) -> None:
        self.playback = playback
        self.catalog = catalog
        self.book = book
        self.jobs = jobs
        self.snips = snips
        self.wake_worker = wake_worker
        self.library = library
        self.table: dict[str, Callable[[dict[str, Any], str], Answer]] = {
            "snip": lambda a, source: snips.snip(source),
            "status": lambda a, source: status(),
            "wake": self._wake,
            "jobs": self._jobs,
            "retry": self._retry,
            "seek": lambda a, s: self._say(playback.seek(number(a, "position", 0))),
            "speed": lambda a, s: self._say(
                playback.set_speed(number(a, "value", MIN_SPEED, MAX_SPEED))
            ),
            "volume": lambda a, s: self._say(playback.set_volume(number(a, "value", 0, 100))),
            "sleep": self._sleep,
            "queue": self._queue,
            "subscribe": lambda a, s: library.subscribe(text(a, "url")),
            "unsubscribe": lambda a, s: library.unsubscribe(text(a, "podcast")),
            "podcasts": lambda a, s: library.list_podcasts(),
            "downloads": lambda a, s: library.downloads_now(),
            "episodes": lambda a, s: library.list_episodes(optional_text(a, "podcast")),
            "chapters": self._chapters,
            "refresh": lambda a, s: library.refresh(optional_text(a, "podcast")),
            "opml_import": lambda a, s: library.import_opml(text(a, "source")),
            "opml_export": lambda a, s: library.export_opml(),
            "gpodder_sync": lambda a, s: library.sync_gpodder(),
            "highlights": self._highlights,
            "continue": lambda a, s: self._say(playback.continue_from_here()),
            "ha_remove": lambda a, s: (remove_home_assistant or _no_home_assistant)(),
            "resync": lambda a, s: resync(book, a),
        }

    @property
    def names(self) -> list[str]:
        return sorted({*self.table, *ALIASES, *(a.value for a in Action)})

    def run(self, name: str, args: dict[str, Any], source: str) -> Answer:
        handler = self.table.get(name)
        if handler is not None:
            return handler(args, source)
        return self.act(InputEvent(self._action(name), source))

    async def answer(self, name: str, args: dict[str, Any], source: str) -> Reply:
        """``run``, waiting for a command that answers later."""
        reply = self.run(name, args, source)
        return await reply if inspect.isawaitable(reply) else reply

    def act(self, event: InputEvent) -> Reply:
        """Carry out one listener action from any input."""
        if event.action is Action.SNIP:
            return self.snips.snip(event.source, pressed=event.at)
        return self._say(self.playback.act(event.action))

    def _action(self, name: str) -> Action:
        if name in ALIASES:
            return ALIASES[name]
        try:
            return Action(name)
        except ValueError:
            known = ", ".join(self.names)
            raise CommandError(f"unknown command '{name}' (known: {known})") from None

    @staticmethod
    def _say(message: str) -> Reply:
        return {"ok": True, "message": message}

    def _wake(self, args: dict[str, Any], source: str) -> Reply:
        self.wake_worker()
        return {"ok": True}

    def _jobs(self, args: dict[str, Any], source: str) -> Reply:
        limit = whole(args, "limit") if "limit" in args else 50
        return {"ok": True, "jobs": [job_listing(job) for job in self.jobs.list(limit=limit)]}

    def _retry(self, args: dict[str, Any], source: str) -> Reply:
        job_id = whole(args, "job_id")
        if not self.jobs.retry(job_id):
            raise CommandError(f"job {job_id} is not failed or waiting (see `earmark jobs`)")
        self.wake_worker()
        return self._say(f"job {job_id} queued again")

    def _sleep(self, args: dict[str, Any], source: str) -> Reply:
        minutes = args.get("minutes")
        if minutes == "end":
            return self._say(self.playback.sleep_after(None))
        if minutes == "off":
            return self._say(self.playback.sleep_after(0))
        return self._say(self.playback.sleep_after(number(args, "minutes", 0)))

    def _queue(self, args: dict[str, Any], source: str) -> Reply:
        playback = self.playback
        op = args.get("op", "list")
        if op == "add":
            index = whole(args, "index") if "index" in args else None
            message = playback.enqueue(whole(args, "episode_id"), index)
        elif op == "remove":
            message = playback.dequeue(whole(args, "episode_id"))
        elif op == "move":
            message = playback.move(whole(args, "episode_id"), whole(args, "index"))
        elif op != "list":
            raise CommandError(f"queue op '{op}' is not list, add, remove or move")
        else:
            message = "up next"
        return {"ok": True, "message": message, "queue": playback.up_next()}

    def _chapters(self, args: dict[str, Any], source: str) -> Reply:
        """One episode's chapters: the one named, else the one playing."""
        if "episode_id" in args:
            return self.library.chapters(whole(args, "episode_id"))
        playing = self.playback.now_playing().episode_id
        if playing is None:
            raise CommandError("nothing is playing; name an episode (see `earmark episodes`)")
        return self.library.chapters(playing)

    def _highlights(self, args: dict[str, Any], source: str) -> Reply:
        """Play saved snips one after another: all, or one episode's, or one podcast's."""
        chosen = self.book.latest(limit=500)
        if "episode_id" in args:
            episode_id = whole(args, "episode_id")
            chosen = [h for h in chosen if h.episode_id == episode_id]
        if "podcast" in args:
            podcast = str(args["podcast"]).lower()
            chosen = [h for h in chosen if h.podcast_title.lower() == podcast]
        return self._say(self.playback.play_highlights(chosen))


def _no_home_assistant() -> Reply:
    raise CommandError("this speaker has no Home Assistant discovery")


def job_listing(job: Job) -> dict[str, Any]:
    """One job as the CLI prints it (from the daemon, or read-only from the file)."""
    return {
        "id": job.id,
        "kind": str(job.kind),
        "status": job.status,
        "attempts": job.attempts,
        "highlight_id": job.highlight_id,
        "episode_id": job.episode_id,
        "last_error": job.last_error,
    }
