"""A local HTTP server that speaks the part of Notion's REST API the exporter
uses, at ``Notion-Version: 2025-09-03`` (the data-sources version), over one
database with one data source.

What it checks, as Notion documents it: the bearer token (401
``unauthorized``), the ``Notion-Version`` header (400 ``missing_version``),
ids (404 ``object_not_found``), and the size limits (400 ``validation_error``
with Notion's own wording): a rich text's content over 2 000 characters (in
UTF-16 units, as JavaScript counts), an array of more than 100 rich texts or
blocks, children nested more than two levels, more than 1 000 blocks in one
request; property names the data source lacks ("X is not a property that
exists.") and values of another type ("X is expected to be rich_text.");
a page in the trash cannot be edited. Its rate limit is a token bucket of 3
requests a second on average with small bursts (429 ``rate_limited`` with
``Retry-After`` in whole seconds).

Endpoints: ``GET /v1/users/me``; ``GET /v1/databases/{id}`` (its
``data_sources``); ``GET /v1/data_sources/{id}`` (its properties);
``POST /v1/data_sources/{id}/query`` (a ``filter`` on one text or title
property, ``equals`` or ``contains``; pages in the trash are not returned);
``POST /v1/pages`` (parent ``data_source_id``, properties, children);
``GET``/``PATCH /v1/pages/{id}`` (properties, ``in_trash`` or its alias
``archived``); ``GET``/``PATCH /v1/blocks/{id}/children`` (the append answers
the new first-level blocks); ``DELETE /v1/blocks/{id}``.

A test flips switches for the next request (:meth:`NotionServer.next`): an
error status (500, 403, a 429 with or without ``Retry-After``), an answer that
is not JSON, or a slow answer (it waits, then does the request: a client that
timed out may still have made its page, as with the real one).
"""

from __future__ import annotations

import json
import math
import re
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from earmark.errors import EarmarkError

VERSION = "2025-09-03"
MAX_TEXT = 2000
MAX_ARRAY = 100
MAX_BLOCKS = 1000
MAX_URL = 2000
BLOCK_TYPES = (
    "paragraph",
    "bulleted_list_item",
    "numbered_list_item",
    "quote",
    "toggle",
    "callout",
    "to_do",
    "heading_1",
    "heading_2",
    "heading_3",
)
DEFAULT_PROPERTIES = {
    "Name": "title",
    "Podcast": "select",
    "Episode": "url",
    "Start": "number",
    "Snipped at": "date",
    "Tags": "multi_select",
    "Dashboard": "url",
    "earmark id": "rich_text",
}
_ID = r"(?P<id>[0-9A-Za-z-]+)"
ROUTES = [
    ("GET", re.compile(r"/v1/users/me"), "me"),
    ("GET", re.compile(rf"/v1/databases/{_ID}"), "database"),
    ("GET", re.compile(rf"/v1/data_sources/{_ID}"), "data_source"),
    ("POST", re.compile(rf"/v1/data_sources/{_ID}/query"), "query"),
    ("POST", re.compile(r"/v1/pages"), "create_page"),
    ("GET", re.compile(rf"/v1/pages/{_ID}"), "get_page"),
    ("PATCH", re.compile(rf"/v1/pages/{_ID}"), "update_page"),
    ("GET", re.compile(rf"/v1/blocks/{_ID}/children"), "list_children"),
    ("PATCH", re.compile(rf"/v1/blocks/{_ID}/children"), "append_children"),
    ("DELETE", re.compile(rf"/v1/blocks/{_ID}"), "delete_block"),
]
ARCHIVED = "Can't edit block that is archived. You must unarchive the block before editing."


