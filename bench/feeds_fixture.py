"""Podcast feeds for the benchmarks, and a server that answers like a real one.

Feeds are generated from a seeded ``random`` (the same bytes every run) and
cached under the temporary folder: 100-1000 items each, descriptions of a few
hundred bytes to a few KB of show notes (paragraphs, links, timestamps),
enclosures and the iTunes tags publishers send. ``FeedServer`` serves a folder
with ``ETag`` and ``Last-Modified``, answers ``If-None-Match`` and
``If-Modified-Since`` with 304, and gzips when asked (compressed once, as a
CDN keeps it), so a conditional refresh costs what it costs in the field.
"""

from __future__ import annotations

import email.utils
import gzip
import hashlib
import random
import subprocess
import tempfile
import threading
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape, quoteattr

CACHE = Path(tempfile.gettempdir()) / "earmark-bench-feeds"
FIXTURE_VERSION = 1  # bump when the generator changes: a new cache folder

# fmt: off
_WORDS = [
    "bread", "flour", "water", "salt", "starter", "dough", "oven", "crust", "crumb", "rye",
    "wheat", "spelt", "proof", "fold", "shape", "bake", "rise", "ferment", "yeast", "kitchen",
    "recipe", "timing", "temperature", "hydration", "levain", "history", "market", "baker",
    "village", "mill", "stone", "grain", "harvest", "farmer", "season", "winter", "summer",
    "guest", "interview", "question", "answer", "story", "episode", "listener", "letter",
    "mistake", "lesson", "tip", "science", "acid", "enzyme", "gluten", "protein", "starch",
    "sugar", "heat", "steam", "colour", "flavour", "aroma",
]
# fmt: on
_ROLES = ("host", "guest", "producer")


def _sentence(rng: random.Random, low: int = 6, high: int = 18) -> str:
    words = rng.choices(_WORDS, k=rng.randint(low, high))
    return " ".join(words).capitalize() + "."


def _notes(rng: random.Random, size: int) -> str:
    """Show notes of about ``size`` bytes: paragraphs, a link list, sometimes
    a timestamp list (which the daemon reads as chapters)."""
    parts: list[str] = []
    total = 0
    if rng.random() < 0.3:
        stamps = ["<p>"]
        second = 0
        for _ in range(rng.randint(3, 8)):
            second += rng.randint(60, 900)
            stamps.append(f"{second // 3600:02d}:{second // 60 % 60:02d}:{second % 60:02d} ")
            stamps.append(f"{escape(_sentence(rng, 2, 5))}<br/>")
        stamps.append("</p>")
        parts.append("".join(stamps))
        total += sum(len(s) for s in stamps)
    while total < size:
        if rng.random() < 0.2:
            word = rng.choice(_WORDS)
            piece = (
                f'<p>More on <a href="https://example.org/{word}/{rng.randint(1, 9999)}">'
                f"{word}</a> and <em>{rng.choice(_WORDS)}</em>.</p>"
            )
        else:
            piece = "<p>" + " ".join(_sentence(rng) for _ in range(rng.randint(1, 4))) + "</p>"
        parts.append(piece)
        total += len(piece)
    return "".join(parts)


