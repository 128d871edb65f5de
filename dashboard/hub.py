"""What changed, handed from the MQTT thread to every open page.

Each page's live stream holds a bounded queue; a page that cannot keep up is
dropped (its browser reconnects and reloads what it shows) rather than
letting the dashboard's memory grow.

Every change gets a sequence number, and the last ``QUEUE`` are kept: a page
is rendered as of a number, and its stream (a second request, a moment later)
starts with what changed since, so a highlight that arrives in between is not
lost to that page. A page whose changes are no longer kept (rendered by an
earlier run of the dashboard, or more than ``QUEUE`` changes ago) is told it
missed some, so that its reader reloads it."""

from __future__ import annotations

import asyncio
import secrets
from collections import deque
from dataclasses import dataclass

from earmark.dashboard.store import Stored

QUEUE = 1000


@dataclass(frozen=True)
class HighlightChanged:
    stored: Stored
    new: bool  # first seen: the page shows it at the top


@dataclass(frozen=True)
class SpeakerChanged:
    device_id: str


@dataclass(frozen=True)
class BrokerChanged:
    connected: bool
    problem: str | None


Change = HighlightChanged | SpeakerChanged | BrokerChanged


class Hub:
    def __init__(self) -> None:
        self.loop: asyncio.AbstractEventLoop | None = None
        self._pages: set[asyncio.Queue[Change | None]] = set()
        self.sequence = 0  # the number of the last change handed out
        self._recent: deque[tuple[int, Change]] = deque(maxlen=QUEUE)
        # numbers restart with the dashboard: a mark names its run too
        self._run = secrets.token_hex(4)

    @property
    def mark(self) -> str:
        """Where things stand now, for a page to start its stream from."""
        return f"{self._run}-{self.sequence}"

    def attach(self, loop: asyncio.AbstractEventLoop) -> None:
        """The loop the pages' streams run on (the web server's)."""
        self.loop = loop

    def tell(self, change: Change) -> None:
        """Any thread: every page hears of ``change``."""
        if self.loop is not None and not self.loop.is_closed():
            self.loop.call_soon_threadsafe(self._fan_out, change)

    def _fan_out(self, change: Change) -> None:
        self.sequence += 1
        self._recent.append((self.sequence, change))
        for page in list(self._pages):
            if page.qsize() >= QUEUE:  # not keeping up: None ends its stream
                self._pages.discard(page)
                page.put_nowait(None)
            else:
                page.put_nowait(change)

    def listen(self, mark: str | None = None) -> tuple[asyncio.Queue[Change | None], bool]:
        """A page's queue, starting with what changed after ``mark`` (its page's
        ``Hub.mark``) when those are still kept; and whether the page missed
        changes that are not."""
        page: asyncio.Queue[Change | None] = asyncio.Queue()
        run, _, number = (mark or "").partition("-")
        after = int(number) if run == self._run and number.isdigit() else None
        oldest_kept = self._recent[0][0] if self._recent else self.sequence + 1
        self._pages.add(page)
        if after is None or not oldest_kept - 1 <= after <= self.sequence:
            return page, mark is not None
        for n, change in self._recent:
            if n > after:
                page.put_nowait(change)
        return page, False

    def leave(self, page: asyncio.Queue[Change | None]) -> None:
        self._pages.discard(page)

    @property
    def pages(self) -> int:
        return len(self._pages)
