"""The commands a running speaker takes, from the CLI's control socket and from
MQTT ``cmd/<name>`` alike: one table, each argument checked before anything
changes. A bad command is refused with one line and changes nothing.

Each transport decodes its own wire format (``control.py`` for the socket,
``sync/remote.py`` for MQTT) and calls :meth:`Commands.run`. The table receives
exactly the parts it drives, never the whole speaker.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from earmark.actions import Action, InputEvent
from earmark.errors import EarmarkError
from earmark.library.service import Library
from earmark.payloads import CommandError, check_command
from earmark.playback import Playback
from earmark.snip.service import SnipService
from earmark.store.catalog import Catalog
from earmark.store.highlights import Highlight, HighlightBook
from earmark.store.jobs import Job, JobQueue
from earmark.sync.relay import resync

__all__ = ["Answer", "CommandError", "Commands", "Reply", "job_listing"]

log = logging.getLogger(__name__)

Reply = dict[str, Any]
# a command that reaches the network (subscribe, refresh) answers when it is done
Answer = Reply | Awaitable[Reply]


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
            "seek": lambda a, s: self._say(playback.seek(a["position"])),
            "speed": lambda a, s: self._say(playback.set_speed(a["value"])),
            "volume": lambda a, s: self._say(playback.set_volume(a["value"])),
            "sleep": self._sleep,
            "queue": self._queue,
            "subscribe": lambda a, s: library.subscribe(a["url"]),
            "unsubscribe": lambda a, s: library.unsubscribe(a["podcast"]),
            "podcasts": lambda a, s: library.list_podcasts(),
            "downloads": lambda a, s: library.downloads_now(),
            "episodes": lambda a, s: library.list_episodes(a.get("podcast")),
            "chapters": self._chapters,
            "refresh": lambda a, s: library.refresh(a.get("podcast")),
            "opml_import": lambda a, s: library.import_opml(a["source"]),
            "opml_export": lambda a, s: library.export_opml(),
            "gpodder_sync": lambda a, s: library.sync_gpodder(),
            "highlights": self._highlights,
            "continue": lambda a, s: self._say(playback.continue_from_here()),
            "listen": self._listen,
            "ha_remove": lambda a, s: (remove_home_assistant or _no_home_assistant)(),
            "resync": lambda a, s: resync(book, a),
            "edit": self._edit,
            "regenerate": self._regenerate,
        }

    def run(self, name: str, args: dict[str, Any], source: str) -> Answer:
        """Run command ``name`` once its arguments pass the shared schema."""
        checked = check_command(name, args)
        handler = self.table.get(name)
        if handler is not None:
            return handler(checked, source)
        return self.act(InputEvent(ALIASES.get(name) or Action(name), source))

    async def answer(self, name: str, args: dict[str, Any], source: str) -> Reply:
        """``run``, waiting for a command that answers later."""
        reply = self.run(name, args, source)
        return await reply if inspect.isawaitable(reply) else reply

    def press(self, event: InputEvent) -> None:
        """An input's action (a button, a headphone key): nobody waits for an answer,
        so a refusal is a log line."""
        try:
            self.act(event)
        except EarmarkError as exc:
            log.warning("input %s from %s refused: %s", event.action, event.source, exc)

    def act(self, event: InputEvent) -> Reply:
        """Carry out one listener action from any input."""
        if event.action is Action.SNIP:
            return self.snips.snip(event.source, pressed=event.at)
        return self._say(self.playback.act(event.action))

    @staticmethod
    def _say(message: str) -> Reply:
        return {"ok": True, "message": message}

    def _wake(self, args: dict[str, Any], source: str) -> Reply:
        self.wake_worker()
        return {"ok": True}

    def _jobs(self, args: dict[str, Any], source: str) -> Reply:
        limit = args.get("limit", 50)
        return {"ok": True, "jobs": [job_listing(job) for job in self.jobs.list(limit=limit)]}

    def _retry(self, args: dict[str, Any], source: str) -> Reply:
        job_id = args["job_id"]
        if not self.jobs.retry(job_id):
            raise CommandError(f"job {job_id} is not failed or waiting (see `earmark jobs`)")
        self.wake_worker()
        return self._say(f"job {job_id} queued again")

    def _sleep(self, args: dict[str, Any], source: str) -> Reply:
        minutes = args["minutes"]
        if minutes == "end":
            return self._say(self.playback.sleep_after(None))
        return self._say(self.playback.sleep_after(0 if minutes == "off" else minutes))

    def _queue(self, args: dict[str, Any], source: str) -> Reply:
        playback = self.playback
        op = args.get("op", "list")
        needed = {
            "add": ("episode_id",),
            "remove": ("episode_id",),
            "move": ("episode_id", "index"),
        }
        for key in needed.get(op, ()):
            if key not in args:
                raise CommandError(f"queue {op} needs '{key}'")
        if op == "add":
            message = playback.enqueue(args["episode_id"], args.get("index"))
        elif op == "remove":
            message = playback.dequeue(args["episode_id"])
        elif op == "move":
            message = playback.move(args["episode_id"], args["index"])
        else:
            message = "up next"
        return {"ok": True, "message": message, "queue": playback.up_next()}

    def _chapters(self, args: dict[str, Any], source: str) -> Reply:
        """One episode's chapters: the one named, else the one playing."""
        if "episode_id" in args:
            return self.library.chapters(args["episode_id"])
        playing = self.playback.now_playing().episode_id
        if playing is None:
            raise CommandError("nothing is playing; name an episode (see `earmark episodes`)")
        return self.library.chapters(playing)

    def _highlights(self, args: dict[str, Any], source: str) -> Reply:
        """Play saved snips one after another: all, or one episode's, or one podcast's."""
        chosen = self.book.latest(limit=500)
        if "episode_id" in args:
            chosen = [h for h in chosen if h.episode_id == args["episode_id"]]
        if "podcast" in args:
            podcast = args["podcast"].lower()
            chosen = [h for h in chosen if h.podcast_title.lower() == podcast]
        return self._say(self.playback.play_highlights(chosen))

    def _edit(self, args: dict[str, Any], source: str) -> Reply:
        """The listener's changes to one highlight, published as its next version."""
        changes = dict(args)
        highlight_id = changes.pop("highlight")
        if not changes:
            raise CommandError("'edit' needs title, note, starred, tags, deleted, start or end")
        window = "start" in changes or "end" in changes
        if window:
            highlight = self._highlight(highlight_id)
            duration = self.catalog.duration(highlight.episode_id) if highlight.episode_id else None
            changes["start"], changes["end"] = self.snips.capturer.moved(
                highlight, changes.get("start"), changes.get("end"), duration
            )
        try:
            edited = self.book.edit(highlight_id, changes)
        except KeyError:
            raise CommandError(f"no highlight '{highlight_id}'") from None
        if window:
            self.wake_worker()  # its clip, words and takeaways are made again
        return {
            "ok": True,
            "id": edited.id,
            "version": edited.version,
            "message": f"highlight {edited.id} is at version {edited.version}",
        }

    def _highlight(self, highlight_id: str) -> Highlight:
        highlight = self.book.get(highlight_id)
        if highlight is None:
            raise CommandError(f"no highlight '{highlight_id}'")
        return highlight

    async def _listen(self, args: dict[str, Any], source: str) -> Reply:
        """Continue on the speaker: the highlight's episode from its start, on. A
        highlight of another speaker comes with its moment (podcast, episode,
        source_url, start): the same episode in this speaker's library plays."""
        highlight = self.book.get(args["highlight"])
        if highlight is None and "start" in args and ("episode" in args or "source_url" in args):
            highlight = Highlight.elsewhere(
                args["highlight"],
                args["start"],
                args.get("podcast", ""),
                args.get("episode", ""),
                args.get("source_url", ""),
            )
        if highlight is None:
            raise CommandError(f"no highlight '{args['highlight']}'")
        return self._say(await self.playback.listen(highlight))

    def _regenerate(self, args: dict[str, Any], source: str) -> Reply:
        """Make the title and takeaways again: of one highlight, or of every one."""
        if ("highlight" in args) == bool(args.get("all")):
            raise CommandError("'regenerate' needs either 'highlight' or 'all': true")
        if args.get("all"):
            chosen = self.book.with_transcript()
        else:
            chosen = [self._regenerable(args["highlight"])]
        queued = self.book.regenerate(chosen)
        self.wake_worker()
        what = "highlight" if queued == 1 else "highlights"
        return {"ok": True, "queued": queued, "message": f"takeaways of {queued} {what} queued"}

    def _regenerable(self, highlight_id: str) -> str:
        highlight = self._highlight(highlight_id)
        if highlight.transcript is None or highlight.transcript_unavailable is not None:
            why = highlight.transcript_unavailable or "it has no transcript yet"
            raise CommandError(f"highlight {highlight_id} has no takeaways to make: {why}")
        return highlight_id


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
