"""``earmark headphones``: list, pair (and trust and connect), connect, disconnect and
forget a Bluetooth headset; and the doctor's read-only look at the configured one.

``pair`` answers the headset itself (a pairing agent for the time it runs): a PIN
for an older headset (``--pin``, 0000 unless said), a yes for a newer one.

BlueZ keeps the pairing; the running speaker needs no restart (BlueALSA plays to
the headset once it is connected, and the reconnect watcher keeps it so).
"""

from __future__ import annotations

import argparse
import asyncio
import re
from collections.abc import Callable

from earmark.device.bluetooth import NO_ADAPTER, SCAN_SECONDS, BluetoothError, Listing, open_bluez
from earmark.device.pairing_agent import DEFAULT_PIN

Command = Callable[[argparse.Namespace], int]
ADDRESS = re.compile(r"^([0-9A-F]{2}:){5}[0-9A-F]{2}$")
PIN = re.compile(r"^[0-9A-Za-z]{1,16}$")  # BlueZ: 1 to 16 letters and digits
OPS = ("list", "pair", "connect", "disconnect", "forget")


def add_commands(add: Callable[[str, Command, str], argparse.ArgumentParser]) -> None:
    cmd = add(
        "headphones", headphones, "Bluetooth headset: list, pair, connect, disconnect, forget"
    )
    cmd.add_argument("op", nargs="?", default="list", choices=OPS)
    cmd.add_argument("address", nargs="?", type=address, help="the headset's, AA:BB:CC:DD:EE:FF")
    cmd.add_argument(
        "--scan",
        type=float,
        default=SCAN_SECONDS,
        metavar="S",
        help=f"pair: how long to look for it (default {SCAN_SECONDS:g} s)",
    )
    cmd.add_argument(
        "--pin",
        type=pin,
        default=DEFAULT_PIN,
        help=f"pair: the PIN, for a headset that asks for one (default {DEFAULT_PIN})",
    )


def headphones(args: argparse.Namespace) -> int:
    if args.op != "list" and args.address is None:
        raise BluetoothError(f"earmark headphones {args.op} needs the headset's address")
    return asyncio.run(_headphones(args.op, args.address, args.scan, args.pin, print))


async def _headphones(
    op: str, address: str | None, scan: float, pin: str, say: Callable[[str], None]
) -> int:
    bluez = await open_bluez()
    try:
        if op == "list":
            listing = await bluez.list()
            if not listing.radios:
                raise BluetoothError(NO_ADAPTER)
            for radio in listing.radios:
                state = "on" if radio.powered else "off"
                say(f"adapter {radio.path.rsplit('/', 1)[-1]}  {radio.address}  {state}")
            for device in listing.devices:
                say(f"  {device.describe()}")
            if not listing.devices:
                say("  no devices yet: earmark headphones pair ADDRESS (headset in pairing mode)")
        elif op == "pair":
            assert address is not None
            say(f"looking for {address} (put it in pairing mode)...")
            say(f"paired, trusted, connected: {(await bluez.pair(address, scan, pin)).describe()}")
        elif op == "connect":
            assert address is not None
            say(f"connected: {(await bluez.connect(address)).describe()}")
        elif op == "disconnect":
            assert address is not None
            await bluez.disconnect(address)
            say(f"disconnected {address}")
        else:
            assert address is not None
            await bluez.forget(address)
            say(f"forgot {address}: pair it again to use it")
    finally:
        await bluez.close()
    return 0


def check_headset(address: str | None) -> str:
    """``earmark doctor``: the adapter, and the configured headset paired and connected.
    Read-only: it changes nothing in BlueZ."""
    return asyncio.run(_check(address))


async def _check(address: str | None) -> str:
    try:
        listing = await _listing()
    except BluetoothError as exc:
        if address is None:  # a box that plays through a DAC needs no Bluetooth
            return f"no Bluetooth headset configured (player.bluetooth_headset); {exc}"
        raise
    if not listing.radios:
        raise BluetoothError(NO_ADAPTER)
    radio = listing.radios[0]
    if not radio.powered:
        raise BluetoothError(f"adapter {radio.address} is off: rfkill unblock bluetooth")
    if address is None:
        audio = [d.name for d in listing.devices if d.audio and d.paired]
        return f"adapter {radio.address} on; no headset configured; paired audio: {audio or 'none'}"
    headset = listing.find(address)
    if headset is None or not headset.paired:
        raise BluetoothError(f"headset {address} is not paired: earmark headphones pair {address}")
    if not headset.connected:
        raise BluetoothError(
            f"headset {headset.name} ({address}) is paired but not connected: switch it on "
            "(the speaker reconnects it), or earmark headphones connect"
        )
    trusted = "" if headset.trusted else "; not trusted, so it will not come back by itself"
    return f"headset {headset.name} ({address}) connected{trusted}"


async def _listing() -> Listing:
    bluez = await open_bluez()
    try:
        return await bluez.list()
    finally:
        await bluez.close()


def address(text: str) -> str:
    """A Bluetooth address, for argparse (which says the error in one line)."""
    if not ADDRESS.match(text.upper()):
        raise argparse.ArgumentTypeError(f"not a Bluetooth address (AA:BB:CC:DD:EE:FF): {text!r}")
    return text.upper()


def pin(text: str) -> str:
    """A PIN as BlueZ takes it, for argparse."""
    if not PIN.match(text):
        raise argparse.ArgumentTypeError(f"a PIN is 1 to 16 letters or digits, not {text!r}")
    return text