class Refused(EarmarkError):
    """Answer the request with Notion's error object."""

    def __init__(
        self, status: int, code: str, message: str, retry_after: str | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.retry_after = retry_after


def invalid(message: str) -> Refused:
    return Refused(400, "validation_error", message)


def too_long(path: str, limit: int, length: int) -> Refused:
    return invalid(f"body failed validation: {path} should be ≤ `{limit}`, instead was `{length}`.")


@dataclass(frozen=True)
class Fault:
    """What the server does to the next request instead of (or before) answering."""

    status: int = 0  # answer this error status
    retry_after: str | None = None  # with this Retry-After (a 429)
    not_json: bool = False  # answer 200 with an HTML page
    hang: float = 0.0  # wait this long, then do the request


def fail(status: int, retry_after: str | None = None) -> Fault:
    return Fault(status=status, retry_after=retry_after)


def not_json() -> Fault:
    return Fault(not_json=True)


def slow(seconds: float) -> Fault:
    return Fault(hang=seconds)


@dataclass
class Seen:
    """One request as the server got it, and the status it answered."""

    method: str
    path: str
    headers: dict[str, str]
    body: Any
    at: float = field(default_factory=time.monotonic)
    status: int = 0

    @property
    def blocks(self) -> int:
        """Blocks the request carried, nested ones counted."""
        if not isinstance(self.body, dict):
            return 0
        return _count(self.body.get("children") or [])


class NotionServer:
    def __init__(
        self,
        token: str = "ntn_test_token",
        properties: dict[str, str] | None = None,
        rate: float = 3.0,
        burst: int = 5,
        bot_name: str = "earmark test",
    ) -> None:
        self.token = token
        self.bot_name = bot_name
        self.database_id = str(uuid.uuid4())
        self.data_source_id = str(uuid.uuid4())
        self.schema: dict[str, dict[str, Any]] = {
            name: {"id": _short_id(i), "name": name, "type": kind, kind: {}}
            for i, (name, kind) in enumerate((properties or DEFAULT_PROPERTIES).items())
        }
        self.rate = rate
        self.burst = float(burst)
        self._tokens = float(burst)
        self._tokens_at = time.monotonic()
        self.pages: dict[str, dict[str, Any]] = {}
        self.blocks: dict[str, dict[str, Any]] = {}
        self.children: dict[str, list[str]] = {}
        self.requests: list[Seen] = []
        self._faults: deque[Fault] = deque()
        self._lock = threading.RLock()
        self._stopped = threading.Event()
        self._httpd = _Httpd(("127.0.0.1", 0), _handler(self))
        self._thread = threading.Thread(target=self._serve, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._httpd.server_port}"

    def next(self, *faults: Fault) -> None:
        """Do these to the next requests, in order."""
        with self._lock:
            self._faults.extend(faults)

    def _serve(self) -> None:
        self._httpd.serve_forever(poll_interval=0.05)

    def start(self) -> NotionServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopped.set()
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=10)

    def __enter__(self) -> NotionServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- what a test reads ------------------------------------------------------------

    def live_pages(self) -> list[dict[str, Any]]:
        with self._lock:
            return [p for p in self.pages.values() if not p["in_trash"]]

    def text(self, page: dict[str, Any], name: str) -> str:
        value = page["properties"][name]
        return "".join(t["plain_text"] for t in value[value["type"]])

    def tree(self, parent_id: str) -> list[tuple[dict[str, Any], list[Any]]]:
        """The live blocks under a page or block, each with its own."""
        with self._lock:
            ids = self.children.get(parent_id, [])
            blocks = [self.blocks[i] for i in ids if not self.blocks[i]["in_trash"]]
            return [(b, self.tree(b["id"])) for b in blocks]

    def rate_limited(self) -> list[Seen]:
        return [r for r in self.requests if r.status == 429]

    # --- the API ------------------------------------------------------------------------

    def handle(self, method: str, target: str, headers: dict[str, str], raw: bytes) -> Any:
        """The answer to one request (a JSON object), or Refused."""
        parts = urlsplit(target)
        auth = headers.get("authorization")
        if auth != f"Bearer {self.token}":
            raise Refused(401, "unauthorized", "API token is invalid.")
        version = headers.get("notion-version")
        if not version:
            raise Refused(
                400,
                "missing_version",
                "Notion-Version header failed validation: Notion-Version header should be"
                " defined, instead was `undefined`.",
            )
        if version != VERSION:
            raise invalid(f"this double speaks Notion-Version {VERSION} only, not `{version}`.")
        self._take_token()
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            raise Refused(400, "invalid_json", "Error parsing JSON body.") from None
        for verb, pattern, name in ROUTES:
            match = pattern.fullmatch(parts.path)
            if match and verb == method:
                query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
                return getattr(self, f"_{name}")(match.groupdict().get("id"), body, query)
        raise Refused(400, "invalid_request_url", "Invalid request URL.")

    def _take_token(self) -> None:
        now = time.monotonic()
        self._tokens = min(self.burst, self._tokens + (now - self._tokens_at) * self.rate)
        self._tokens_at = now
        if self._tokens < 1.0:
            wait = math.ceil((1.0 - self._tokens) / self.rate)
            message = "You have been rate limited. Please try again in a few minutes."
            raise Refused(429, "rate_limited", message, retry_after=str(max(1, wait)))
        self._tokens -= 1.0

    def _me(self, _id: Any, _body: Any, _query: Any) -> dict[str, Any]:
        return {"object": "user", "id": "bot-1", "type": "bot", "name": self.bot_name, "bot": {}}

    def _database(self, database_id: str, _body: Any, _query: Any) -> dict[str, Any]:
        if _plain(database_id) != _plain(self.database_id):
            raise _not_found("database", database_id)
        return {
            "object": "database",
            "id": self.database_id,
            "title": _rich_out([{"type": "text", "text": {"content": "Podcast snips"}}]),
            "data_sources": [{"id": self.data_source_id, "name": "Podcast snips"}],
            "in_trash": False,
        }

    def _data_source(self, source_id: str, _body: Any, _query: Any) -> dict[str, Any]:
        self._source(source_id)
        return {
            "object": "data_source",
            "id": self.data_source_id,
            "parent": {"type": "database_id", "database_id": self.database_id},
            "properties": self.schema,
        }

    def _query(self, source_id: str, body: Any, _query: Any) -> dict[str, Any]:
        self._source(source_id)
        body = body or {}
        pages = [p for p in self.pages.values() if not p["in_trash"]]
        condition = body.get("filter")
        if condition is not None:
            name = condition.get("property")
            spec = self._property(name)
            if spec is None:
                raise invalid(f"Could not find property with name or id: {name}")
            kind = spec["type"]
            test = condition.get(kind)
            if kind not in ("rich_text", "title") or not isinstance(test, dict):
                raise invalid(f"body failed validation: body.filter.{kind} should be defined.")
            wanted = test.get("equals", test.get("contains"))
            if not isinstance(wanted, str):
                raise invalid(
                    f"body failed validation: body.filter.{kind}.equals should be a string."
                )
            column = spec["name"]

            def holds(page: dict[str, Any]) -> bool:
                text = self.text(page, column)
                return text == wanted if "equals" in test else wanted in text

            pages = [p for p in pages if holds(p)]
        return self._listing(pages, body.get("page_size"), body.get("start_cursor"), "page")

    def _create_page(self, _id: Any, body: Any, _query: Any) -> dict[str, Any]:
        if not isinstance(body, dict):
            raise invalid("body failed validation: body should be an object.")
        parent = body.get("parent") or {}
        if not isinstance(parent, dict) or "data_source_id" not in parent:
            raise invalid("body failed validation: body.parent.data_source_id should be defined.")
        self._source(parent["data_source_id"])
        properties = self._properties_in(body.get("properties") or {})
        children = body.get("children") or []
        self._check_blocks(children, "body.children")
        now = _now()
        page_id = str(uuid.uuid4())
        page: dict[str, Any] = {
            "object": "page",
            "id": page_id,
            "created_time": now,
            "last_edited_time": now,
            "parent": {
                "type": "data_source_id",
                "data_source_id": self.data_source_id,
                "database_id": self.database_id,
            },
            "in_trash": False,
            "archived": False,
            "properties": self._blank_properties(),
            "url": f"https://www.notion.so/{page_id.replace('-', '')}",
        }
        page["properties"].update(properties)
        self.pages[page_id] = page
        self._store_blocks(page_id, children)
        return page

    def _get_page(self, page_id: str, _body: Any, _query: Any) -> dict[str, Any]:
        return self._page(page_id)

    def _update_page(self, page_id: str, body: Any, _query: Any) -> dict[str, Any]:
        page = self._page(page_id)
        body = body or {}
        trash = body.get("in_trash", body.get("archived"))
        if trash is not None and not isinstance(trash, bool):
            raise invalid("body failed validation: body.in_trash should be a boolean.")
        if page["in_trash"] and trash is not False and "properties" in body:
            raise invalid(ARCHIVED)
        properties = self._properties_in(body.get("properties") or {})
        page["properties"].update(properties)
        if trash is not None:
            page["in_trash"] = page["archived"] = trash
        page["last_edited_time"] = _now()
        return page

    def _list_children(self, block_id: str, _body: Any, query: dict[str, str]) -> dict[str, Any]:
        self._container(block_id)
        ids = self.children.get(self._key(block_id), [])
        blocks = [self.blocks[i] for i in ids if not self.blocks[i]["in_trash"]]
        size = int(query.get("page_size") or 100)
        return self._listing(blocks, size, query.get("start_cursor"), "block")

    def _append_children(self, block_id: str, body: Any, _query: Any) -> dict[str, Any]:
        parent = self._container(block_id)
        if parent.get("in_trash"):
            raise invalid(ARCHIVED)
        children = (body or {}).get("children")
        if not isinstance(children, list):
            raise invalid("body failed validation: body.children should be an array.")
        self._check_blocks(children, "body.children")
        made = self._store_blocks(self._key(block_id), children)
        return self._listing(made, 100, None, "block")

    def _delete_block(self, block_id: str, _body: Any, _query: Any) -> dict[str, Any]:
        key = self._key(block_id)
        if key in self.pages:
            self.pages[key]["in_trash"] = self.pages[key]["archived"] = True
            return self.pages[key]
        block = self.blocks.get(key)
        if block is None:
            raise _not_found("block", block_id)
        block["in_trash"] = block["archived"] = True
        return block

    # --- helpers -----------------------------------------------------------------------

    def _source(self, source_id: str) -> None:
        if _plain(str(source_id)) != _plain(self.data_source_id):
            raise _not_found("data_source", source_id)

    def _key(self, some_id: str) -> str:
        for known in (*self.pages, *self.blocks):
            if _plain(known) == _plain(some_id):
                return known
        return some_id

    def _page(self, page_id: str) -> dict[str, Any]:
        page = self.pages.get(self._key(page_id))
        if page is None:
            raise _not_found("page", page_id)
        return page

    def _container(self, block_id: str) -> dict[str, Any]:
        key = self._key(block_id)
        found = self.pages.get(key) or self.blocks.get(key)
        if found is None:
            raise _not_found("block", block_id)
        return found

    def _property(self, name: Any) -> dict[str, Any] | None:
        for spec in self.schema.values():
            if name in (spec["name"], spec["id"]):
                return spec
        return None

    def _blank_properties(self) -> dict[str, Any]:
        empty: dict[str, Any] = {
            "title": [],
            "rich_text": [],
            "multi_select": [],
        }
        return {
            name: {"id": spec["id"], "type": spec["type"], spec["type"]: empty.get(spec["type"])}
            for name, spec in self.schema.items()
        }

    def _properties_in(self, given: Any) -> dict[str, Any]:
        """Validated property values, as the page stores and answers them."""
        if not isinstance(given, dict):
            raise invalid("body failed validation: body.properties should be an object.")
        out: dict[str, Any] = {}
        for key, value in given.items():
            spec = self._property(key)
            if spec is None:
                raise invalid(f"{key} is not a property that exists.")
            kind = spec["type"]
            if not isinstance(value, dict) or kind not in value:
                raise invalid(f"{key} is expected to be {kind}.")
            v = value[kind]
            path = f"body.properties.{key}.{kind}"
            if kind in ("title", "rich_text"):
                v = _rich_out(_check_rich_text(v, path))
            elif kind == "url":
                if v is not None and not isinstance(v, str):
                    raise invalid(f"body failed validation: {path} should be a string or `null`.")
                if v is not None and len(v) > MAX_URL:
                    raise too_long(f"{path}.length", MAX_URL, len(v))
            elif kind == "number":
                if v is not None and (isinstance(v, bool) or not isinstance(v, int | float)):
                    raise invalid(f"body failed validation: {path} should be a number or `null`.")
            elif kind == "date":
                if v is not None:
                    start = v.get("start") if isinstance(v, dict) else None
                    try:
                        datetime.fromisoformat(str(start).replace("Z", "+00:00"))
                    except ValueError:
                        raise invalid(
                            f"body failed validation: {path}.start should be a valid ISO 8601"
                            f" date string, instead was `{json.dumps(start)}`."
                        ) from None
            elif kind == "select":
                if v is not None:
                    _check_option(v, path)
            elif kind == "multi_select":
                if not isinstance(v, list):
                    raise invalid(f"body failed validation: {path} should be an array.")
                if len(v) > MAX_ARRAY:
                    raise too_long(f"{path}.length", MAX_ARRAY, len(v))
                for i, option in enumerate(v):
                    _check_option(option, f"{path}[{i}]")
            out[spec["name"]] = {"id": spec["id"], "type": kind, kind: v}
        return out

    def _check_blocks(self, blocks: Any, path: str) -> None:
        if not isinstance(blocks, list):
            raise invalid(f"body failed validation: {path} should be an array.")
        total = _count(blocks)
        if total > MAX_BLOCKS:
            raise invalid(
                f"body failed validation: the request holds {total} blocks, more than"
                f" `{MAX_BLOCKS}`."
            )
        self._check_level(blocks, path, depth=1)

    def _check_level(self, blocks: list[Any], path: str, depth: int) -> None:
        if len(blocks) > MAX_ARRAY:
            raise too_long(f"{path}.length", MAX_ARRAY, len(blocks))
        for i, block in enumerate(blocks):
            here = f"{path}[{i}]"
            kind = block.get("type") if isinstance(block, dict) else None
            if kind is None and isinstance(block, dict):
                kind = next((k for k in BLOCK_TYPES if k in block), None)
            if kind not in BLOCK_TYPES or not isinstance(block.get(kind), dict):
                raise invalid(
                    f"body failed validation: {here} should be a block this double knows."
                )
            inner = block[kind]
            _check_rich_text(inner.get("rich_text"), f"{here}.{kind}.rich_text")
            kids = inner.get("children")
            if kids is not None:
                if depth >= 2:
                    raise invalid(
                        f"body failed validation: {here}.{kind}.children should be not present,"
                        " instead was `[...]`."
                    )
                if not isinstance(kids, list):
                    raise invalid(
                        f"body failed validation: {here}.{kind}.children should be an array."
                    )
                self._check_level(kids, f"{here}.{kind}.children", depth + 1)

    def _store_blocks(self, parent_id: str, blocks: list[Any]) -> list[dict[str, Any]]:
        made = []
        for block in blocks:
            kind = block.get("type") or next(k for k in BLOCK_TYPES if k in block)
            inner = {k: v for k, v in block[kind].items() if k != "children"}
            inner["rich_text"] = _rich_out(inner.get("rich_text") or [])
            block_id = str(uuid.uuid4())
            kids = block[kind].get("children") or []
            stored = {
                "object": "block",
                "id": block_id,
                "parent": {"type": "block_id", "block_id": parent_id},
                "type": kind,
                kind: inner,
                "has_children": bool(kids),
                "in_trash": False,
                "archived": False,
                "created_time": _now(),
            }
            self.blocks[block_id] = stored
            self.children.setdefault(parent_id, []).append(block_id)
            if kids:
                self._store_blocks(block_id, kids)
            made.append(stored)
        if parent_id in self.blocks:
            self.blocks[parent_id]["has_children"] = True
        return made

    def _listing(
        self, items: list[dict[str, Any]], page_size: Any, cursor: Any, kind: str
    ) -> dict[str, Any]:
        size = page_size if isinstance(page_size, int) else 100
        if not 1 <= size <= 100:
            raise too_long("body.page_size", 100, size)
        start = 0
        if cursor:
            ids = [i["id"] for i in items]
            if cursor not in ids:
                raise invalid(f"body failed validation: start_cursor `{cursor}` is not valid.")
            start = ids.index(cursor)
        chunk = items[start : start + size]
        more = start + size < len(items)
        return {
            "object": "list",
            "results": chunk,
            "next_cursor": items[start + size]["id"] if more else None,
            "has_more": more,
            "type": "page_or_data_source" if kind == "page" else "block",
            ("page_or_data_source" if kind == "page" else "block"): {},
        }