def _item(rng: random.Random, feed: int, number: int, published: datetime, audio_url: str) -> str:
    notes = _notes(rng, int(rng.lognormvariate(7.0, 0.6)))  # median ~1.1 KB, most 0.3-4 KB
    seconds = rng.randint(900, 7200)
    summary = escape(_sentence(rng, 12, 30))
    image = ""
    if rng.random() < 0.3:
        image = f'\n  <itunes:image href="https://img.example.com/{feed}/{number}.jpg"/>'
    person = ""
    if rng.random() < 0.2:
        person = (
            f'\n  <podcast:person role="{rng.choice(_ROLES)}">'
            f"{rng.choice(_WORDS).capitalize()} {rng.choice(_WORDS).capitalize()}"
            "</podcast:person>"
        )
    return f"""<item>
  <title>{number}: {escape(_sentence(rng, 3, 9)[:-1])}</title>
  <link>https://example.com/show-{feed}/episodes/{number}</link>
  <guid isPermaLink="false">show-{feed}-episode-{number}-{rng.getrandbits(64):016x}</guid>
  <pubDate>{email.utils.format_datetime(published)}</pubDate>
  <description><![CDATA[{notes}]]></description>
  <enclosure url={quoteattr(audio_url)} length="{seconds * 16000}" type="audio/mpeg"/>
  <itunes:title>{escape(_sentence(rng, 3, 9)[:-1])}</itunes:title>
  <itunes:summary>{summary}</itunes:summary>
  <itunes:duration>{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}</itunes:duration>
  <itunes:episode>{number}</itunes:episode>
  <itunes:season>{1 + number // 50}</itunes:season>
  <itunes:episodeType>full</itunes:episodeType>
  <itunes:explicit>false</itunes:explicit>{image}{person}
</item>
"""


def feed_xml(seed: int, items: int, newest_audio: str | None = None) -> bytes:
    """One feed of ``items`` episodes, newest first; the newest episode's
    enclosure is ``newest_audio`` when given (a CDN address otherwise)."""
    rng = random.Random(seed)
    title = escape(" ".join(w.capitalize() for w in rng.choices(_WORDS, k=3)))
    newest = datetime(2026, 11, 1, 6, 0, tzinfo=UTC)
    items_xml = []
    for n in range(items, 0, -1):
        published = newest - timedelta(days=7 * (items - n), minutes=rng.randint(0, 600))
        audio = f"https://cdn.example.com/show-{seed}/{n}-{rng.getrandbits(32):08x}.mp3"
        if n == items and newest_audio is not None:
            audio = newest_audio
        items_xml.append(_item(rng, seed, n, published, audio))
    head = f"""<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0" xmlns:itunes="http://www.itunes.com/dtds/podcast-1.0.dtd"
 xmlns:podcast="https://podcastindex.org/namespace/1.0"
 xmlns:atom="http://www.w3.org/2005/Atom">
<channel>
<title>{title}</title>
<link>https://example.com/show-{seed}</link>
<language>en</language>
<description>{escape(_sentence(rng, 20, 40))}</description>
<itunes:author>{escape(_sentence(rng, 2, 3)[:-1])}</itunes:author>
<itunes:image href="https://img.example.com/{seed}/cover.jpg"/>
<itunes:category text="Arts"><itunes:category text="Food"/></itunes:category>
<itunes:explicit>false</itunes:explicit>
<podcast:guid>{hashlib.sha1(str(seed).encode()).hexdigest()}</podcast:guid>
"""
    return (head + "".join(items_xml) + "</channel>\n</rss>\n").encode()


def feed_sizes(count: int, seed: int = 2026) -> list[int]:
    """How many items each of ``count`` feeds has: 100-1000, most of them nearer
    100 (log-uniform, as podcasts' back catalogues are)."""
    rng = random.Random(seed)
    return [round(100 * 10 ** rng.random()) for _ in range(count)]


def cached_feeds(count: int) -> list[Path]:
    """``count`` feeds on disk (generated once, then read from the cache)."""
    folder = CACHE / f"v{FIXTURE_VERSION}"
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for n, items in enumerate(feed_sizes(count)):
        path = folder / f"feed-{n:03d}-{items}.xml"
        if not path.exists():
            temp = path.with_suffix(".tmp")
            temp.write_bytes(feed_xml(n, items))
            temp.replace(path)
        paths.append(path)
    return paths


