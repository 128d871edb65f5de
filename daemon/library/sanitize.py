"""Text from strangers' documents, made safe to keep: the one module that
wraps nh3 (HTML sanitising) and charset-normalizer (guessing an undeclared
encoding), and the streaming pre-pass that slims an XML document before a
parser builds it in memory.

Every limit is applied to the input before the expensive step, so a 50 MB
description is cut to a few kilobytes before nh3 or a feed parser sees it.
"""

from __future__ import annotations

import codecs
import html
import re
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit
from xml.parsers import expat

import charset_normalizer
import nh3

WEB_SCHEMES = ("http", "https")
CHUNK = 1024 * 1024  # bytes decoded and parsed at a time by the pre-pass
# how much markup a plain-text field may carry before it is cut: tags and
# entities are removed after the cut, so the input may be longer than the output
MARKUP_FACTOR = 4

_SPACE = re.compile(r"\s+")
# tags that separate words when removed ("<p>a</p><p>b</p>" is "a b")
_BLOCK = re.compile(r"<\s*/?\s*(?:p|br|div|li|h[1-6]|tr|td|th|ul|ol|blockquote)\b", re.IGNORECASE)
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_XML_ENCODING = re.compile(rb"""^\s*<\?xml[^>]*?encoding\s*=\s*["']([A-Za-z0-9._:-]+)["']""")
_CHARSET = re.compile(r"""charset\s*=\s*["']?([A-Za-z0-9._:-]+)""", re.IGNORECASE)
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
# expat's ways of saying "the document stopped early"
_ENDS_EARLY = {
    expat.errors.codes[message]
    for message in (
        expat.errors.XML_ERROR_NO_ELEMENTS,
        expat.errors.XML_ERROR_UNCLOSED_TOKEN,
        expat.errors.XML_ERROR_PARTIAL_CHAR,
        expat.errors.XML_ERROR_UNCLOSED_CDATA_SECTION,
    )
}


def plain_text(text: str, limit: int) -> str:
    """``text`` as plain text of at most ``limit`` characters: tags (and the
    content of script and style) removed, entities decoded, whitespace collapsed."""
    text = _BLOCK.sub(lambda m: " " + m.group(0), text[: limit * MARKUP_FACTOR])
    for _ in range(3):  # "&lt;script&gt;" decodes to a tag: strip until nothing changes
        stripped = html.unescape(nh3.clean(text, tags=set()))
        if stripped == text:
            break
        text = stripped
    return _SPACE.sub(" ", text).strip()[:limit]


