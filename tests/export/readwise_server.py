"""A local Readwise for the tests: the highlights API v2 as documented at
https://readwise.io/api_deets, on 127.0.0.1, in a thread.

What it serves:

- ``GET /api/v2/auth/``: 204 with a good ``Authorization: Token <token>``.
- ``POST /api/v2/highlights/`` with ``{"highlights": [...]}``: validated as the
  documentation says (``text`` required, the maximum lengths, ``category`` and
  ``location_type`` among their values, ``source_type`` 3-64 characters without
  spaces, URLs, an ISO 8601 ``highlighted_at``), a bad one answered 400 with
  Django REST framework's error object, as Readwise does. A highlight with the
  ``highlight_url`` of one it holds updates that one (same id, fields
  replaced); else one with the same title, author, text and source_url (the
  documented de-dup); else it is new. Highlights go in "books" by title,
  author and category; the answer lists the books touched, each with its
  ``modified_highlights`` ids.
- ``GET``/``DELETE /api/v2/highlights/<id>/``: 200 with it / 204; 404 when none.
- 401 without the token or with another (DRF's ``{"detail": ...}``).
- A rate limit: ``limit`` requests per ``window`` seconds for a token, then 429
  with ``Retry-After`` (whole seconds to the window's end), as documented.

Switches a test flips, each for the next request only, before anything else
is looked at (as a proxy in front of Readwise would): ``fail(status,
retry_after=None)`` (a 500, a 403, a 429 without Retry-After), ``not_json()``
(an HTML error page with 200), ``slow(seconds)`` (answers late, after doing the
work: a client that gave up finds the highlight made on its retry).

Not mimicked: Readwise's redirects for paths without their trailing slash
(404 here), and the 20-per-minute limit of the LIST endpoints (not served).
"""

from __future__ import annotations

import json
import math
import re
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

MAX_LENGTHS = {
    "text": 8191,
    "title": 511,
    "author": 1024,
    "image_url": 2047,
    "source_url": 2047,
    "note": 8191,
    "highlight_url": 4095,
}
CATEGORIES = ("books", "articles", "tweets", "podcasts")
# the documented "page, order or time_offset", and the older values still taken
LOCATION_TYPES = ("page", "order", "time_offset", "location", "offset", "none")
URL_FIELDS = ("image_url", "source_url", "highlight_url")
_HIGHLIGHT = re.compile(r"/api/v2/highlights/(?P<id>[0-9]+)/")
_URL = re.compile(r"(https?|ftps?)://[^\s/?#]+\.?[^\s]*", re.IGNORECASE)


@dataclass
class Switch:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    not_json: bool = False
    slow: float = 0.0


@dataclass
class Seen:
    """One request as the server got it, and what it answered."""

    method: str
    path: str
    authorization: str | None
    body: Any
    status: int = 0


@dataclass
class StoredHighlight:
    id: int
    book_id: int
    fields: dict[str, Any]

    def __getitem__(self, key: str) -> Any:
        return self.fields.get(key)


@dataclass
class Book:
    id: int
    title: str
    author: str | None
    category: str
    source_url: str | None = None
    cover_image_url: str | None = None
    updated: str = ""


