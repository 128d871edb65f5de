"""Readwise: each highlight as one Readwise highlight of the episode's podcast
"book", over the documented highlights API v2 (https://readwise.io/api_deets).

- ``POST /api/v2/highlights/`` with ``{"highlights": [...]}`` creates, and
  updates what it already holds: Readwise matches a highlight by its
  ``highlight_url`` (documented as the unique URL of the highlight, the key for
  updates), else by title, author, text and source_url. Every snip sends the
  same ``highlight_url`` all its life, so an edit or a new transcript updates
  the same Readwise highlight. The answer lists the books touched, each with
  the ids of its ``modified_highlights``: that id is the external id.
- ``DELETE /api/v2/highlights/<id>/`` removes one (204; 404 is already gone).
- ``GET /api/v2/auth/`` answers 204 for a good token (``earmark doctor``).

The request body takes a list: the API documents no limit on how many
highlights one request carries (``MAX_BATCH`` keeps ours modest), but the
answer does not say which id belongs to which highlight when several land in
the same book, so the exporter sends one highlight per request (one per
export job, as the service calls it).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from earmark.config.model import ReadwiseConfig
from earmark.export.base import AuthFailed, ExportItem, Rejected, TargetDown, clock
from earmark.export.http import request_json
from earmark.store.highlights import Highlight

WHAT = "Readwise"
SOURCE_TYPE = "earmark"  # the documented "unique identifier for your app", 3-64 chars
CATEGORY = "podcasts"
LOCATION_TYPE = "time_offset"  # location: whole seconds from the start of the episode
# the documented maximum lengths
MAX_TEXT = 8191
MAX_NOTE = 8191
MAX_TITLE = 511
MAX_AUTHOR = 1024
MAX_URL = 2047  # image_url, source_url
MAX_HIGHLIGHT_URL = 4095
MAX_BATCH = 100  # not a documented limit: ours, to keep one request small
# highlight_url must be a URL Readwise takes (http or https); without a
# dashboard, a reserved domain (RFC 2606 .invalid, never resolved) names the snip
FALLBACK_HIGHLIGHT_URL = "https://earmark.invalid/highlights/{id}"
# a sentence ends at . ! ? … (and a closing quote), before a space or the end
_SENTENCE_END = re.compile(r"[.!?…]+[\"'”’)]*(?=\s|$)")
# Readwise's inline tags: ".tag" at the start of a note, one word each
_NOT_IN_TAG = re.compile(r"[^\w-]+")
_DIGITS = re.compile(r"[0-9]+")


class ReadwiseExporter:
    name = "readwise"

    def __init__(self, config: ReadwiseConfig, timeout: float = 30.0) -> None:
        self.config = config
        self.timeout = timeout
        self.base = config.base_url.rstrip("/")

    def export(self, item: ExportItem, external_id: str | None) -> str:
        ids = self._create([highlight_payload(item)])
        held = _readwise_id(external_id)
        if not ids:
            if held is not None:  # nothing changed there: it still holds it
                return held
            raise TargetDown(f"{WHAT} answered without the highlight's id; it is sent again")
        # another id than the one held: Readwise made a new one (the listener deleted
        # it there, or a new dashboard address changed the highlight_url and the text
        # changed too). The old one is not deleted: a snip with the same quote may
        # share it (Readwise de-dups by text)
        return held if held in ids else ids[0]

    def remove(self, item: ExportItem, external_id: str) -> None:
        held = _readwise_id(external_id)
        if held is not None:  # an id Readwise never gave has nothing to take away
            self._delete(held)

    def check(self) -> str:
        request_json(
            "GET",
            f"{self.base}/api/v2/auth/",
            headers=self._headers(),
            timeout=self.timeout,
            what=WHAT,
        )
        return f"{WHAT} accepts the token ({self.base})"

    # -- requests ----------------------------------------------------------------------

    def _headers(self) -> dict[str, str]:
        token = self.config.key()
        if not token:
            where = (
                f"the variable {self.config.token_env} is not set"
                if self.config.token_env
                else "exports.readwise.token is empty"
            )
            raise AuthFailed(f"no {WHAT} token: {where}")
        return {"Authorization": f"Token {token}"}

    def _create(self, payloads: Sequence[dict[str, Any]]) -> list[str]:
        """POST the highlights; the ids of the highlights the answer says it
        created or updated, in its order."""
        answer = request_json(
            "POST",
            f"{self.base}/api/v2/highlights/",
            headers=self._headers(),
            body=create_body(payloads),
            timeout=self.timeout,
            what=WHAT,
        )
        return modified_ids(answer)

    def _delete(self, readwise_id: str) -> None:
        try:
            request_json(
                "DELETE",
                f"{self.base}/api/v2/highlights/{readwise_id}/",
                headers=self._headers(),
                timeout=self.timeout,
                what=WHAT,
            )
        except Rejected as exc:
            # http.request_json says the status in its message: a 404 is one gone already
            if "(HTTP 404)" not in str(exc):
                raise


def create_body(payloads: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """The body of one Highlight CREATE request: ``{"highlights": [...]}``."""
    if not payloads:
        raise ValueError("a Readwise request needs at least one highlight")
    if len(payloads) > MAX_BATCH:
        raise ValueError(f"at most {MAX_BATCH} highlights per Readwise request")
    return {"highlights": list(payloads)}


def modified_ids(answer: Any) -> list[str]:
    """The ids in the books' ``modified_highlights``; garbage says TargetDown."""
    if not isinstance(answer, list):
        raise TargetDown(f"{WHAT} answered something else than the list of books it changed")
    ids = []
    for book in answer:
        modified = book.get("modified_highlights") if isinstance(book, dict) else None
        for value in modified if isinstance(modified, list) else ():
            if isinstance(value, int) and not isinstance(value, bool):
                ids.append(str(value))
            elif isinstance(value, str) and _DIGITS.fullmatch(value):
                ids.append(value)
    return ids


