"""OPML: the subscription lists podcast apps import and export.

Reading walks every ``<outline>`` at any depth (folders nest them; Overcast
nests its episodes inside each feed) and keeps the ones that name a feed
address. Expat reads the document with entity declarations refused, so an
entity bomb or an external entity is an error, never an expansion.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime
from urllib.parse import urlsplit
from xml.parsers import expat
from xml.sax.saxutils import escape

from earmark.errors import EarmarkError

log = logging.getLogger(__name__)

MAX_BYTES = 10 * 1024 * 1024
MAX_FEEDS = 5_000
MAX_TITLE = 1_000

# expat's ways of saying "the document stopped early": a cut-off download
_TRUNCATED = {
    expat.errors.codes[message]
    for message in (
        expat.errors.XML_ERROR_NO_ELEMENTS,
        expat.errors.XML_ERROR_UNCLOSED_TOKEN,
        expat.errors.XML_ERROR_PARTIAL_CHAR,
    )
}
# what a document that is not OPML usually is, by its first element
_OTHER_DOCUMENTS = {
    "html": "a web page (HTML)",
    "rss": "an RSS feed",
    "feed": "an Atom feed",
    "rdf:rdf": "an RSS 1.0 feed",
}
# outline types whose plain ``url`` attribute is taken as the feed address
_URL_TYPES = {"rss", "link"}
_TAG = re.compile(r"</?[A-Za-z][^<>]*>")
# characters XML 1.0 cannot carry, even escaped
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


class OpmlError(EarmarkError):
    """A subscription list that cannot be read."""


@dataclass(frozen=True)
class OpmlFeed:
    url: str
    title: str  # plain text; empty when the outline names none


def read_opml(data: bytes, source: str = "OPML") -> list[OpmlFeed]:
    """Every podcast feed in the OPML ``data``, in document order, each URL once."""
    if len(data) > MAX_BYTES:
        raise OpmlError(
            f"{source} is too large ({len(data) / (1024 * 1024):.1f} MB, at most "
            f"{MAX_BYTES // (1024 * 1024)} MB is read); is it a subscription list?"
        )
    if not data.strip():
        raise OpmlError(f"{source} is empty; export the subscriptions again")
    feeds: list[OpmlFeed] = []
    seen: set[str] = set()
    skipped: list[str] = []
    duplicates = 0
    for attributes in _outlines(data, source):
        url = _feed_url(attributes)
        if url is None:
            continue
        unfetchable = _unfetchable(url)
        if unfetchable:
            skipped.append(unfetchable)
            continue
        if url in seen:
            duplicates += 1
            continue
        seen.add(url)
        feeds.append(OpmlFeed(url=url, title=_plain(attributes)))
        if len(feeds) > MAX_FEEDS:
            raise OpmlError(f"{source} has more than {MAX_FEEDS} feeds; split it and import each")
    if skipped or duplicates:
        log.warning(
            "opml outlines skipped source=%s not_http=%d kinds=%s duplicates=%d",
            source,
            len(skipped),
            ",".join(sorted(set(skipped))) or "-",
            duplicates,
        )
    if not feeds:
        why = (
            f"addresses not http(s) skipped: {len(skipped)}"
            if skipped
            else "no outline has an xmlUrl"
        )
        raise OpmlError(f"{source} has no podcast feeds in it ({why})")
    return feeds


def write_opml(
    feeds: Iterable[OpmlFeed],
    title: str = "earmark subscriptions",
    now: datetime | None = None,
) -> bytes:
    """An OPML 2.0 document listing ``feeds``; the same arguments give the same bytes.

    ``now`` (default: the current time) is written as ``<dateCreated>`` in UTC; a
    naive datetime is taken as local time."""
    created = (now or datetime.now(UTC)).astimezone(UTC)
    lines = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        '<opml version="2.0">',
        "  <head>",
        f"    <title>{escape(_xml_text(title))}</title>",
        f"    <dateCreated>{format_datetime(created, usegmt=True)}</dateCreated>",
        "  </head>",
        "  <body>",
    ]
    for feed in feeds:
        name = _attribute(feed.title)
        lines.append(
            f'    <outline type="rss" text={name} title={name} xmlUrl={_attribute(feed.url)}/>'
        )
    lines += ["  </body>", "</opml>", ""]
    return "\n".join(lines).encode("utf-8")


def _outlines(data: bytes, source: str) -> list[dict[str, str]]:
    """The attributes of every ``<outline>`` in the document, in order."""
    outlines: list[dict[str, str]] = []
    root: list[str] = []

    def start(name: str, attributes: dict[str, str]) -> None:
        if not root:
            root.append(name)
            if name.lower() != "opml":
                raise OpmlError(_not_opml(source, name))
        elif name == "outline":
            outlines.append(attributes)

    def doctype(name: str, *_: object) -> None:
        if name.lower() == "html":
            raise OpmlError(_not_opml(source, name))

    def entity(name: str, *_: object) -> None:
        raise OpmlError(
            f"{source} declares XML entities (<!ENTITY {name}>), which earmark does not "
            "expand; export the subscriptions again"
        )

    parser = expat.ParserCreate()
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    parser.StartElementHandler = start
    parser.StartDoctypeDeclHandler = doctype
    parser.EntityDeclHandler = entity
    try:
        parser.Parse(data, True)
    except expat.ExpatError as exc:
        reason = expat.errors.messages[exc.code]
        if not root:
            raise OpmlError(
                f"{source} is not OPML (not XML: {reason}, line {exc.lineno})"
            ) from None
        if exc.code in _TRUNCATED:
            raise OpmlError(
                f"{source} is cut off at line {exc.lineno}; export or download it again"
            ) from None
        raise OpmlError(f"{source} is not well-formed XML ({reason}, line {exc.lineno})") from None
    return outlines


def _unfetchable(url: str) -> str | None:
    """Why ``url`` is no address to fetch a feed from (its scheme, "relative",
    "no-host"); None when it is an http(s) URL with a host."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        return scheme or "relative"
    return None if parts.netloc else "no-host"


def _not_opml(source: str, first: str) -> str:
    other = _OTHER_DOCUMENTS.get(first.lower())
    if other:
        return f"{source} is {other}, not OPML (no <opml> element)"
    return f"{source} is not OPML (no <opml> element; it starts with <{first}>)"


def _feed_url(attributes: dict[str, str]) -> str | None:
    """The outline's feed address: ``xmlUrl`` in any letter case, else ``url`` on a
    ``type="rss"`` or ``type="link"`` outline; None when it names no feed."""
    for key, value in attributes.items():
        if key.lower() == "xmlurl" and value.strip():
            return value.strip()
    if attributes.get("type", "").strip().lower() in _URL_TYPES:
        url = attributes.get("url", "").strip()
        return url or None
    return None


def _plain(attributes: dict[str, str]) -> str:
    """The outline's title as plain text: tags gone, whitespace collapsed, capped."""
    for key in ("title", "text"):
        text = " ".join(_TAG.sub(" ", attributes.get(key, "")).split())
        if text:
            return text[:MAX_TITLE]
    return ""


def _xml_text(text: str) -> str:
    return _NOT_XML.sub("", text)


def _attribute(value: str) -> str:
    """``value`` as a double-quoted attribute (readers turn its line breaks into spaces)."""
    return '"' + escape(_xml_text(value), {'"': "&quot;"}) + '"'