class ReadwiseServer:
    def __init__(self, token: str = "rw-test-token", limit: int = 240, window: float = 60.0):
        self.token = token
        self.limit = limit
        self.window = window
        self.requests: list[Seen] = []
        self.highlights: dict[int, StoredHighlight] = {}
        self.books: dict[int, Book] = {}
        self._switches: deque[Switch] = deque()
        self._counted: deque[float] = deque()  # monotonic times of counted requests
        self._next_id = 1000
        self._lock = threading.Lock()
        self._stopped = threading.Event()
        self._httpd = _Httpd(("127.0.0.1", 0), _handler(self))
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.05,), daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._httpd.server_port}"

    def start(self) -> ReadwiseServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopped.set()
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=10)

    def __enter__(self) -> ReadwiseServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- switches ----------------------------------------------------------------------

    def fail(self, status: int, retry_after: str | None = None) -> None:
        """The next request is answered ``status`` (and this Retry-After, if any)."""
        headers = {"Retry-After": retry_after} if retry_after is not None else {}
        self._switch(Switch(status=status, headers=headers))

    def not_json(self) -> None:
        """The next request is answered 200 with an HTML page."""
        self._switch(Switch(not_json=True))

    def slow(self, seconds: float) -> None:
        """The next request is done, then answered after ``seconds``."""
        self._switch(Switch(slow=seconds))

    def _switch(self, switch: Switch) -> None:
        with self._lock:
            self._switches.append(switch)

    # -- what a test looks at ----------------------------------------------------------

    def highlight(self, highlight_id: int | str) -> StoredHighlight | None:
        with self._lock:
            return self.highlights.get(int(highlight_id))

    def seen(self, method: str, path: str) -> list[Seen]:
        with self._lock:
            return [r for r in self.requests if r.method == method and r.path == path]

    # -- the API -----------------------------------------------------------------------

    def _route(self, request: Seen) -> tuple[int, Any, dict[str, str]]:
        """Status, JSON answer (None: no body) and headers for an authorized request."""
        if request.path == "/api/v2/auth/":
            if request.method != "GET":
                return _not_allowed(request.method)
            return 204, None, {}
        if request.path == "/api/v2/highlights/":
            if request.method != "POST":  # LIST is not served by this double
                return _not_allowed(request.method)
            return self._create(request.body)
        found = _HIGHLIGHT.fullmatch(request.path)
        if found:
            hid = int(found.group("id"))
            with self._lock:
                stored = self.highlights.get(hid)
                if stored is None:
                    return 404, {"detail": "Not found."}, {}
                if request.method == "GET":
                    return 200, {"id": hid, "book_id": stored.book_id, **stored.fields}, {}
                if request.method == "DELETE":
                    del self.highlights[hid]
                    return 204, None, {}
            return _not_allowed(request.method)
        return 404, {"detail": "Not found."}, {}

    def _create(self, body: Any) -> tuple[int, Any, dict[str, str]]:
        if not isinstance(body, dict):
            return 400, {"non_field_errors": ["Invalid data. Expected a dictionary."]}, {}
        items = body.get("highlights")
        if items is None:
            return 400, {"highlights": ["This field is required."]}, {}
        if not isinstance(items, list):
            message = f'Expected a list of items but got type "{type(items).__name__}".'
            return 400, {"highlights": {"non_field_errors": [message]}}, {}
        errors = [validate(item) for item in items]
        if any(errors):
            return 400, {"highlights": errors}, {}
        touched: dict[int, list[int]] = {}
        with self._lock:
            for order, item in enumerate(items):
                stored = self._upsert(item, order)
                touched.setdefault(stored.book_id, []).append(stored.id)
            return 200, [self._book_answer(b, ids) for b, ids in touched.items()], {}

    def _upsert(self, item: dict[str, Any], order: int) -> StoredHighlight:
        now = datetime.now().astimezone().isoformat()
        fields = {k: v for k, v in item.items() if k in _KNOWN}
        fields.setdefault("location", order)
        fields.setdefault("location_type", "order")
        category = fields.get("category") or ("articles" if fields.get("source_url") else "books")
        book = self._book(fields.get("title") or "Quotes", fields.get("author"), category)
        book.updated = now
        if fields.get("source_url"):
            book.source_url = fields["source_url"]
        if fields.get("image_url"):
            book.cover_image_url = fields["image_url"]
        stored = self._match(fields)
        if stored is None:
            self._next_id += 1
            stored = StoredHighlight(self._next_id, book.id, {})
            self.highlights[stored.id] = stored
        stored.book_id = book.id
        stored.fields = {**fields, "updated": now}
        return stored

    def _match(self, fields: dict[str, Any]) -> StoredHighlight | None:
        url = fields.get("highlight_url")
        if url:
            for stored in self.highlights.values():
                if stored["highlight_url"] == url:
                    return stored
        key = tuple(fields.get(k) for k in ("title", "author", "text", "source_url"))
        for stored in self.highlights.values():
            if tuple(stored[k] for k in ("title", "author", "text", "source_url")) == key:
                return stored
        return None

    def _book(self, title: str, author: str | None, category: str) -> Book:
        for book in self.books.values():
            if (book.title, book.author, book.category) == (title, author, category):
                return book
        self._next_id += 1
        book = Book(self._next_id, title, author, category)
        self.books[book.id] = book
        return book

    def _book_answer(self, book_id: int, ids: list[int]) -> dict[str, Any]:
        book = self.books[book_id]
        count = sum(1 for h in self.highlights.values() if h.book_id == book_id)
        return {
            "id": book.id,
            "title": book.title,
            "author": book.author,
            "category": book.category,
            "source": "api_podcast" if book.category == "podcasts" else "api_article",
            "num_highlights": count,
            "last_highlight_at": None,
            "updated": book.updated,
            "cover_image_url": book.cover_image_url,
            "highlights_url": f"https://readwise.io/bookreview/{book.id}",
            "source_url": book.source_url,
            "modified_highlights": list(dict.fromkeys(ids)),
        }

    def _throttled(self) -> int | None:
        """Seconds to wait when this request is one too many, else None (counted)."""
        now = time.monotonic()
        with self._lock:
            while self._counted and now - self._counted[0] >= self.window:
                self._counted.popleft()
            if len(self._counted) >= self.limit:
                return max(1, math.ceil(self.window - (now - self._counted[0])))
            self._counted.append(now)
            return None