def safe_html(text: str, limit: int) -> str:
    """``text`` as HTML safe to show (nh3's allow-list: no script, no event
    handlers, links only to http, https and mailto), at most ``limit`` characters."""
    cut = text[:limit].strip()
    for _ in range(3):
        cleaned = nh3.clean(cut, link_rel="noopener noreferrer")
        if len(cleaned) <= limit:
            return cleaned
        cut = cut[: len(cut) - (len(cleaned) - limit) - 1]  # escaping made it longer
    return html.escape(plain_text(text, limit // 2))


def web_url(value: object, base: str, limit: int) -> str | None:
    """``value`` as an absolute http(s) URL, resolved against ``base`` when
    relative; None for anything else (file:, javascript:, data:, too long, junk)."""
    if not isinstance(value, str):
        return None
    value = value.strip().replace(" ", "%20")
    if not value or len(value) > limit or _CONTROL.search(value):
        return None
    try:
        url = urljoin(base, value)
        parts = urlsplit(url)
    except ValueError:  # "http://[::1" and friends
        return None
    if parts.scheme.lower() not in WEB_SCHEMES or not parts.netloc or len(url) > limit:
        return None
    return url


def document_encoding(data: bytes, content_type: str | None = None) -> str:
    """The encoding ``data`` is written in: its byte order mark, else the first
    of its XML declaration, the HTTP charset and UTF-8 that decodes it, else
    charset-normalizer's guess (windows-1252 when that is among the best)."""
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            return encoding
    declared = _XML_ENCODING.match(data[:1024])
    charset = _CHARSET.search(content_type or "")
    candidates = [
        declared.group(1).decode("ascii") if declared else None,
        charset.group(1) if charset else None,
        "utf-8",
    ]
    for candidate in candidates:
        if candidate and _decodes(data, candidate):
            return candidate
    matches = charset_normalizer.from_bytes(data[: 4 * CHUNK])
    best = matches.best()
    if best is None:
        return "windows-1252"
    tied = {m.encoding for m in matches if m.chaos == best.chaos}
    return "cp1252" if "cp1252" in tied else best.encoding


def _decodes(data: bytes, encoding: str) -> bool:
    """True when ``data`` is valid in ``encoding``; an encoding cut off in
    its last character still counts (the pre-pass reports that cut)."""
    try:
        decoder = codecs.getincrementaldecoder(encoding)("strict")
    except LookupError:
        return False
    try:
        for start in range(0, len(data), CHUNK):
            decoder.decode(data[start : start + CHUNK])
    except UnicodeDecodeError:
        return False
    return True


@dataclass(frozen=True)
class SlimDocument:
    """An XML document rewritten as UTF-8 with every text run and attribute
    capped, without DOCTYPE, comments, processing instructions, entity
    references or the dropped elements."""

    xml: bytes
    error: str | None = None  # why the document is not well-formed; None when it is
    ends_early: bool = False  # the error is the document stopping mid-way
    # elements still open where it stopped (outermost first), and the unfinished
    # markup after the last complete one ("</rss" of a feed missing its final ">")
    open_elements: tuple[str, ...] = ()
    unfinished: str = ""
    skipped_entities: int = 0  # references to DTD-declared entities left out


def slim_xml(
    data: bytes, encoding: str, *, text_limit: int, attribute_limit: int, drop: frozenset[str]
) -> SlimDocument:
    """Read ``data`` with expat a chunk at a time and write it back slimmed;
    elements whose local name is in ``drop`` are left out whole. Memory stays
    near the size of the slim output, whatever the size of one text node."""
    slim = _Slimmer(text_limit, attribute_limit, drop)
    parser = expat.ParserCreate()
    parser.buffer_text = True
    parser.buffer_size = 64 * 1024
    parser.StartElementHandler = slim.start
    parser.EndElementHandler = slim.end
    parser.CharacterDataHandler = slim.text
    # a default handler turns off the expansion of DTD-declared entities
    # (billion laughs): their references arrive here and are dropped
    parser.DefaultHandler = slim.other
    decoder = codecs.getincrementaldecoder(encoding)("strict")
    final = False  # expat finds a document that stops early only at its end
    try:
        for start in range(0, len(data), CHUNK):
            parser.Parse(decoder.decode(data[start : start + CHUNK]), False)
        try:
            rest = decoder.decode(b"", True)
        except UnicodeDecodeError:
            return slim.stopped("the last character is cut off", ends_early=True, tail=data)
        final = True
        parser.Parse(rest, True)
    except expat.ExpatError as exc:
        return slim.stopped(str(exc), ends_early=final and exc.code in _ENDS_EARLY, tail=data)
    except UnicodeDecodeError as exc:
        return slim.stopped(f"not {encoding}: {exc.reason}", ends_early=False, tail=data)
    return SlimDocument(slim.document(), skipped_entities=slim.entities)


class _Slimmer:
    def __init__(self, text_limit: int, attribute_limit: int, drop: frozenset[str]) -> None:
        self.text_limit = text_limit
        self.attribute_limit = attribute_limit
        self.drop = drop
        self.out: list[str] = ['<?xml version="1.0" encoding="utf-8"?>\n']
        self.stack: list[str] = []
        self.run = 0  # characters of text since the last tag
        self.dropping = 0  # depth inside a dropped element
        self.entities = 0

    def start(self, name: str, attributes: dict[str, str]) -> None:
        if self.dropping or name.rpartition(":")[2] in self.drop:
            self.dropping += 1
            return
        self.stack.append(name)
        self.run = 0
        written = "".join(
            f' {key}="{html.escape(value[: self.attribute_limit], quote=True)}"'
            for key, value in attributes.items()
        )
        self.out.append(f"<{name}{written}>")

    def end(self, name: str) -> None:
        if self.dropping:
            self.dropping -= 1
            return
        self.stack.pop()
        self.run = 0
        self.out.append(f"</{name}>")

    def text(self, data: str) -> None:
        if self.dropping or self.run >= self.text_limit:
            return
        kept = data[: self.text_limit - self.run]
        self.run += len(data)
        self.out.append(html.escape(kept, quote=False))

    def other(self, data: str) -> None:
        if data.startswith("&") and data.endswith(";"):
            self.entities += 1

    def document(self) -> bytes:
        return "".join(self.out).encode("utf-8")

    def stopped(self, error: str, *, ends_early: bool, tail: bytes) -> SlimDocument:
        """What was read before the error, its open elements closed."""
        open_elements = tuple(self.stack)
        self.out.extend(f"</{name}>" for name in reversed(self.stack))
        end = tail[-256:].decode("utf-8", errors="replace").rstrip()
        last = end.rfind("<")
        unfinished = end[last:] if last >= 0 and ">" not in end[last:] else ""
        return SlimDocument(
            self.document(),
            error=error,
            ends_early=ends_early,
            open_elements=open_elements,
            unfinished=unfinished,
            skipped_entities=self.entities,
        )