def highlight_payload(item: ExportItem) -> dict[str, Any]:
    """One highlight as Readwise takes it, every field within its documented length."""
    h, episode = item.highlight, item.episode
    payload: dict[str, Any] = {
        "text": shortened(highlight_text(h), MAX_TEXT),
        "title": shortened(episode.title or episode.podcast or "Untitled episode", MAX_TITLE),
        "author": shortened(episode.podcast or episode.author, MAX_AUTHOR),
        "source_type": SOURCE_TYPE,
        "category": CATEGORY,
        "location_type": LOCATION_TYPE,
        "location": max(0, int(h.start)),
        "highlight_url": highlight_url(item),
    }
    if not payload["author"]:
        del payload["author"]
    source_url = _web_url(episode.url)
    if source_url:
        payload["source_url"] = source_url
    image_url = _web_url(episode.artwork)
    if image_url:
        payload["image_url"] = image_url
    note = highlight_note(h)
    if note:
        payload["note"] = note
    highlighted_at = _iso_utc(h.pressed_at)
    if highlighted_at:
        payload["highlighted_at"] = highlighted_at
    return payload


def highlight_text(h: Highlight) -> str:
    """The quote; else the transcript's first sentence; else the title; never empty."""
    for text in (h.quote, first_sentence(h.transcript or ""), h.title):
        text = " ".join((text or "").split())
        if text:
            return text
    return f"A moment at {clock(h.start)}"


def first_sentence(text: str) -> str:
    text = " ".join(text.split())
    end = _SENTENCE_END.search(text)
    return text[: end.end()] if end else text


def highlight_note(h: Highlight) -> str:
    """Tags (Readwise's inline ".tag"), the title, the takeaways, the listener's note."""
    parts = []
    tags = [_NOT_IN_TAG.sub("_", t.strip()).strip("_") for t in h.tags]
    tags = [t for t in dict.fromkeys(tags) if t]
    if tags:
        parts.append(" ".join(f".{t}" for t in tags))
    if h.title:
        parts.append(" ".join(h.title.split()))
    if h.takeaways:
        parts.append("\n".join(f"• {' '.join(t.split())}" for t in h.takeaways if t.strip()))
    if h.note.strip():
        parts.append(f"Note: {h.note.strip()}")
    return shortened("\n\n".join(p for p in parts if p), MAX_NOTE)


def highlight_url(item: ExportItem) -> str:
    """The snip's own URL, the same every time it is sent: the dashboard's page
    of it, or one on a reserved domain that names it."""
    link = _web_url(item.link, MAX_HIGHLIGHT_URL)
    return link or FALLBACK_HIGHLIGHT_URL.format(id=item.highlight.id)


def shortened(text: str, limit: int) -> str:
    """``text`` within ``limit`` characters, cut at a word with an ellipsis."""
    if len(text) <= limit:
        return text
    head = text[: limit - 1]
    cut = max(head.rfind(" "), head.rfind("\n"))
    if cut < limit // 2:  # one enormous word: cut inside it
        cut = limit - 1
    return head[:cut].rstrip() + "…"


def _web_url(url: str | None, limit: int = MAX_URL) -> str | None:
    url = (url or "").strip()
    if (
        url.startswith(("http://", "https://"))
        and len(url) <= limit
        and not any(c.isspace() for c in url)
    ):
        return url
    return None


def _readwise_id(external_id: str | None) -> str | None:
    """An id Readwise gave (digits); anything else was never Readwise's."""
    return external_id if external_id and _DIGITS.fullmatch(external_id) else None


def _iso_utc(moment: str) -> str | None:
    try:
        parsed = datetime.fromisoformat(moment.replace("Z", "+00:00"))
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC).isoformat()