def _check_rich_text(value: Any, path: str) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise invalid(f"body failed validation: {path} should be an array.")
    if len(value) > MAX_ARRAY:
        raise too_long(f"{path}.length", MAX_ARRAY, len(value))
    for i, item in enumerate(value):
        content = (
            ((item or {}).get("text") or {}).get("content") if isinstance(item, dict) else None
        )
        if not isinstance(content, str):
            raise invalid(f"body failed validation: {path}[{i}].text.content should be a string.")
        length = utf16(content)
        if length > MAX_TEXT:
            raise too_long(f"{path}[{i}].text.content.length", MAX_TEXT, length)
    return value


def _check_option(option: Any, path: str) -> None:
    name = option.get("name") if isinstance(option, dict) else None
    if not isinstance(name, str) or not name:
        raise invalid(f"body failed validation: {path}.name should be defined.")
    if "," in name:
        raise invalid(f"Invalid select option, commas not allowed: {name}")
    if len(name) > 100:
        raise too_long(f"{path}.name.length", 100, len(name))


def _rich_out(items: list[Any]) -> list[dict[str, Any]]:
    out = []
    for item in items:
        content = item["text"]["content"]
        out.append(
            {
                "type": "text",
                "text": {"content": content, "link": None},
                "annotations": {"bold": False, "italic": False, "code": False},
                "plain_text": content,
                "href": None,
            }
        )
    return out


