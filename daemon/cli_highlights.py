"""The CLI's highlight commands: ``edit`` (title, note, star, tags, delete and its
undo, a new window) and ``takeaways --regenerate``. Each asks the running daemon, which stays
the one writer of highlights and publishes every change as a new version."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

Request = Callable[..., dict[str, Any]]
Command = Callable[[argparse.Namespace], int]


def add_commands(add: Callable[[str, Command, str], argparse.ArgumentParser], ask: Request) -> None:
    def edit(args: argparse.Namespace) -> int:
        changes: dict[str, Any] = {}
        if args.title is not None:
            changes["title"] = args.title  # "" gives the title back to the summarizer
        if args.note is not None:
            changes["note"] = args.note
        if args.starred is not None:
            changes["starred"] = args.starred
        if args.tags is not None:
            changes["tags"] = [tag for tag in args.tags.split(",") if tag.strip()]
        if args.deleted is not None:
            changes["deleted"] = args.deleted
        for edge in ("start", "end"):  # a new window: cut, transcribed, summarized again
            if getattr(args, edge) is not None:
                changes[edge] = getattr(args, edge)
        print(ask(args, "edit", highlight=args.highlight, **changes)["message"])
        return 0

    def takeaways(args: argparse.Namespace) -> int:
        which: dict[str, Any] = {"all": True} if args.all else {"highlight": args.regenerate}
        print(ask(args, "regenerate", **which)["message"])
        return 0

    changed = add("edit", edit, "change a highlight: title, note, star, tags, delete, window")
    changed.add_argument("highlight", help="its id, as `earmark snip` prints it")
    changed.add_argument("--title", help="a title of your own; '' gives it back")
    changed.add_argument("--note", help="a note of your own; '' clears it")
    changed.add_argument("--tags", metavar="A,B", help="its tags, comma separated; '' clears")
    changed.add_argument("--start", type=_seconds, metavar="S", help="its window's start (s)")
    changed.add_argument("--end", type=_seconds, metavar="S", help="its window's end (s)")
    star = changed.add_mutually_exclusive_group()
    star.add_argument("--star", dest="starred", action="store_const", const=True)
    star.add_argument("--unstar", dest="starred", action="store_const", const=False)
    gone = changed.add_mutually_exclusive_group()
    gone.add_argument("--delete", dest="deleted", action="store_const", const=True)
    gone.add_argument("--undelete", dest="deleted", action="store_const", const=False)

    again = add("takeaways", takeaways, "make the title and takeaways of highlights again")
    which = again.add_mutually_exclusive_group(required=True)
    which.add_argument("--regenerate", metavar="ID", help="this highlight's")
    which.add_argument("--all", action="store_true", help="every highlight's with a transcript")


def _seconds(text: str) -> float:
    """Seconds into the episode, for argparse (which says the error in one line)."""
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
