"""Notion: a page per highlight in one database, through the public REST API.

Pinned to ``Notion-Version: 2025-09-03``, the data-sources version: a page's
parent is the database's data source (``{"type": "data_source_id", ...}``),
looked up once with ``GET /v1/databases/{id}`` (its ``data_sources[0].id``);
pages are found with ``POST /v1/data_sources/{id}/query`` and put in the trash
with ``in_trash`` (``archived`` is only its deprecated alias in this version).

The page's properties follow the data source's own schema, read once (and again
after a while, or when Notion refuses a page): the title goes to whatever
property is of type title; ``Podcast`` (text or select), ``Episode`` (URL),
``Start`` (number, seconds), ``Snipped at`` (date), ``Tags`` (multi-select) and
``Dashboard`` (URL) are written when the database has them with a type that
fits, and left out otherwise (``earmark doctor`` names them). ``earmark id``
(text) is required: it holds the highlight's id, and an export that does not
know its page asks Notion for the page holding that id first, so a crash
between the page's creation and earmark recording it still leaves one page.

The page's body is earmark's and is written whole on every change: takeaways as
bullets, the quote as a quote, the listener's note, and the transcript in a
toggle. Notion takes at most 2 000 characters (counted in UTF-16 units, as
JavaScript does) per rich-text content and 100 blocks per array: long texts go
in pieces of at most that, a request carries at most 100 blocks (nested ones
counted) and stays far below Notion's payload cap, and what does not fit is
appended with ``PATCH /v1/blocks/{id}/children``, to the page or to the toggle.

Every request goes through one token bucket (3 a second, bursts of 3), so a
long transcript never meets Notion's rate limit (an average of three requests a
second); a 429 still says how long to wait (``RateLimited``).
"""

from __future__ import annotations

import json
import logging
import threading
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from earmark.config.model import NotionConfig
from earmark.export.base import AuthFailed, ExportError, ExportItem, Rejected, TargetDown
from earmark.export.http import request_json

log = logging.getLogger(__name__)

NOTION_VERSION = "2025-09-03"
MAX_TEXT = 2000  # UTF-16 units in one rich text's content
MAX_RICH_TEXT = 100  # rich text objects in one array
MAX_BLOCKS = 100  # blocks in one request, nested ones counted
MAX_PAYLOAD = 400_000  # bytes of blocks in one request, well below Notion's cap
MAX_URL = 2000
MAX_OPTION = 100  # characters of a select option's name
MAX_OPTIONS = 100  # options of a multi-select
RATE = 3.0  # requests a second, Notion's documented average
BURST = 3
SCHEMA_SECONDS = 300.0  # the data source's properties are read again after this

TITLE = "title"
EARMARK_ID = "earmark id"
# the properties earmark fills when the database has them, and the types it can fill
PROPERTIES: dict[str, tuple[str, ...]] = {
    "Podcast": ("rich_text", "select"),
    "Episode": ("url",),
    "Start": ("number",),
    "Snipped at": ("date",),
    "Tags": ("multi_select",),
    "Dashboard": ("url",),
    EARMARK_ID: ("rich_text",),
}

Block = dict[str, Any]


