"""The whole archive in one file: JSON (which a new box imports: every
highlight at its version, with its clip), CSV (for a spreadsheet) or Markdown
(a note per episode, as the vault gets them).

``earmark export`` reads the store read-only, so it runs beside the speaker;
``earmark import`` writes, so it wants the speaker stopped.
"""

from __future__ import annotations

import base64
import csv
import dataclasses
import io
import json
from collections.abc import Iterable
from itertools import groupby
from pathlib import Path
from typing import Any

from earmark import __version__
from earmark.errors import EarmarkError
from earmark.export.base import Episode, ExportItem
from earmark.export.markdown import END, START, front_matter, render_highlights
from earmark.store.archive import Kept
from earmark.store.database import utc_now
from earmark.store.highlights import DONE, Highlight

ARCHIVE_KIND = "earmark archive"
ARCHIVE_SCHEMA = 1
# a box's own paths and ids mean nothing on another box
LOCAL_FIELDS = ("clip_path", "episode_id")
CSV_COLUMNS = (
    "id",
    "version",
    "status",
    "pressed_at",
    "podcast",
    "episode",
    "start",
    "end",
    "title",
    "quote",
    "takeaways",
    "note",
    "tags",
    "starred",
    "deleted",
    "transcript",
    "source_url",
)


class ArchiveError(EarmarkError):
    """An archive that cannot be read or written."""


def to_json(kept: Iterable[Kept], device_id: str) -> str:
    items = []
    for k in kept:
        fields = dataclasses.asdict(k.highlight)
        for name in LOCAL_FIELDS:
            fields.pop(name)
        items.append(
            {
                "highlight": fields,
                "feed_url": k.feed_url,
                "guid": k.guid,
                "clip": _clip(k.highlight),
            }
        )
    document = {
        "kind": ARCHIVE_KIND,
        "schema": ARCHIVE_SCHEMA,
        "earmark": __version__,
        "device_id": device_id,
        "exported_at": utc_now(),
        "highlights": items,
    }
    return json.dumps(document, ensure_ascii=False, indent=1)


def from_json(text: str, origin: str) -> list[tuple[Kept, bytes | None]]:
    """The highlights of an archive, checked, with their clips' bytes."""
    try:
        document = json.loads(text)
    except ValueError as exc:
        raise ArchiveError(f"{origin} is not JSON ({exc})") from None
    if not isinstance(document, dict) or document.get("kind") != ARCHIVE_KIND:
        raise ArchiveError(f"{origin} is not an earmark archive (`earmark export --format json`)")
    if document.get("schema") != ARCHIVE_SCHEMA:
        raise ArchiveError(
            f"{origin} is archive schema {document.get('schema')!r}; this earmark reads "
            f"{ARCHIVE_SCHEMA} (a newer earmark wrote it?)"
        )
    known = {f.name for f in dataclasses.fields(Highlight)} - set(LOCAL_FIELDS)
    out = []
    for n, item in enumerate(document.get("highlights") or [], 1):
        try:
            fields = {k: v for k, v in item["highlight"].items() if k in known}
            for name in ("takeaways", "low_confidence", "tags"):
                fields[name] = tuple(fields.get(name) or ())
            highlight = Highlight(**fields)
            clip = base64.b64decode(item["clip"], validate=True) if item.get("clip") else None
        except (KeyError, TypeError, ValueError) as exc:
            raise ArchiveError(f"{origin}: highlight {n} is malformed ({exc})") from None
        if not isinstance(highlight.id, str) or not highlight.id.isalnum():
            raise ArchiveError(f"{origin}: highlight {n} has no usable id")
        out.append((Kept(highlight, item.get("feed_url"), item.get("guid")), clip))
    return out


def to_csv(kept: Iterable[Kept]) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    for k in kept:
        h = k.highlight
        row: dict[str, Any] = {
            **dataclasses.asdict(h),
            "podcast": h.podcast_title,
            "episode": h.episode_title,
            "takeaways": " | ".join(h.takeaways),
            "tags": ", ".join(h.tags),
        }
        writer.writerow([_cell(row[c]) for c in CSV_COLUMNS])
    return out.getvalue()


def to_markdown(kept: Iterable[Kept]) -> str:
    """One section per episode: its front matter and its highlights, as in the vault."""
    done = [k.highlight for k in kept if k.highlight.status == DONE and not k.highlight.deleted]
    done.sort(key=lambda h: (h.podcast_title, h.episode_title, h.start))
    notes = []
    for (podcast, title), members in groupby(
        done, key=lambda h: (h.podcast_title, h.episode_title)
    ):
        siblings = tuple(members)
        item = ExportItem(siblings[0], Episode(podcast, title), siblings)
        notes.append(
            f"{front_matter(item)}\n# {title}\n\n{START}\n{render_highlights(item)}\n{END}\n"
        )
    return "\n".join(notes)


def _clip(h: Highlight) -> str | None:
    if not h.clip_path:
        return None
    try:
        return base64.b64encode(Path(h.clip_path).read_bytes()).decode()
    except OSError:
        return None  # a clip lost from the disk: the highlight is still worth keeping


def _cell(value: object) -> object:
    """Spreadsheets run a cell that starts with = + - @ as a formula: not ours."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return "" if value is None else value
