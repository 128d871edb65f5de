"""The library: refreshing many feeds, a refresh with nothing new, memory, first audio.

Feeds of realistic size (``feeds_fixture.py``: 100-1000 items, show notes of a
few hundred bytes to a few KB, enclosures, iTunes tags; seeded, cached) come
from a local server that sends ETag/Last-Modified, answers 304 and gzips.
They are subscribed as an OPML import does and refreshed by the daemon's own
``Refresher`` (``LibraryConfig().refresh_concurrency`` threads) into a real
SQLite store. Each case runs in a subprocess of its own, so that its peak RSS
is its own; an idle subprocess that imports the same modules and opens a
store is the zero.

Baselines, in the same run: the first refresh against ``feedparser.parse`` of
the same bytes, sequential and in the same process, with the options the
daemon passes (``sanitize_html=False, resolve_relative_uris=False``: the parse
no refresh can avoid), alternating in rounds of ``ROUND`` feeds so that the
machine's changing load falls on both sides; the peak RSS of the refresh is
taken over the refresh rounds only (the peak is reset before each). The second
refresh against the first; first audio against urllib alone fetching the same
MP3.
"""

from __future__ import annotations

import asyncio
import gc
import json
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

import feedparser

from bench import Figure
from bench.feeds_fixture import (
    FeedServer,
    cached_feeds,
    feed_xml,
    huge_description_feed,
    sine_mp3,
)
from earmark.config.model import LibraryConfig
from earmark.library.downloads import Downloads
from earmark.library.refresher import Refresher
from earmark.library.subscriptions import Subscriptions
from earmark.store.catalog import Catalog
from earmark.store.database import Database
from earmark.store.podcasts import Podcasts

ALL_FEEDS = 300
# the feeds refreshed: a seeded sample of the 300 when the whole set would not
# fit the few minutes a benchmark run may take on this machine
FEEDS = 100
ROUND = 10  # feeds per round: feedparser alone, then the refresh
HUGE_MB = 50
FIRST_AUDIO_ITEMS = 1000
MEGABYTE = 1024 * 1024
ROOT = Path(__file__).resolve().parents[1]


def run() -> list[Figure]:
    every = cached_feeds(ALL_FEEDS)
    chosen = sorted(random.Random(7).sample(range(ALL_FEEDS), FEEDS)) if FEEDS < ALL_FEEDS else []
    paths = [every[n] for n in chosen] if chosen else every
    which = f"seeded sample of {ALL_FEEDS}" if chosen else "all"
    items = sum(int(p.stem.rsplit("-", 1)[1]) for p in paths)
    megabytes = sum(p.stat().st_size for p in paths) / MEGABYTE
    huge = huge_description_feed(HUGE_MB)
    with FeedServer() as server, tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        urls = server.add_files(paths)
        huge_url = server.add(huge.name, huge.read_bytes())
        idle = _child("idle", work / "idle")
        refreshed = _child(
            "refresh", work / "refresh", *(f"{p}={u}" for p, u in zip(paths, urls, strict=True))
        )
        subscribed_huge = _child("subscribe", work / "huge", huge_url)
        parsed_huge = _child("parse", work / "parse", str(huge))
        first_audio, bare_audio = _first_audio(server, work / "first")
    first, second, parse = refreshed["first_s"], refreshed["second_s"], refreshed["parse_s"]
    idle_mb = idle["peak_kb"] / 1024
    parse_only = parsed_huge["peak_kb"] / 1024 - idle_mb
    return [
        _figure(
            f"library: refresh {FEEDS} feeds / feedparser.parse",
            first / parse,
            "ratio",
            1.3,
            f"{which}: {first:.1f} s vs {parse:.1f} s in rounds of {ROUND};"
            f" {items} items, {megabytes:.0f} MB,"
            f" {LibraryConfig().refresh_concurrency} threads, gzip, SQLite",
        ),
        _figure(
            "library: second refresh (all 304) / first",
            second / first,
            "ratio",
            0.1,
            f"{second:.2f} s vs {first:.1f} s; {refreshed['not_modified']} of {FEEDS} unchanged",
        ),
        _figure(
            f"library: peak RSS refreshing {FEEDS} feeds, above idle",
            refreshed["peak_kb"] / 1024 - idle_mb,
            "MB",
            100,
            f"idle process {idle_mb:.0f} MB (same imports, a store)",
        ),
        _figure(
            f"library: peak RSS subscribing to a {HUGE_MB} MB feed",
            subscribed_huge["peak_kb"] / 1024 - idle_mb,
            "MB",
            100,
            f"above idle; fetch+parse+store; parse_feed alone +{parse_only:.0f} MB"
            f" with its input held ({parsed_huge['seconds']:.1f} s)",
        ),
        _figure(
            f"library: subscribe {FIRST_AUDIO_ITEMS}-item feed -> first audio",
            first_audio,
            "s",
            5,
            f"{first_audio / bare_audio:.0f}x urllib alone fetching the same MP3"
            f" ({bare_audio * 1000:.1f} ms)",
        ),
    ]


def _figure(name: str, value: float, unit: str, most: float, detail: str) -> Figure:
    """A figure whose target is "at most ``most``", its verdict first in the detail."""
    verdict = "ok" if value <= most else "MISSES"
    return Figure(name, value, unit, f"<= {most:g}", f"{verdict}; {detail}")


def _parse(path: Path) -> float:
    """Seconds feedparser takes over the feed at ``path`` (read before the clock starts)."""
    body = path.read_bytes()
    started = time.perf_counter()
    parsed = feedparser.parse(body, sanitize_html=False, resolve_relative_uris=False)
    elapsed = time.perf_counter() - started
    if not parsed.entries:
        raise RuntimeError(f"feedparser found no items in {path}")
    return elapsed