_CHOICES = {"category": CATEGORIES, "location_type": LOCATION_TYPES}
_KNOWN = (
    "text",
    "title",
    "author",
    "image_url",
    "source_url",
    "source_type",
    "category",
    "note",
    "location",
    "location_type",
    "highlighted_at",
    "highlight_url",
)


def validate(item: Any) -> dict[str, list[str]]:
    """DRF's errors for one highlight object: {} when it is valid."""
    if not isinstance(item, dict):
        return {"non_field_errors": ["Invalid data. Expected a dictionary."]}
    errors: dict[str, list[str]] = {}
    if "text" not in item or item["text"] is None:
        errors["text"] = ["This field is required."]
    for name in _KNOWN:
        value = item.get(name)
        if value is None or name in errors:
            continue
        if name == "location":
            if isinstance(value, bool) or not isinstance(value, int):
                errors[name] = ["A valid integer is required."]
            continue
        if not isinstance(value, str):
            errors[name] = ["Not a valid string."]
            continue
        if name == "text" and not value.strip():
            errors[name] = ["This field may not be blank."]
        elif name in MAX_LENGTHS and len(value) > MAX_LENGTHS[name]:
            limit = MAX_LENGTHS[name]
            errors[name] = [f"Ensure this field has no more than {limit} characters."]
        elif name in URL_FIELDS and value and not _URL.fullmatch(value):
            errors[name] = ["Enter a valid URL."]
        elif value not in _CHOICES.get(name, (value,)):
            errors[name] = [f'"{value}" is not a valid choice.']
        elif name == "source_type" and (not 3 <= len(value) <= 64 or " " in value):
            errors[name] = ["Must be between 3 and 64 characters, without spaces."]
        elif name == "highlighted_at" and not _datetime(value):
            errors[name] = [
                "Datetime has wrong format. Use one of these formats instead: "
                "YYYY-MM-DDThh:mm[:ss[.uuuuuu]][+HH:MM|-HH:MM|Z]."
            ]
    return errors


def _datetime(value: str) -> bool:
    try:
        datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return False
    return True


def _not_allowed(method: str) -> tuple[int, Any, dict[str, str]]:
    return 405, {"detail": f'Method "{method}" not allowed.'}, {}


class _Httpd(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that gave up (a timed-out test) is expected, not an error."""


def _handler(server: ReadwiseServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self._serve()

        def do_POST(self) -> None:
            self._serve()

        def do_DELETE(self) -> None:
            self._serve()

        def do_PUT(self) -> None:
            self._serve()

        def do_PATCH(self) -> None:
            self._serve()

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def _serve(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            path = urlsplit(self.path).path
            request = Seen(self.command, path, self.headers.get("Authorization"), None)
            with server._lock:
                server.requests.append(request)
                switch = server._switches.popleft() if server._switches else None
            if switch is not None and switch.status != 200:
                detail = {401: "Invalid token.", 403: "Forbidden."}.get(switch.status)
                answer = {"detail": detail or f"Request failed (HTTP {switch.status})."}
                return self._send(request, switch.status, answer, switch.headers)
            if switch is not None and switch.not_json:
                page = b"<html><body><h1>502 Bad Gateway</h1></body></html>"
                return self._send_raw(request, 200, page, "text/html", {})
            status, answer, headers = self._answer(request, raw)
            if switch is not None and switch.slow and server._stopped.wait(switch.slow):
                return
            self._send(request, status, answer, headers)

        def _answer(self, request: Seen, raw: bytes) -> tuple[int, Any, dict[str, str]]:
            auth = request.authorization
            if not auth:
                detail = "Authentication credentials were not provided."
                return 401, {"detail": detail}, {"WWW-Authenticate": "Token"}
            if auth != f"Token {server.token}":
                return 401, {"detail": "Invalid token."}, {"WWW-Authenticate": "Token"}
            wait = server._throttled()
            if wait is not None:
                detail = f"Request was throttled. Expected available in {wait} seconds."
                return 429, {"detail": detail}, {"Retry-After": str(wait)}
            if raw:
                try:
                    request.body = json.loads(raw)
                except ValueError as exc:
                    return 400, {"detail": f"JSON parse error - {exc}"}, {}
            return server._route(request)

        def _send(self, request: Seen, status: int, answer: Any, headers: dict[str, str]) -> None:
            data = b"" if answer is None else json.dumps(answer).encode()
            self._send_raw(request, status, data, "application/json", headers)

        def _send_raw(
            self, request: Seen, status: int, data: bytes, kind: str, headers: dict[str, str]
        ) -> None:
            request.status = status
            try:
                self.send_response(status)
                if data:
                    self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(data)))
                for name, value in headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)
            except OSError:
                pass  # the client gave up first

    return Handler