def _count(blocks: list[Any]) -> int:
    total = 0
    for block in blocks:
        total += 1
        if isinstance(block, dict):
            kind = block.get("type") or ""
            inner = block.get(kind) if isinstance(block.get(kind), dict) else {}
            kids = inner.get("children") if isinstance(inner, dict) else None
            if isinstance(kids, list):
                total += _count(kids)
    return total


def utf16(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def _plain(some_id: str) -> str:
    return some_id.replace("-", "").lower()


def _short_id(i: int) -> str:
    return f"p{i:03d}"


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _not_found(kind: str, some_id: str) -> Refused:
    return Refused(
        404,
        "object_not_found",
        f"Could not find {kind} with ID: {some_id}. Make sure the relevant pages and"
        " databases are shared with your integration.",
    )


class _Httpd(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that gave up (a timed-out test) is expected, not an error."""


def _handler(server: NotionServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self._serve()

        def do_POST(self) -> None:
            self._serve()

        def do_PATCH(self) -> None:
            self._serve()

        def do_DELETE(self) -> None:
            self._serve()

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def _serve(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            headers = {k.lower(): v for k, v in self.headers.items()}
            try:
                body = json.loads(raw) if raw else None
            except ValueError:
                body = None
            seen = Seen(self.command, self.path, headers, body)
            with server._lock:
                server.requests.append(seen)
                fault = server._faults.popleft() if server._faults else None
            if fault is not None and fault.hang and server._stopped.wait(fault.hang):
                return
            if fault is not None and fault.not_json:
                return self._send(seen, 200, b"<html><body>Bad gateway</body></html>", {})
            if fault is not None and fault.status:
                extra = {"Retry-After": fault.retry_after} if fault.retry_after else {}
                codes = {
                    403: "restricted_resource",
                    429: "rate_limited",
                    500: "internal_server_error",
                }
                code = codes.get(fault.status, "internal_server_error")
                return self._error(seen, Refused(fault.status, code, "switched by the test"), extra)
            try:
                with server._lock:
                    answer = server.handle(self.command, self.path, headers, raw)
            except Refused as refused:
                retry = refused.retry_after
                return self._error(seen, refused, {"Retry-After": retry} if retry else {})
            self._send(seen, 200, json.dumps(answer).encode(), {"Content-Type": "application/json"})

        def _error(self, seen: Seen, refused: Refused, headers: dict[str, str]) -> None:
            payload = {
                "object": "error",
                "status": refused.status,
                "code": refused.code,
                "message": refused.message,
                "request_id": str(uuid.uuid4()),
            }
            headers = {"Content-Type": "application/json", **headers}
            data = json.dumps(payload, ensure_ascii=False).encode()
            self._send(seen, refused.status, data, headers)

        def _send(self, seen: Seen, status: int, data: bytes, headers: dict[str, str]) -> None:
            seen.status = status
            try:
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
            except OSError:
                pass  # the client gave up first

    return Handler
