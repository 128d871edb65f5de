"""What the templates show, made from stored highlights: times, progress, the
transcript with the quote marked, search matches marked, Markdown and plain
text. Every string from a feed or a transcript is escaped here or by Jinja's
autoescape; markup is only ever added around text already escaped."""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from datetime import datetime
from itertools import groupby

from markupsafe import Markup, escape

from earmark.dashboard.store import MARK_CLOSE, MARK_OPEN, Stored
from earmark.payloads import HighlightPayload

# (label, how far along) for each status the speaker publishes
PROGRESS = {
    "pending": ("saved", 1),
    "clipped": ("transcribing", 2),
    "transcribed": ("writing takeaways", 3),
    "done": ("done", 4),
    "failed": ("failed", 4),
}
STEPS = ("saved", "transcribing", "writing takeaways", "done")


def clock(seconds: float | None) -> str:
    """12:34 or 1:02:03."""
    if seconds is None:
        return ""
    whole = max(0, int(seconds))
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def when(iso: str) -> str:
    try:
        moment = datetime.fromisoformat(iso.replace("Z", "+00:00"))
    except ValueError:
        return iso
    return moment.strftime("%d %b %Y, %H:%M UTC")


def safe_link(url: str | None) -> str | None:
    """A feed's URL only if it is http(s): never javascript: or data:."""
    if url and url.strip().lower().startswith(("https:", "http:")):
        return url.strip()
    return None


def marked(text: str) -> Markup:
    """FTS5's match markers as <mark>, around text escaped first."""
    safe = str(escape(text))
    return Markup(safe.replace(MARK_OPEN, "<mark>").replace(MARK_CLOSE, "</mark>"))


def transcript_with_quote(h: HighlightPayload) -> Markup:
    """The snip's transcript, the quote the listener pressed for marked."""
    text = h.transcript or ""
    quote = (h.quote or "").strip()
    at = text.find(quote) if quote else -1
    if at < 0:
        return Markup(escape(text))
    before, after = text[:at], text[at + len(quote) :]
    return Markup(f'{escape(before)}<mark class="quote">{escape(quote)}</mark>{escape(after)}')


def transcript_key(h: HighlightPayload) -> str:
    """Names what a card's Transcript shows (the words, the quote marked in them):
    a card re-rendered with the same key keeps its opened Transcript as it is, a
    new key brings a closed one that loads the new words when opened."""
    shown = "\0".join((h.transcript or "", h.quote or ""))
    return f"{zlib.crc32(shown.encode()):08x}"


@dataclass(frozen=True)
class Group:
    """Highlights of one episode, next to each other in the list."""

    key: str
    podcast: str
    episode: str
    artwork: str | None
    highlights: list[Stored]


def grouped(stored: list[Stored]) -> list[Group]:
    groups = []
    for key, members in groupby(stored, key=lambda s: s.episode_key):
        items = list(members)
        first = items[0].highlight
        artwork = next((safe_link(s.highlight.artwork) for s in items if s.highlight.artwork), None)
        groups.append(Group(key, first.podcast, first.episode, artwork, items))
    return groups


def as_text(h: HighlightPayload) -> str:
    """One highlight to paste anywhere."""
    lines = [h.title or "Untitled highlight", f"{h.podcast} — {h.episode} at {clock(h.start)}"]
    if h.quote:
        lines.append(f"“{h.quote}”")
    lines.extend(f"• {t}" for t in h.takeaways)
    if h.note:
        lines.append(f"Note: {h.note}")
    return "\n".join(lines)


def markdown(stored: list[Stored], base_url: str = "") -> str:
    """Highlights as Markdown, one section per episode, in the order pressed."""
    out: list[str] = []
    ordered = sorted(stored, key=lambda s: (s.highlight.podcast, s.highlight.episode))
    for (podcast, episode), items in groupby(
        ordered, key=lambda s: (s.highlight.podcast, s.highlight.episode)
    ):
        out += [f"# {_md(episode)}", "", f"*{_md(podcast)}*", ""]
        for s in sorted(items, key=lambda s: s.highlight.start):
            h = s.highlight
            link = f"{base_url}highlights/{h.id}"
            out.append(f"## {_md(h.title or 'Untitled highlight')} ([{clock(h.start)}]({link}))")
            out.append("")
            if h.quote:
                out += [f"> {_md(h.quote)}", ""]
            out += [f"- {_md(t)}" for t in h.takeaways]
            if h.takeaways:
                out.append("")
            if h.note:
                out += [f"Note: {_md(h.note)}", ""]
            if h.tags:
                out += [" ".join(f"#{_md(t).replace(' ', '-')}" for t in h.tags), ""]
    return "\n".join(out).rstrip() + "\n"


def _md(text: str) -> str:
    """Text from a feed or a transcript, inert in Markdown (no HTML, no links)."""
    for ch in "\\`*_[]<>#|":
        text = text.replace(ch, "\\" + ch)
    return " ".join(text.split())