def _child(case: str, folder: Path, *args: str) -> dict[str, Any]:
    """Run one case in a fresh interpreter; what it measured."""
    done = subprocess.run(
        [sys.executable, "-m", "bench.bench_library", case, str(folder), *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    if done.returncode != 0:
        raise RuntimeError(f"bench case {case} failed:\n{done.stderr[-3000:]}")
    return dict(json.loads(done.stdout.splitlines()[-1]))


def _first_audio(server: FeedServer, folder: Path) -> tuple[float, float]:
    """Seconds from subscribe(url) to the newest episode's file on disk; and
    urllib alone fetching the same file."""
    mp3 = sine_mp3(5)
    audio_url = server.add("audio/newest.mp3", mp3.read_bytes(), "audio/mpeg")
    feed_url = server.add("big.xml", feed_xml(4242, FIRST_AUDIO_ITEMS, newest_audio=audio_url))
    folder.mkdir(parents=True)
    settings = LibraryConfig(demo=False)
    db = Database(folder / "earmark.db")
    catalog = Catalog(db)
    subscriptions = Subscriptions(db, catalog, Podcasts(db), settings)
    downloads = Downloads(db, catalog, settings, folder / "episodes")
    started = time.perf_counter()
    result = subscriptions.subscribe(feed_url)
    newest = catalog.episodes(podcast_id=result.podcast_id)[0]
    fetched = downloads.fetch(newest)
    elapsed = time.perf_counter() - started
    db.close()
    if fetched.path is None or newest.enclosure_url != audio_url:
        raise RuntimeError(f"the newest episode was not downloaded: {fetched}")
    _require_playable(fetched.path, 5.0)
    bare = folder / "bare.mp3"
    started = time.perf_counter()
    with urllib.request.urlopen(audio_url, timeout=10) as response, bare.open("wb") as out:
        shutil.copyfileobj(response, out)
    return elapsed, time.perf_counter() - started


def _require_playable(path: Path, seconds: float) -> None:
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0"]
        + [str(path)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    if abs(float(out) - seconds) > 0.5:
        raise RuntimeError(f"{path} is not {seconds:g} s of audio: ffprobe says {out.strip()}")


# -- the cases, each in a subprocess of its own --------------------------------


def _case(case: str, folder: Path, args: list[str]) -> dict[str, Any]:
    folder.mkdir(parents=True)
    settings = LibraryConfig(demo=False)
    db = Database(folder / "earmark.db")
    catalog = Catalog(db)
    podcasts = Podcasts(db)
    subscriptions = Subscriptions(db, catalog, podcasts, settings)
    downloads = Downloads(db, catalog, settings, folder / "episodes")
    found: dict[str, Any] = {}
    if case == "refresh":
        found.update(_refresh(settings, subscriptions, podcasts, downloads, folder, args))
    elif case == "subscribe":
        subscriptions.subscribe(args[0])
    elif case == "parse":
        from earmark.library.feeds import parse_feed

        data = Path(args[0]).read_bytes()
        started = time.perf_counter()
        parse_feed(data, "https://example.com/huge.xml")
        found["seconds"] = time.perf_counter() - started
    elif case != "idle":
        raise SystemExit(f"unknown case {case}")
    found.setdefault("peak_kb", _peak_kb())
    db.close()
    return found


def _refresh(
    settings: LibraryConfig,
    subscriptions: Subscriptions,
    podcasts: Podcasts,
    downloads: Downloads,
    folder: Path,
    args: list[str],
) -> dict[str, Any]:
    """The first refresh of every feed, in rounds of ``ROUND``, each after
    feedparser alone on the same feeds; then a second refresh of them all."""
    refresher = Refresher(settings, subscriptions, podcasts, downloads, folder, lambda event: None)
    pairs = [arg.split("=", 1) for arg in args]
    for _, url in pairs:  # as an OPML import does: rows now, the refresher reads them
        podcasts.subscribe(url)
    stored = {p.feed_url: p for p in podcasts.due(time.time())}
    parse = first = 0.0
    peak = 0
    for start in range(0, len(pairs), ROUND):
        chosen = pairs[start : start + ROUND]
        parse += sum(_parse(Path(path)) for path, _ in chosen)
        gc.collect()
        Path("/proc/self/clear_refs").write_text("5")  # the peak from here on
        started = time.perf_counter()
        results = asyncio.run(refresher.refresh([stored[url] for _, url in chosen]))
        first += time.perf_counter() - started
        peak = max(peak, _peak_kb())
        failed = [r.line() for r in results if r.error or r.not_modified]
        if failed or len(results) != len(chosen):
            raise RuntimeError(f"first refresh: {len(results)} results; {failed[:3]}")
    started = time.perf_counter()
    again = asyncio.run(refresher.refresh(podcasts.all()))
    second = time.perf_counter() - started
    refresher.stop()
    return {
        "parse_s": parse,
        "first_s": first,
        "second_s": second,
        "not_modified": sum(r.not_modified for r in again),
        "peak_kb": peak,
    }


def _peak_kb() -> int:
    """This process's peak resident set (since the last reset), in KiB.

    ``getrusage(RUSAGE_SELF).ru_maxrss`` cannot be used here: Linux carries it
    across ``exec``, and ``subprocess`` forks with vfork, so a child starts with
    its parent's peak (this benchmark's parent holds hundreds of MB of feeds).
    ``VmHWM`` belongs to the address space, which ``exec`` replaces.
    """
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)


if __name__ == "__main__":
    print(json.dumps(_case(sys.argv[1], Path(sys.argv[2]), sys.argv[3:])))