def huge_description_feed(megabytes: int) -> Path:
    """A feed of three items, one of whose descriptions is ``megabytes`` MB."""
    path = CACHE / f"v{FIXTURE_VERSION}" / f"huge-{megabytes}mb.xml"
    if path.exists():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = random.Random(megabytes)
    body = feed_xml(megabytes, 3)
    paragraph = ("<p>" + " ".join(_sentence(rng) for _ in range(20)) + "</p>").encode()
    huge = paragraph * (megabytes * 1024 * 1024 // len(paragraph) + 1)
    at = body.index(b"<description><![CDATA[", body.index(b"<item>")) + len(
        b"<description><![CDATA["
    )
    temp = path.with_suffix(".tmp")
    temp.write_bytes(body[:at] + huge + body[at:])
    temp.replace(path)
    return path


class FeedServer:
    """Serve files (registered by path) with validators, 304s and gzip, in a thread."""

    def __init__(self) -> None:
        self._files: dict[str, _Served] = {}
        self.answers: dict[int, int] = {}  # status -> count
        self._lock = threading.Lock()
        server = self

        class Handler(_Handler):
            served = server

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, name="feedserver", daemon=True
        )

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._httpd.server_address[1]}"

    def add(
        self,
        name: str,
        body: bytes,
        content_type: str = "application/rss+xml",
        gzipped: bytes | None = None,
    ) -> str:
        """Serve ``body`` at ``/name`` (``gzipped`` when asked, compressed now
        if not given and the type is not audio); its URL."""
        if gzipped is None and not content_type.startswith("audio/"):
            gzipped = gzip.compress(body, compresslevel=6, mtime=0)
        self._files[f"/{name}"] = _Served(body, content_type, gzipped)
        return f"{self.base_url}/{name}"

    def add_files(self, paths: Sequence[Path]) -> list[str]:
        """Serve cached feeds; their gzip is cached beside them."""
        urls = []
        for path in paths:
            packed = path.with_name(path.name + ".gz")
            if not packed.exists():
                temp = packed.with_suffix(".tmp")
                temp.write_bytes(gzip.compress(path.read_bytes(), compresslevel=6, mtime=0))
                temp.replace(packed)
            urls.append(self.add(path.name, path.read_bytes(), gzipped=packed.read_bytes()))
        return urls

    def counted(self, status: int) -> None:
        with self._lock:
            self.answers[status] = self.answers.get(status, 0) + 1

    def __enter__(self) -> FeedServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()


class _Served:
    def __init__(self, body: bytes, content_type: str, gzipped: bytes | None) -> None:
        self.body = body
        self.content_type = content_type
        self.gzipped = gzipped
        self.etag = f'"{hashlib.sha1(body).hexdigest()[:16]}"'
        self.last_modified = email.utils.formatdate(1_790_000_000, usegmt=True)


class _Handler(BaseHTTPRequestHandler):
    served: FeedServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass

    def do_GET(self) -> None:  # noqa: N802
        found = self.served._files.get(self.path)
        if found is None:
            self._answer(HTTPStatus.NOT_FOUND, b"not here", {})
            return
        validators = {"ETag": found.etag, "Last-Modified": found.last_modified}
        asked = self.headers.get("If-None-Match")
        since = self.headers.get("If-Modified-Since")
        if (asked is not None and found.etag in asked) or (
            asked is None and since == found.last_modified
        ):
            self._answer(HTTPStatus.NOT_MODIFIED, b"", validators)
            return
        headers = {"Content-Type": found.content_type, **validators}
        body = found.body
        if found.gzipped is not None and "gzip" in self.headers.get("Accept-Encoding", ""):
            body = found.gzipped
            headers["Content-Encoding"] = "gzip"
        self._answer(HTTPStatus.OK, body, headers)

    def _answer(self, status: HTTPStatus, body: bytes, headers: dict[str, str]) -> None:
        self.served.counted(int(status))
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        if status != HTTPStatus.NOT_MODIFIED:
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        try:
            if body:
                self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass


def sine_mp3(seconds: int = 5) -> Path:
    """A short, real MP3 (ffmpeg's sine source), made once."""
    path = CACHE / f"sine-{seconds}s.mp3"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        temp = path.with_name(f".{path.name}.tmp.mp3")
        subprocess.run(
            ["ffmpeg", "-nostdin", "-loglevel", "error", "-y", "-f", "lavfi"]
            + ["-i", f"sine=frequency=440:duration={seconds}", "-b:a", "64k", str(temp)],
            check=True,
        )
        temp.replace(path)
    return path