class RateLimiter:
    """A token bucket: ``rate`` a second on average, ``burst`` at once. Each
    ``acquire`` takes a token, or reserves the next one and sleeps until it is due
    (the lock is held only to count, so waiting callers queue in order)."""

    def __init__(
        self,
        rate: float = RATE,
        burst: int = BURST,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.rate = rate
        self.burst = float(burst)
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._tokens = float(burst)
        self._at = clock()

    def acquire(self) -> float:
        """Take a token; the seconds waited for it."""
        with self._lock:
            now = self._clock()
            self._tokens = min(self.burst, self._tokens + (now - self._at) * self.rate)
            self._at = now
            self._tokens -= 1.0
            wait = -self._tokens / self.rate if self._tokens < 0 else 0.0
        if wait > 0:
            self._sleep(wait)
        return wait


@dataclass(frozen=True)
class Schema:
    """The data source's properties as earmark writes them."""

    title: str | None  # the name of the data source's title property
    fields: dict[str, tuple[str, str]]  # our name -> (its name there, its type)
    missing: tuple[str, ...]  # ours it lacks, or has with a type earmark cannot fill


class NotionExporter:
    name = "notion"

    def __init__(
        self,
        config: NotionConfig,
        timeout: float = 30.0,
        limiter: RateLimiter | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.config = config
        self.timeout = timeout
        self.base_url = config.base_url.rstrip("/")
        self.limiter = limiter or RateLimiter()
        self._clock = clock
        self._data_source: str | None = None
        self._database_title = ""
        self._schema: Schema | None = None
        self._schema_at = 0.0

    # -- the Exporter ----------------------------------------------------------------

    def export(self, item: ExportItem, external_id: str | None) -> str:
        schema = self._current_schema()
        properties = page_properties(item, schema)
        blocks = page_blocks(item)
        page_id = external_id or self._find(item.highlight.id, schema)
        if page_id is None:
            return self._create(properties, blocks)
        try:
            self._call("PATCH", f"/v1/pages/{_q(page_id)}", {"properties": properties})
        except Rejected:
            self._schema = None  # perhaps the database changed under us
            if external_id is None:
                raise
            # the page we knew is gone or in the trash: the one holding the id, or a new one
            found = self._find(item.highlight.id, schema)
            if found == external_id:
                raise
            if found is None:
                log.info("notion page %s is gone; a new one for %s", page_id, item.highlight.id)
                return self._create(properties, blocks)
            page_id = found
            self._call("PATCH", f"/v1/pages/{_q(page_id)}", {"properties": properties})
        self._replace_children(page_id, blocks)
        return page_id

    def remove(self, item: ExportItem, external_id: str) -> None:
        path = f"/v1/pages/{_q(external_id)}"
        try:
            self._call("PATCH", path, {"in_trash": True})
        except Rejected:
            # refused: already gone for good, or not ours to see any more?
            try:
                page = self._call("GET", path)
            except Rejected:
                log.info("notion page %s is gone already", external_id)
                return
            if not (isinstance(page, dict) and page.get("in_trash")):
                raise

    def check(self) -> str:
        me = _object(self._call("GET", "/v1/users/me"), "the integration")
        who = me.get("name") or me.get("id") or "an unnamed integration"
        schema = self._load_schema()
        title = self._database_title or self.config.database_id
        line = f"Notion answers as {who}; database '{title}' (data source {self._data_source})"
        if schema.missing:
            return f"{line}; not filled, missing or of another type: {', '.join(schema.missing)}"
        return f"{line}; every property found"

    # -- pages -----------------------------------------------------------------------

    def _create(self, properties: dict[str, Any], blocks: list[Block]) -> str:
        first, leftover, rest = take_blocks(blocks, split=False)
        assert leftover is None
        body = {
            "parent": {"type": "data_source_id", "data_source_id": self._data_source_id()},
            "properties": properties,
            "children": first,
        }
        page = _object(self._call("POST", "/v1/pages", body), "the new page")
        page_id = page.get("id")
        if not isinstance(page_id, str) or not page_id:
            raise TargetDown("Notion made the page but did not say its id")
        # a failure from here on is mended by the next run: it finds the page by its id
        self._append(page_id, rest)
        return page_id

    def _find(self, highlight_id: str, schema: Schema) -> str | None:
        """The live page holding the highlight's id, if there is one."""
        name = schema.fields[EARMARK_ID][0]
        body = {"filter": {"property": name, "rich_text": {"equals": highlight_id}}}
        path = f"/v1/data_sources/{_q(self._data_source_id())}/query"
        try:
            answer = _object(self._call("POST", path, body), "the query")
        except Rejected as exc:
            self._schema = None  # the database changed under us? read it again next time
            raise ExportError(
                f"Notion refused the search for the page of a highlight ({exc})"
            ) from None
        pages = [
            p
            for p in answer.get("results") or []
            if isinstance(p, dict) and p.get("id") and not p.get("in_trash")
        ]
        if len(pages) > 1:
            log.warning("notion holds %d pages of highlight %s", len(pages), highlight_id)
        pages.sort(key=lambda p: str(p.get("created_time") or ""))
        return str(pages[0]["id"]) if pages else None

    def _replace_children(self, page_id: str, blocks: list[Block]) -> None:
        for block_id in self._child_ids(page_id):
            self._call("DELETE", f"/v1/blocks/{_q(block_id)}")
        self._append(page_id, blocks)

    def _child_ids(self, block_id: str) -> list[str]:
        ids: list[str] = []
        cursor: str | None = None
        while True:
            query = {"page_size": "100", **({"start_cursor": cursor} if cursor else {})}
            path = f"/v1/blocks/{_q(block_id)}/children?{urllib.parse.urlencode(query)}"
            answer = _object(self._call("GET", path), "the page's blocks")
            for block in answer.get("results") or []:
                if isinstance(block, dict) and block.get("id") and not block.get("in_trash"):
                    ids.append(str(block["id"]))
            cursor = answer.get("next_cursor")
            if not answer.get("has_more") or not cursor:
                return ids

    def _append(self, parent_id: str, blocks: list[Block]) -> None:
        while blocks:
            batch, leftover, blocks = take_blocks(blocks, split=True)
            path = f"/v1/blocks/{_q(parent_id)}/children"
            answer = _object(self._call("PATCH", path, {"children": batch}), "the new blocks")
            if leftover:
                # the last block went with only part of its children: the rest go into it
                made = [b for b in answer.get("results") or [] if isinstance(b, dict)]
                if not made or not made[-1].get("id"):
                    raise TargetDown("Notion appended the blocks but did not say their ids")
                self._append(str(made[-1]["id"]), leftover)

    # -- the database ----------------------------------------------------------------

    def _data_source_id(self) -> str:
        if self._data_source is None:
            database_id = self.config.database_id or ""
            try:
                answer = self._call("GET", f"/v1/databases/{_q(database_id)}")
            except Rejected as exc:
                # the settings' fault, not the highlight's: retried, and said plainly
                raise ExportError(
                    f"Notion cannot open the database {database_id}: check"
                    f" exports.notion.database_id and share the database with the integration"
                    f" ({exc})"
                ) from None
            answer = _object(answer, "the database")
            sources = answer.get("data_sources") or []
            if not sources or not isinstance(sources[0], dict) or not sources[0].get("id"):
                raise ExportError(f"the Notion database {database_id} has no data source to fill")
            self._database_title = plain_text(answer.get("title"))
            self._data_source = str(sources[0]["id"])
        return self._data_source

    def _current_schema(self) -> Schema:
        if self._schema is None or self._clock() - self._schema_at > SCHEMA_SECONDS:
            return self._load_schema()
        return self._schema

    def _load_schema(self) -> Schema:
        path = f"/v1/data_sources/{_q(self._data_source_id())}"
        answer = _object(self._call("GET", path), "the data source")
        schema = read_schema(answer.get("properties"))
        if EARMARK_ID not in schema.fields:
            # the database's fault, not the highlight's: retried until someone adds it
            raise ExportError(
                f"the Notion database has no text property '{EARMARK_ID}': add one"
                " (earmark keeps each highlight's id there, to find its page again)"
            )
        if schema.missing:
            log.info("notion: the database lacks %s; they are left out", ", ".join(schema.missing))
        self._schema, self._schema_at = schema, self._clock()
        return schema

    # -- HTTP ------------------------------------------------------------------------

    def _call(self, method: str, path: str, body: Any = None) -> Any:
        token = self.config.key()
        if not token:
            env = self.config.token_env
            where = f"the environment variable {env}" if env else "exports.notion.token"
            raise AuthFailed(f"no Notion token: {where} is empty")
        headers = {"Authorization": f"Bearer {token}", "Notion-Version": NOTION_VERSION}
        self.limiter.acquire()
        return request_json(
            method,
            self.base_url + path,
            headers=headers,
            body=body,
            timeout=self.timeout,
            what="Notion",
        )


# -- what a page holds -------------------------------------------------------------


def read_schema(properties: Any) -> Schema:
    """Which of earmark's properties the data source has, by name (any case)."""
    found: dict[str, tuple[str, str]] = {}
    title = None
    by_name: dict[str, tuple[str, str]] = {}
    for key, spec in (properties or {}).items():
        if not isinstance(spec, dict):
            continue
        name, kind = str(spec.get("name") or key), str(spec.get("type") or "")
        if kind == "title":
            title = name
        by_name.setdefault(name.casefold(), (name, kind))
    missing = []
    for ours, kinds in PROPERTIES.items():
        theirs = by_name.get(ours.casefold())
        if theirs is not None and theirs[1] in kinds:
            found[ours] = theirs
        else:
            missing.append(ours)
    if title is None:
        missing.insert(0, TITLE)
    return Schema(title=title, fields=found, missing=tuple(missing))


def page_properties(item: ExportItem, schema: Schema) -> dict[str, Any]:
    h, episode = item.highlight, item.episode
    values: dict[str, Any] = {
        "Podcast": episode.podcast or h.podcast_title,
        "Episode": _url(episode.url),
        "Start": round(h.start, 3),
        "Snipped at": {"start": h.pressed_at} if h.pressed_at else None,
        "Tags": [{"name": n} for n in _options(h.tags)],
        "Dashboard": _url(item.link),
        EARMARK_ID: h.id,
    }
    properties: dict[str, Any] = {}
    if schema.title is not None:
        properties[schema.title] = {"title": rich_text(page_title(item))}
    for ours, (theirs, kind) in schema.fields.items():
        value = values[ours]
        if kind == "rich_text":
            properties[theirs] = {"rich_text": rich_text(str(value or ""))}
        elif kind == "select":
            option = _options([str(value or "")])
            properties[theirs] = {"select": {"name": option[0]} if option else None}
        else:
            properties[theirs] = {kind: value}
    return properties


def page_title(item: ExportItem) -> str:
    h = item.highlight
    if h.title and h.title.strip():
        return h.title.strip()
    if h.quote and h.quote.strip():
        words = h.quote.strip()
        return words if len(words) <= 80 else words[:79].rstrip() + "…"
    minutes, seconds = divmod(int(h.start), 60)
    return f"{item.episode.title or h.episode_title or 'A snip'} at {minutes}:{seconds:02d}"


def page_blocks(item: ExportItem) -> list[Block]:
    h = item.highlight
    blocks = [text_block("bulleted_list_item", t) for t in h.takeaways if t.strip()]
    if h.quote and h.quote.strip():
        blocks.append(text_block("quote", h.quote.strip()))
    if h.note and h.note.strip():
        blocks.append(text_block("paragraph", h.note.strip()))
    if h.transcript and h.transcript.strip():
        pieces = split_text(h.transcript.strip())
        toggle = text_block("toggle", "Transcript")
        toggle["toggle"]["children"] = [
            {"object": "block", "type": "paragraph", "paragraph": {"rich_text": [_text(p)]}}
            for p in pieces
        ]
        blocks.append(toggle)
    return blocks


def text_block(kind: str, text: str) -> Block:
    return {"object": "block", "type": kind, kind: {"rich_text": rich_text(text)}}


def rich_text(text: str) -> list[dict[str, Any]]:
    """Text as rich text objects of at most MAX_TEXT each (and at most
    MAX_RICH_TEXT of them: 200 000 characters, far more than a title holds)."""
    return [_text(piece) for piece in split_text(text)[:MAX_RICH_TEXT]] if text else []


def _text(content: str) -> dict[str, Any]:
    return {"type": "text", "text": {"content": content}}


def split_text(text: str, limit: int = MAX_TEXT) -> list[str]:
    """Pieces of at most ``limit`` UTF-16 units that join back into ``text``;
    each ends after a space or line break when one is in its second half."""
    pieces: list[str] = []
    start, n = 0, len(text)
    while start < n:
        units, end = 0, start
        while end < n:
            width = 2 if ord(text[end]) > 0xFFFF else 1
            if units + width > limit:
                break
            units += width
            end += 1
        if end < n:
            cut = max(text.rfind(" ", start, end), text.rfind("\n", start, end))
            if cut >= start + (end - start) // 2:
                end = cut + 1
        pieces.append(text[start:end])
        start = end
    return pieces


def utf16_length(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def plain_text(value: Any) -> str:
    if not isinstance(value, list):
        return ""
    parts = []
    for item in value:
        if isinstance(item, dict):
            text = item.get("plain_text")
            if text is None:
                text = (item.get("text") or {}).get("content", "")
            parts.append(str(text))
    return "".join(parts)


def _url(value: str | None) -> str | None:
    return value if value and len(value) <= MAX_URL else None


def _options(names: Any) -> list[str]:
    """Select option names as Notion takes them: no commas, at most 100 characters."""
    seen: list[str] = []
    for name in names:
        clean = " ".join(str(name).replace(",", " ").split())[:MAX_OPTION]
        if clean and clean not in seen:
            seen.append(clean)
    return seen[:MAX_OPTIONS]


# -- blocks per request ------------------------------------------------------------


def take_blocks(
    blocks: list[Block], split: bool
) -> tuple[list[Block], list[Block] | None, list[Block]]:
    """The blocks of the next request (at most MAX_BLOCKS, nested ones counted, and
    at most MAX_PAYLOAD bytes), the children its last block could not take with
    it (to append to that block once it exists; only with ``split``), and the
    blocks left for later requests."""
    batch: list[Block] = []
    count = size = 0
    for i, block in enumerate(blocks):
        kids = _children(block)
        cost, weight = 1 + len(kids), _size(block)
        if count + cost <= MAX_BLOCKS and size + weight <= MAX_PAYLOAD:
            batch.append(block)
            count, size = count + cost, size + weight
            continue
        if split and kids and count + 1 < MAX_BLOCKS:
            head = _with_children(block, [])
            used, room = count + 1, size + _size(head)
            taken: list[Block] = []
            for kid in kids:
                weight = _size(kid) + 1
                if used + 1 > MAX_BLOCKS or room + weight > MAX_PAYLOAD:
                    break
                taken.append(kid)
                used, room = used + 1, room + weight
            if taken:
                batch.append(_with_children(head, taken))
                return batch, kids[len(taken) :], blocks[i + 1 :]
        if not batch:  # one block too large on its own: Notion says why
            return [block], None, blocks[i + 1 :]
        return batch, None, blocks[i:]
    return batch, None, []


def _children(block: Block) -> list[Block]:
    kids = block.get(block.get("type", ""), {}).get("children")
    return list(kids) if isinstance(kids, list) else []


def _with_children(block: Block, kids: list[Block]) -> Block:
    kind = block["type"]
    inner = {k: v for k, v in block[kind].items() if k != "children"}
    if kids:
        inner["children"] = kids
    return {**block, kind: inner}


def _size(block: Block) -> int:
    return len(json.dumps(block))  # as request_json sends it (ASCII-escaped)


def _object(answer: Any, what: str) -> dict[str, Any]:
    if not isinstance(answer, dict):
        raise TargetDown(f"Notion answered something that is not {what}")
    return answer


def _q(value: str) -> str:
    return urllib.parse.quote(value, safe="")
