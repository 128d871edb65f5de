"""The library's ``earmark`` commands: subscribe, unsubscribe, podcasts,
episodes, chapters, refresh, and OPML in and out. Each asks the running daemon."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path
from typing import Any

from tqdm import tqdm

from earmark.errors import EarmarkError

Request = Callable[..., dict[str, Any]]
Command = Callable[[argparse.Namespace], int]
# a feed gets a minute to answer (library.feed_seconds) and a moment to be stored
NETWORK_SECONDS = 120.0
# refreshes the CLI asks for at once; the daemon bounds its own concurrency too
AT_ONCE = 4
# how often `downloads --watch` asks the daemon
WATCH_SECONDS = 0.5


def add_commands(add: Callable[[str, Command, str], argparse.ArgumentParser], ask: Request) -> None:
    def subscribe(args: argparse.Namespace) -> int:
        reply = ask(args, "subscribe", timeout=NETWORK_SECONDS, url=args.url)
        print(reply["message"])
        return 0

    def unsubscribe(args: argparse.Namespace) -> int:
        print(ask(args, "unsubscribe", podcast=args.podcast)["message"])
        return 0

    def podcasts(args: argparse.Namespace) -> int:
        found = ask(args, "podcasts")["podcasts"]
        for p in found:
            refreshed = (p["refreshed_at"] or "never")[:16].replace("T", " ")
            print(
                f"{p['id']:>4}  {p['title']}  {p['episodes']} episodes, {p['unplayed']} unplayed,"
                f" {p['downloaded']} downloaded; refreshed {refreshed}"
            )
            if p["last_error"]:
                print(f"      last error: {p['last_error']}")
        if not found:
            print("no podcasts; `earmark subscribe URL` adds one")
        return 0

    def episodes(args: argparse.Namespace) -> int:
        params = {"podcast": args.podcast} if args.podcast else {}
        found = ask(args, "episodes", **params)["episodes"]
        for e in found:
            flags = " ".join(
                flag
                for flag, on in (
                    ("played", e["played"]),
                    ("stream", not e["downloaded"]),
                    ("left-feed", not e.get("in_feed", True)),
                )
                if on
            )
            at = f" at {e['position']:.0f}s" if e["position"] else ""
            print(f"{e['id']:>5}  {e['podcast']} — {e['title']}{at}  {flags}".rstrip())
        if not found:
            print("no episodes yet; `earmark podcasts` shows what each feed said")
        return 0

    def chapters(args: argparse.Namespace) -> int:
        params = {"episode_id": args.episode} if args.episode is not None else {}
        reply = ask(args, "chapters", **params)
        print(f"{reply['title']} ({reply['source'] or 'no chapters'})")
        for c in reply["chapters"]:
            print(f"  {_clock(c['start'])}  {c['title']}")
        return 0

    def refresh(args: argparse.Namespace) -> int:
        if args.podcast:
            reply = ask(args, "refresh", timeout=NETWORK_SECONDS, podcast=args.podcast)
            print(reply["message"])
            return 0 if reply["ok"] else 1
        listed = ask(args, "podcasts")["podcasts"]
        failed = 0
        with (
            ThreadPoolExecutor(AT_ONCE) as pool,
            tqdm(total=len(listed), unit="feed", disable=not sys.stderr.isatty()) as bar,
        ):
            asked = [pool.submit(_refresh_one, ask, args, str(p["id"]), p["title"]) for p in listed]
            for future in as_completed(asked):
                line, ok = future.result()
                failed += not ok
                bar.write(line)
                bar.update()
        return 0 if not failed else 1

    def downloads(args: argparse.Namespace) -> int:
        reply = ask(args, "downloads")
        if not args.watch:
            current = reply["current"]
            if current:
                total = f" of {current['total'] // 1024} KB" if current["total"] else ""
                print(f"downloading {current['title']}: {current['received'] // 1024} KB{total}")
            for waiting in reply["waiting"]:
                print(f"waiting     {waiting['title']}")
            print(f"{reply['used_mb']} MB on the card")
            return 0
        return _watch_downloads(ask, args, reply)

    def opml(args: argparse.Namespace) -> int:
        if args.opml_command == "export":
            sys.stdout.write(ask(args, "opml_export")["opml"])
            return 0
        # a file here is read by the daemon, which has another working directory
        local = Path(args.source)
        source = str(local.resolve()) if local.exists() else args.source
        print(ask(args, "opml_import", timeout=NETWORK_SECONDS, source=source)["message"])
        return 0

    def gpodder(args: argparse.Namespace) -> int:
        print(ask(args, "gpodder_sync", timeout=NETWORK_SECONDS)["message"])
        return 0

    add("subscribe", subscribe, "subscribe to a podcast feed (URL)").add_argument("url")
    add("unsubscribe", unsubscribe, "unsubscribe (id or title); highlights stay").add_argument(
        "podcast"
    )
    add("podcasts", podcasts, "subscribed podcasts: counts, last refresh, last error")
    add("episodes", episodes, "stored episodes with their ids (of one PODCAST)").add_argument(
        "podcast", nargs="?"
    )
    add("chapters", chapters, "an episode's chapters (default: the one playing)").add_argument(
        "episode", nargs="?", type=int
    )
    add("refresh", refresh, "refresh every podcast now, or one (id or title)").add_argument(
        "podcast", nargs="?"
    )
    add("downloads", downloads, "the download under way and those waiting").add_argument(
        "--watch", action="store_true", help="follow them with a progress bar until done"
    )
    opml_parser = add("opml", opml, "OPML: import FILE|URL, or export to stdout")
    opml_sub = opml_parser.add_subparsers(
        dest="opml_command", required=True, metavar="import|export"
    )
    opml_sub.add_parser("import", help="subscribe to every feed in FILE or URL").add_argument(
        "source"
    )
    opml_sub.add_parser("export", help="write the subscriptions as OPML to stdout")
    gpodder_parser = add("gpodder", gpodder, "gPodder sync: sync now (docs/gpodder.md)")
    gpodder_parser.add_subparsers(dest="gpodder_command", required=True, metavar="sync").add_parser(
        "sync", help="sync subscriptions and play positions with the gPodder account now"
    )


def _watch_downloads(ask: Request, args: argparse.Namespace, reply: dict[str, Any]) -> int:
    """A progress bar per download until none is under way or waiting."""
    bar: tqdm[Any] | None = None
    following: int | None = None
    while reply["current"] or reply["waiting"]:
        current = reply["current"]
        if current and current["episode_id"] != following:
            if bar is not None:
                bar.close()
            following = current["episode_id"]
            bar = tqdm(
                total=current["total"], unit="B", unit_scale=True, desc=current["title"][:40]
            )
        if bar is not None and current:
            bar.update(current["received"] - bar.n)
        time.sleep(WATCH_SECONDS)
        reply = ask(args, "downloads")
    if bar is not None:
        bar.close()
    print(f"nothing left to download; {reply['used_mb']} MB on the card")
    return 0


def _refresh_one(
    ask: Request, args: argparse.Namespace, podcast: str, title: str
) -> tuple[str, bool]:
    try:
        reply = ask(args, "refresh", timeout=NETWORK_SECONDS, podcast=podcast)
    except EarmarkError as exc:
        return f"{title}: {exc}", False
    return reply["message"], bool(reply["ok"])


def _clock(seconds: float) -> str:
    whole = int(seconds)
    hours, rest = divmod(whole, 3600)
    return (
        f"{hours}:{rest // 60:02d}:{rest % 60:02d}"
        if hours
        else f"{rest // 60:02d}:{rest % 60:02d}"
    )
