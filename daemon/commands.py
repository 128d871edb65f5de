"""The commands a running speaker takes, from the CLI's control socket and from
MQTT ``cmd/<name>`` alike: one table, each argument checked before anything
changes. A bad command is refused with one line and changes nothing.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from earmark.actions import Action, InputEvent
from earmark.errors import EarmarkError

if TYPE_CHECKING:
    from earmark.app import Speaker
    from earmark.playback import Playback

Reply = dict[str, Any]


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


def whole(args: dict[str, Any], key: str) -> int:
    value = args.get(key)
    if isinstance(value, bool) or not isinstance(value, int):
        raise CommandError(f"'{key}' must be a whole number, got {value!r}")
    return value


class Commands:
    def __init__(self, speaker: Speaker) -> None:
        self.speaker = speaker
        self.table: dict[str, Callable[[dict[str, Any], str], Reply]] = {
            "snip": lambda a, source: speaker.snip(source),
            "status": lambda a, source: speaker.status(),
            "wake": self._wake,
            "seek": lambda a, s: self._say(self._playback().seek(number(a, "value", 0))),
            "speed": lambda a, s: self._say(self._playback().set_speed(number(a, "value"))),
            "volume": lambda a, s: self._say(
                self._playback().set_volume(number(a, "value", 0, 100))
            ),
            "sleep": self._sleep,
            "queue": self._queue,
            "episodes": self._episodes,
            "highlights": self._highlights,
            "continue": lambda a, s: self._say(self._playback().continue_from_here()),
        }

    def run(self, name: str, args: dict[str, Any], source: str) -> Reply:
        handler = self.table.get(name)
        if handler is not None:
            return handler(args, source)
        try:
            action = Action(name)
        except ValueError:
            known = ", ".join(sorted({*self.table, *(a.value for a in Action)}))
            raise CommandError(f"unknown command '{name}' (known: {known})") from None
        return self.speaker.act(InputEvent(action, source))

    def _playback(self) -> Playback:
        if self.speaker.playback is None:
            raise EarmarkError("the player is not ready yet")
        return self.speaker.playback

    @staticmethod
    def _say(message: str) -> Reply:
        return {"ok": True, "message": message}

    def _wake(self, args: dict[str, Any], source: str) -> Reply:
        self.speaker.worker.notify()
        return {"ok": True}

    def _sleep(self, args: dict[str, Any], source: str) -> Reply:
        minutes = args.get("minutes")
        if minutes == "end":
            return self._say(self._playback().sleep_after(None))
        if minutes == "off":
            return self._say(self._playback().sleep_after(0))
        return self._say(self._playback().sleep_after(number(args, "minutes", 0)))

    def _queue(self, args: dict[str, Any], source: str) -> Reply:
        playback = self._playback()
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

    def _episodes(self, args: dict[str, Any], source: str) -> Reply:
        catalog = self.speaker.catalog
        return {
            "ok": True,
            "episodes": [
                {
                    "id": e.id,
                    "podcast": e.podcast_title,
                    "title": e.title,
                    "played": e.played,
                    "position": round(catalog.position(e.id), 1),
                    "downloaded": bool(e.local_path),
                }
                for e in catalog.episodes()
            ],
        }

    def _highlights(self, args: dict[str, Any], source: str) -> Reply:
        """Play saved snips one after another: all, or one episode's, or one podcast's."""
        chosen = self.speaker.book.latest(limit=500)
        if "episode_id" in args:
            episode_id = whole(args, "episode_id")
            chosen = [h for h in chosen if h.episode_id == episode_id]
        if "podcast" in args:
            podcast = str(args["podcast"]).lower()
            chosen = [h for h in chosen if h.podcast_title.lower() == podcast]
        return self._say(self._playback().play_highlights(chosen))
