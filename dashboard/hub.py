"""What changed, handed from the MQTT thread to every open page.

Each page's live stream holds a bounded queue; a page that cannot keep up is
dropped (its browser reconnects and reloads what it shows) rather than
letting the dashboard's memory grow."""

from __future__ import annotations

import asyncio
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

    def attach(self, loop: asyncio.AbstractEventLoop) -> None:
        """The loop the pages' streams run on (the web server's)."""
        self.loop = loop

    def tell(self, change: Change) -> None:
        """Any thread: every page hears of ``change``."""
        if self.loop is not None and not self.loop.is_closed():
            self.loop.call_soon_threadsafe(self._fan_out, change)

    def _fan_out(self, change: Change) -> None:
        for page in list(self._pages):
            if page.qsize() >= QUEUE:  # not keeping up: None ends its stream
                self._pages.discard(page)
                page.put_nowait(None)
            else:
                page.put_nowait(change)

    def listen(self) -> asyncio.Queue[Change | None]:
        page: asyncio.Queue[Change | None] = asyncio.Queue()
        self._pages.add(page)
        return page

    def leave(self, page: asyncio.Queue[Change | None]) -> None:
        self._pages.discard(page)

    @property
    def pages(self) -> int:
        return len(self._pages)
