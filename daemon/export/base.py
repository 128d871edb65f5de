"""What an exporter is: a place where highlights are kept (a vault folder,
Readwise, Notion) behind one small Protocol.

An exporter gets one highlight with its episode (``ExportItem``) and writes it
there, returning the id the place gave it; an edited highlight comes back with
that id so the place updates the same item instead of making a second. The
service (``service.py``) decides when, retries, and records the id in the same
transaction as the job's completion.

Failures say what to do: ``AuthFailed`` parks the target until its settings
change (no hot retries on a bad token), ``RateLimited`` waits what the server
asked, ``TargetDown`` is retried with backoff, ``Rejected`` is final.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from earmark.errors import EarmarkError, GiveUp, RetryLater
from earmark.store.highlights import Highlight


@dataclass(frozen=True)
class Episode:
    """The episode a highlight is from, as the library knows it."""

    podcast: str
    title: str
    author: str = ""
    feed_url: str = ""
    url: str = ""  # the episode's audio (or page) address
    published_at: str | None = None
    artwork: str | None = None
    episode_id: int | None = None


@dataclass(frozen=True)
class ExportItem:
    highlight: Highlight
    episode: Episode
    # every highlight of the same episode not deleted, in the order of the episode
    # (a note per episode is written whole each time)
    siblings: tuple[Highlight, ...] = ()
    # where the dashboard reopens this highlight; None without a dashboard_url
    link: str | None = None


class Exporter(Protocol):
    """One target. ``name`` is its config key and the name its jobs carry."""

    name: str

    def export(self, item: ExportItem, external_id: str | None) -> str:
        """Create or update the highlight there; the id it has there."""
        ...

    def remove(self, item: ExportItem, external_id: str) -> None:
        """The listener deleted the highlight: take it away there too."""
        ...

    def check(self) -> str:
        """For ``earmark doctor``: what answered, or ExportError saying why not."""
        ...


class ExportError(EarmarkError):
    """An export that failed; retried with backoff."""


class TargetDown(ExportError):
    """The target did not answer, timed out, or answered 5xx or garbage."""


class Rejected(ExportError, GiveUp):
    """The target refused this item for good (a 4xx other than auth and rate)."""


class AuthFailed(ExportError):
    """The token was refused (401/403): the target is parked until it changes."""


class RateLimited(RetryLater):
    """429: wait what the server asked (or a default) and try again."""


def clock(seconds: float) -> str:
    """A time in an episode as people write it: 4:05, or 1:02:03."""
    whole = max(0, int(seconds))
    h, rest = divmod(whole, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"
