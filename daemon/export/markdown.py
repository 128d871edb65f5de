"""Markdown notes in a folder (an Obsidian vault): one note per episode.

A note is made once with YAML front matter (podcast, episode, url, date,
artwork, tags) and a block between two marker lines that holds the episode's
highlights in order. Every later export rewrites only that block: whatever the
listener wrote above or below it, and the front matter they edited, stays.
The file name is the podcast and the episode, made safe on every system
(Windows' and Android's forbidden characters and names, a length cap), and
stays the same for the episode; two episodes whose safe names collide are
told apart by a short hash of their own.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
from pathlib import Path

from earmark.export.base import ExportItem, Rejected, TargetDown, clock
from earmark.store.highlights import Highlight

START = "<!-- earmark:start · earmark rewrites what is between these two lines -->"
END = "<!-- earmark:end · write your own notes above or below -->"
# characters no file name may hold on Windows, Android's shared storage or macOS
FORBIDDEN = re.compile(r'[<>:"/\\|?*\x00-\x1f\x7f]')
RESERVED = re.compile(r"^(con|prn|aux|nul|com[0-9]|lpt[0-9])(\..*)?$", re.IGNORECASE)
NOT_IN_TAG = re.compile(r"[^\w/-]")  # Obsidian tags: letters, digits, _ - /
MAX_NAME_BYTES = 180  # well under every file system's 255, room for " (hash).md"


class MarkdownExporter:
    name = "markdown"

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def export(self, item: ExportItem, external_id: str | None) -> str:
        path = self._path(item, external_id)
        self._write(path, item)
        return path.name

    def remove(self, item: ExportItem, external_id: str) -> None:
        # the note is the episode's: written again without the deleted highlight
        self._write(self._path(item, external_id), item)

    def check(self) -> str:
        self._folder_ready()
        return f"notes go to {self.folder}"

    # -- the note ------------------------------------------------------------------

    def _path(self, item: ExportItem, external_id: str | None) -> Path:
        self._folder_ready()
        key = episode_key(item)
        if external_id and _is_plain_name(external_id):
            return self.folder / external_id
        name = safe_name(f"{item.episode.podcast} - {item.episode.title}")
        path = self.folder / f"{name}.md"
        if path.exists() and _note_key(path) != key:  # someone else's note of that name
            path = self.folder / f"{name} ({key[:8]}).md"
        return path

    def _write(self, path: Path, item: ExportItem) -> None:
        block = f"{START}\n{render_highlights(item)}\n{END}"
        try:
            text = path.read_text(encoding="utf-8") if path.exists() else None
        except (OSError, UnicodeDecodeError) as exc:
            raise Rejected(f"cannot read the note {path} to update it: {exc}") from None
        if text is None:
            text = f"{front_matter(item)}\n# {item.episode.title}\n\n{block}\n"
        elif START in text and END in text.split(START, 1)[1]:
            before, rest = text.split(START, 1)
            after = rest.split(END, 1)[1]
            text = before + block + after
        else:  # the markers were deleted: ours goes at the end, theirs stays whole
            text = text.rstrip("\n") + f"\n\n{block}\n"
        try:
            _atomic_write(path, text)
        except OSError as exc:
            raise TargetDown(f"cannot write the note {path}: {exc.strerror or exc}") from None

    def _folder_ready(self) -> None:
        if not self.folder.is_dir():
            raise TargetDown(
                f"the Markdown folder {self.folder} does not exist (a vault not mounted yet?);"
                " create it or fix exports.markdown.folder"
            )
        if not os.access(self.folder, os.W_OK):
            raise TargetDown(f"the Markdown folder {self.folder} is read-only for earmark")


def episode_key(item: ExportItem) -> str:
    e = item.episode
    return hashlib.sha1(f"{e.feed_url}\0{e.url}\0{e.title}".encode()).hexdigest()[:16]


def front_matter(item: ExportItem) -> str:
    e = item.episode
    fields = {
        "podcast": e.podcast,
        "episode": e.title,
        "author": e.author or None,
        "url": e.url or None,
        "date": (e.published_at or "")[:10] or None,
        "artwork": e.artwork,
        "tags": ["podcast", *sorted({t for h in item.siblings for t in h.tags})],
        "earmark_episode": episode_key(item),
    }
    lines = ["---"]
    for key, value in fields.items():
        if value is not None:  # JSON strings and lists are YAML too, quoted and safe
            lines.append(f"{key}: {json.dumps(value, ensure_ascii=False)}")
    return "\n".join([*lines, "---"])


def render_highlights(item: ExportItem) -> str:
    parts = []
    for h in item.siblings:
        parts.append(_one(h, item.link if h.id == item.highlight.id else None, item))
    return "\n\n".join(parts) if parts else "*No highlights kept from this episode.*"


def _one(h: Highlight, link: str | None, item: ExportItem) -> str:
    at = clock(h.quote_at if h.quote_at is not None else h.start)
    where = item.link.rsplit("/", 1)[0] + f"/{h.id}" if item.link else None
    stamp = f"[{at}]({where})" if where else at
    lines = [
        f"### {_inline(h.title or 'Untitled highlight')}",
        "",
        f"{stamp} · saved {h.pressed_at[:10]}",
    ]
    if h.quote:
        lines += ["", f"> {_inline(h.quote)}"]
    if h.takeaways:
        lines += ["", *(f"- {_inline(t)}" for t in h.takeaways)]
    if h.note:
        lines += ["", f"**Note:** {_inline(h.note)}"]
    if h.tags:
        lines += ["", " ".join("#" + NOT_IN_TAG.sub("-", t) for t in h.tags)]
    return "\n".join(lines)


def safe_name(text: str) -> str:
    """A file name (without extension) that every system takes."""
    name = FORBIDDEN.sub("-", " ".join(text.split()))
    name = name.strip(" .")
    while len(name.encode()) > MAX_NAME_BYTES:
        name = name[:-1]
    name = name.rstrip(" .") or "episode"
    return f"_{name}" if RESERVED.match(name) else name


def _inline(text: str) -> str:
    """One line of text from a feed or a transcript, inert in Markdown: no HTML,
    no wiki links or embeds, no line breaks."""
    text = " ".join(text.split())
    for ch in "\\`*_[]<>|":
        text = text.replace(ch, "\\" + ch)
    return text


def _note_key(path: Path) -> str | None:
    try:
        head = path.read_text(encoding="utf-8", errors="replace")[:4000]
    except OSError:
        return None
    found = re.search(r'^earmark_episode: "?([0-9a-f]{16})"?$', head, re.MULTILINE)
    return found.group(1) if found else None


def _is_plain_name(name: str) -> bool:
    return name == Path(name).name and name.endswith(".md") and not name.startswith(".")


def _atomic_write(path: Path, text: str) -> None:
    # not a .md while half written: Obsidian and sync tools pick up every note
    fd, scratch = tempfile.mkstemp(dir=path.parent, prefix=".earmark-", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.replace(scratch, path)
    except BaseException:
        Path(scratch).unlink(missing_ok=True)
        raise
