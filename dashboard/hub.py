"""What changed, handed from the MQTT thread to every open page.

Each page's live stream holds a bounded queue; a page that cannot keep up is
dropped (its browser reconnects and reloads what it shows) rather than
letting the dashboard's memory grow.

Every change gets a sequence number, and the last ``QUEUE`` are kept: a page
is rendered as of a number, and its stream (a second request, a moment later)
starts with what changed since, so a highlight that arrives in between is not
lost to that page."""

from __future__ import annotations

import asyncio
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

    def listen(self, after: int | None = None) -> asyncio.Queue[Change | None]:
        """A page's queue, starting with what changed after change number ``after``
        (the number its page was rendered at), when those are still kept; a page
        rendered by an earlier run of the dashboard, or too long ago, gets only
        what comes."""
        page: asyncio.Queue[Change | None] = asyncio.Queue()
        oldest_kept = self._recent[0][0] if self._recent else self.sequence + 1
        if after is not None and oldest_kept - 1 <= after <= self.sequence:
            for number, change in self._recent:
                if number > after:
                    page.put_nowait(change)
        self._pages.add(page)
        return page

    def leave(self, page: asyncio.Queue[Change | None]) -> None:
        self._pages.discard(page)

    @property
    def pages(self) -> int:
        return len(self._pages)
