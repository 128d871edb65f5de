"""Reconnect the listener's headset when it comes back.

A task on the speaker's loop: it watches the one configured headset (BlueZ's
PropertiesChanged, InterfacesAdded and InterfacesRemoved, through
``Headphones.on_change``) and, whenever the headset is known and trusted but
not connected, asks BlueZ to connect it: at once on a change, then again after
a backoff that doubles up to ``longest`` (a headset that is switched off never
says so; it just stops answering). When bluetoothd or the bus is away, it
opens them again with the same backoff. Nothing here ends the speaker.

It announces what it sees: ``HeadsetConnected`` or ``HeadsetAway`` on its first
look and whenever that changes (bluetoothd out of reach counts as away); what
playback does about it is a listener's business (``earmark.playback.FollowHeadset``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from earmark.device.bluetooth import BluetoothError, Headphones, open_bluez
from earmark.errors import EarmarkError
from earmark.events import Event, HeadsetAway, HeadsetConnected

log = logging.getLogger(__name__)

Opener = Callable[[], Awaitable[Headphones]]
Announce = Callable[[Event], None]


async def keep_connected(
    address: str,
    announce: Announce,
    open_headphones: Opener = open_bluez,
    first: float = 1.0,
    longest: float = 60.0,
) -> None:
    """Run until cancelled: keep the headset at ``address`` connected, and
    ``announce`` whether it is."""
    address = address.upper()
    tell = _Teller(address, announce)
    delay = first
    while True:
        try:
            headphones = await open_headphones()
        except EarmarkError as exc:
            log.warning("bluetooth unavailable headset=%s retry_in=%gs: %s", address, delay, exc)
            tell(connected=False)  # no bluetoothd, no headset: a fallback output takes over
        else:
            try:
                await _watch(headphones, address, first, longest, tell)
            except EarmarkError as exc:  # the bus went away under us: open it again
                log.warning("bluetooth watch lost headset=%s: %s", address, exc)
            finally:
                await headphones.close()
        await asyncio.sleep(delay)
        delay = min(delay * 2, longest)


class _Teller:
    """Announces whether the headset is connected: on the first look, then each
    change once (a look that finds nothing new, or a bus opened again, says nothing)."""

    def __init__(self, address: str, announce: Announce) -> None:
        self.address = address
        self.announce = announce
        self.connected: bool | None = None

    def __call__(self, connected: bool) -> None:
        if connected == self.connected:
            return
        self.connected = connected
        log.info("headset %s address=%s", "connected" if connected else "away", self.address)
        self.announce(HeadsetConnected(self.address) if connected else HeadsetAway(self.address))


async def _watch(
    headphones: Headphones, address: str, first: float, longest: float, tell: _Teller
) -> None:
    wake = asyncio.Event()
    headphones.on_change(lambda changed: wake.set() if changed == address else None)
    delay = first
    while True:
        wake.clear()
        headset = (await headphones.list()).find(address)
        connected = headset is not None and headset.connected
        tell(connected=connected)
        wait = longest  # connected or unknown: a look now and then notices a lost bus
        if connected:
            delay = first
        elif headset is not None and headset.trusted:
            try:
                await headphones.connect(address)
                continue
            except BluetoothError as exc:
                log.debug("headset not back address=%s retry_in=%gs: %s", address, delay, exc)
            wait, delay = delay, min(delay * 2, longest)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(wake.wait(), wait)


def headset_watch(headset: str | None, announce: Announce) -> tuple[Coroutine[Any, Any, None], ...]:
    """What the speaker runs for its configured headset (``player.bluetooth_headset``):
    the reconnect loop that announces it coming and going, or nothing."""
    return (keep_connected(headset, announce),) if headset else ()
