"""Bluetooth headphones over BlueZ's D-Bus API: list, pair, trust, connect, forget.

A system service cannot use the desktop's PipeWire to reach a headset; BlueALSA
plays to it once BlueZ has it connected, and this module gets it connected. It
talks to bluetoothd on the system bus (``$DBUS_SYSTEM_BUS_ADDRESS`` when set, so
tests point it at a stand-in) through ``org.freedesktop.DBus.ObjectManager``,
``org.bluez.Adapter1`` and ``org.bluez.Device1``; while it pairs, BlueZ asks
the pairing agent (pairing_agent.py, registered with ``org.bluez.AgentManager1``)
for a PIN or a yes. These two are the modules that import dbus_fast.

``Headphones`` is the interface; ``BlueZ`` the real one, ``FakeHeadphones`` the
fake. Every failure is one ``BluetoothError`` line that says what to do.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, replace
from typing import Any, Protocol

from dbus_fast import BusType, Message, MessageType, Variant
from dbus_fast.aio import MessageBus
from dbus_fast.errors import DBusFastError

from earmark.device.pairing_agent import AGENT_PATH, CAPABILITY, DEFAULT_PIN, PairingAgent
from earmark.errors import EarmarkError

log = logging.getLogger(__name__)

BLUEZ = "org.bluez"
ADAPTER = "org.bluez.Adapter1"
AGENT_MANAGER = "org.bluez.AgentManager1"
BLUEZ_ROOT = "/org/bluez"  # where AgentManager1 lives
DEVICE = "org.bluez.Device1"
OBJECTS = "org.freedesktop.DBus.ObjectManager"
PROPERTIES = "org.freedesktop.DBus.Properties"
A2DP_SINK = "0000110b-0000-1000-8000-00805f9b34fb"
AUDIO_ICONS = frozenset({"audio-headset", "audio-headphones"})
DEFAULT_SYSTEM_BUS = "unix:path=/var/run/dbus/system_bus_socket"
SCAN_SECONDS = 20.0
# How long Pair may take before it is cancelled. A headset that answers pairs in a few
# seconds (paging, the link key, service discovery); bluetoothd itself gives a pairing
# agent 60 s to answer (REQUEST_TIMEOUT in its src/agent.c), so a Pair still running
# after that long waits on a headset that is not coming (dbus-fast's call has no limit).
PAIR_SECONDS = 60.0
Body = list[Any]  # a D-Bus message's arguments (``list`` is a method's name below)
NO_ADAPTER = (
    "no Bluetooth adapter: check `rfkill list` and that the Pi's Bluetooth is enabled "
    "(no dtoverlay=disable-bt in /boot/firmware/config.txt)"
)

# what to do when BlueZ says no, by its error name
ADVICE = {
    "org.bluez.Error.AuthenticationFailed": "put the headset in pairing mode and pair again",
    "org.bluez.Error.AuthenticationRejected": "the headset refused: put it in pairing mode",
    "org.bluez.Error.AuthenticationCanceled": "put the headset in pairing mode and pair again",
    "org.bluez.Error.AuthenticationTimeout": "put the headset in pairing mode and pair again",
    "org.bluez.Error.ConnectionAttemptFailed": "bring the headset closer, switch it on, retry",
    "org.bluez.Error.Failed": "switch the headset on and bring it closer, then retry",
    "org.bluez.Error.NotReady": "the adapter is off: rfkill unblock bluetooth",
    "org.bluez.Error.InProgress": "another pairing or connection is under way; wait and retry",
    "org.bluez.Error.DoesNotExist": "run `earmark headphones list` to see what BlueZ knows",
    "org.freedesktop.DBus.Error.ServiceUnknown": (
        "bluetoothd is not running: sudo systemctl enable --now bluetooth"
    ),
    "org.freedesktop.DBus.Error.AccessDenied": (
        "not allowed to talk to BlueZ: add the service user to the bluetooth group"
    ),
    "org.freedesktop.DBus.Error.NoReply": "bluetoothd did not answer in time; retry",
}


class BluetoothError(EarmarkError):
    """Bluetooth could not do what was asked: no bus, no adapter, no headset, refused."""


class BlueZRefused(BluetoothError):
    """BlueZ answered with an error; ``error_name`` is its D-Bus name."""

    def __init__(self, message: str, error_name: str) -> None:
        super().__init__(message)
        self.error_name = error_name


@dataclass(frozen=True)
class Radio:
    """A Bluetooth adapter (``hci0``)."""

    path: str
    address: str
    name: str
    powered: bool
    discovering: bool


@dataclass(frozen=True)
class Headset:
    """A Bluetooth device BlueZ knows; ``audio`` when it can play what we send."""

    path: str
    address: str
    name: str
    paired: bool = False
    trusted: bool = False
    connected: bool = False
    icon: str = ""
    uuids: tuple[str, ...] = ()

    @property
    def audio(self) -> bool:
        return A2DP_SINK in self.uuids or self.icon in AUDIO_ICONS

    def describe(self) -> str:
        flags = [f for f in ("paired", "trusted", "connected") if getattr(self, f)]
        kind = "audio" if self.audio else self.icon or "device"
        return f"{self.address}  {self.name}  ({kind}; {', '.join(flags) or 'not paired'})"


@dataclass(frozen=True)
class Listing:
    radios: tuple[Radio, ...]
    devices: tuple[Headset, ...]

    def find(self, address: str) -> Headset | None:
        return next((d for d in self.devices if d.address == address.upper()), None)


class Headphones(Protocol):
    """Bluetooth headsets: what the CLI, the doctor and the reconnect watcher use."""

    async def list(self) -> Listing: ...
    async def pair(
        self,
        address: str,
        scan_seconds: float = SCAN_SECONDS,
        pin: str = DEFAULT_PIN,
        pair_seconds: float = PAIR_SECONDS,
    ) -> Headset: ...
    async def connect(self, address: str) -> Headset: ...
    async def disconnect(self, address: str) -> None: ...
    async def forget(self, address: str) -> None: ...
    def on_change(self, callback: Callable[[str], None]) -> None:
        """Call ``callback(address)`` on the loop whenever a device changes."""

    async def close(self) -> None: ...


def system_bus_address(environ: dict[str, str] | None = None) -> str:
    env = os.environ if environ is None else environ
    return env.get("DBUS_SYSTEM_BUS_ADDRESS") or DEFAULT_SYSTEM_BUS


async def open_bluez(bus_address: str | None = None) -> BlueZ:
    """Connect to the system bus (or ``bus_address``) and listen to BlueZ's changes."""
    where = bus_address or system_bus_address()
    try:
        bus = await MessageBus(bus_address=where, bus_type=BusType.SYSTEM).connect()
    except (OSError, DBusFastError) as exc:
        raise BluetoothError(
            f"no system D-Bus at {where} ({exc.__class__.__name__}: {exc}): "
            "is dbus running, and DBUS_SYSTEM_BUS_ADDRESS right?"
        ) from None
    bluez = BlueZ(bus)
    await bluez.subscribe()
    return bluez


class BlueZ:
    """``Headphones`` through bluetoothd on D-Bus."""

    def __init__(self, bus: MessageBus) -> None:
        self.bus = bus
        self._listeners: list[Callable[[str], None]] = []
        self._changed = asyncio.Event()

    async def subscribe(self) -> None:
        self.bus.add_message_handler(self._on_message)
        for rule in (
            f"type='signal',sender='{BLUEZ}',interface='{OBJECTS}'",
            f"type='signal',sender='{BLUEZ}',interface='{PROPERTIES}',"
            "member='PropertiesChanged',path_namespace='/org/bluez'",
        ):
            await self._call(
                "AddMatch",
                "org.freedesktop.DBus",
                "/org/freedesktop/DBus",
                "s",
                [rule],
                destination="org.freedesktop.DBus",
            )

    def on_change(self, callback: Callable[[str], None]) -> None:
        self._listeners.append(callback)

    async def close(self) -> None:
        self.bus.disconnect()
        with contextlib.suppress(Exception):  # already gone is as good as closed
            await self.bus.wait_for_disconnect()

    async def list(self) -> Listing:
        (objects,) = await self._call("GetManagedObjects", OBJECTS, "/", what="listing devices")
        radios: list[Radio] = []
        devices: list[Headset] = []
        for path, interfaces in sorted(objects.items()):
            if ADAPTER in interfaces:
                radios.append(_radio(path, _values(interfaces[ADAPTER])))
            if DEVICE in interfaces:
                devices.append(_headset(path, _values(interfaces[DEVICE])))
        return Listing(tuple(radios), tuple(devices))

    async def pair(
        self,
        address: str,
        scan_seconds: float = SCAN_SECONDS,
        pin: str = DEFAULT_PIN,
        pair_seconds: float = PAIR_SECONDS,
    ) -> Headset:
        """Find (scanning if need be), pair, trust and connect the headset at ``address``;
        a headset that asks for a PIN is given ``pin``; a Pair that has not ended within
        ``pair_seconds`` is cancelled."""
        headset = await self._find(address, scan_seconds)
        if not headset.paired:
            await self._pair(headset, pin, pair_seconds)
        if not headset.trusted:
            await self._set(headset.path, "Trusted", Variant("b", True), f"trusting {address}")
        return await self.connect(address)

    async def connect(self, address: str) -> Headset:
        headset = await self._known(address)
        if not headset.connected:
            await self._call("Connect", DEVICE, headset.path, what=f"connecting {address}")
        return replace(headset, connected=True)

    async def disconnect(self, address: str) -> None:
        headset = await self._known(address)
        if headset.connected:
            await self._call("Disconnect", DEVICE, headset.path, what=f"disconnecting {address}")

    async def forget(self, address: str) -> None:
        headset = await self._known(address)
        radio = headset.path.rsplit("/", 1)[0]
        await self._call(
            "RemoveDevice", ADAPTER, radio, "o", [headset.path], f"forgetting {address}"
        )

    async def _pair(self, headset: Headset, pin: str, seconds: float) -> None:
        agent = PairingAgent(headset.path, pin)
        async with self._agent(agent):  # unregistered however Pair ends, timed out too
            try:
                await asyncio.wait_for(
                    self._call("Pair", DEVICE, headset.path, what=f"pairing {headset.address}"),
                    seconds,
                )
            except TimeoutError:
                await self._cancel_pairing(headset)
                raise BluetoothError(
                    f"pairing {headset.address}: the headset did not answer within {seconds:g} s: "
                    "put it in pairing mode (usually hold its power button until the light "
                    "flashes) and pair again"
                ) from None
            except BlueZRefused as exc:
                if agent.gave_pin and exc.error_name == "org.bluez.Error.AuthenticationFailed":
                    raise BluetoothError(
                        f"pairing {headset.address} failed: the headset did not take PIN "
                        f"{pin!r}: put it in pairing mode and pair again with the PIN in its "
                        f"manual (earmark headphones pair {headset.address} --pin PIN)"
                    ) from None
                raise

    async def _cancel_pairing(self, headset: Headset) -> None:
        """Device1.CancelPairing: bluetoothd stops waiting on the headset (its Pair then
        fails with AuthenticationCanceled, which nobody waits for any more)."""
        log.info("pairing timed out, cancelling device=%s", headset.address)
        try:
            await self._call(
                "CancelPairing", DEVICE, headset.path, what=f"cancelling {headset.address}"
            )
        except BluetoothError as exc:  # DoesNotExist: the Pair ended meanwhile
            log.info("pairing not cancelled device=%s: %s", headset.address, exc)

    @contextlib.asynccontextmanager
    async def _agent(self, agent: PairingAgent) -> AsyncIterator[None]:
        """``agent`` registered with BlueZ on this connection (BlueZ asks the agent of
        the connection that called Pair), and unregistered after, paired or not."""
        self.bus.export(AGENT_PATH, agent)
        try:
            await self._call(
                "RegisterAgent",
                AGENT_MANAGER,
                BLUEZ_ROOT,
                "os",
                [AGENT_PATH, CAPABILITY],
                "registering the pairing agent",
            )
            try:
                yield
            finally:
                try:
                    await self._call(
                        "UnregisterAgent", AGENT_MANAGER, BLUEZ_ROOT, "o", [AGENT_PATH]
                    )
                except BluetoothError as exc:  # bluetoothd drops it when we hang up anyway
                    log.warning("pairing agent not unregistered: %s", exc)
        finally:
            self.bus.unexport(AGENT_PATH, agent)

    async def _radio(self) -> Radio:
        radios = (await self.list()).radios
        if not radios:
            raise BluetoothError(NO_ADAPTER)
        radio = next((r for r in radios if r.powered), radios[0])
        if not radio.powered:
            await self._set(radio.path, "Powered", Variant("b", True), "powering the adapter on")
        return radio

    async def _known(self, address: str) -> Headset:
        await self._radio()  # no adapter says so, before "no such headset"
        headset = (await self.list()).find(address)
        if headset is None:
            raise BluetoothError(
                f"{address} is not known to BlueZ: pair it first (earmark headphones pair "
                f"{address.upper()}, with the headset in pairing mode)"
            )
        return headset

    async def _find(self, address: str, scan_seconds: float) -> Headset:
        """The device at ``address``, scanning for it for up to ``scan_seconds``."""
        radio = await self._radio()
        self._changed.clear()
        headset = (await self.list()).find(address)
        if headset is not None:
            return headset
        await self._call("StartDiscovery", ADAPTER, radio.path, what="scanning")
        deadline = time.monotonic() + scan_seconds
        try:
            while headset is None:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise BluetoothError(
                        f"{address} did not show up within {scan_seconds:g} s of scanning: "
                        "put the headset in pairing mode (often: hold the power key) and retry"
                    )
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._changed.wait(), left)
                self._changed.clear()
                headset = (await self.list()).find(address)
        finally:
            with contextlib.suppress(BluetoothError):  # scanning stops by itself too
                await self._call("StopDiscovery", ADAPTER, radio.path)
        return headset

    async def _set(self, path: str, name: str, value: Variant, what: str) -> None:
        interface = ADAPTER if name == "Powered" else DEVICE
        await self._call("Set", PROPERTIES, path, "ssv", [interface, name, value], what)

    async def _call(
        self,
        member: str,
        interface: str,
        path: str,
        signature: str = "",
        body: Body | None = None,
        what: str = "asking BlueZ",
        destination: str = BLUEZ,
    ) -> Body:
        message = Message(
            destination=destination,
            path=path,
            interface=interface,
            member=member,
            signature=signature,
            body=body or [],
        )
        try:
            reply = await self.bus.call(message)
        except (OSError, EOFError, DBusFastError) as exc:
            raise BluetoothError(f"{what}: the system bus went away ({exc}); retry") from None
        if reply is None or reply.message_type != MessageType.ERROR:
            return list(reply.body) if reply is not None else []
        name = reply.error_name or "unknown"
        text = reply.body[0] if reply.body else ""
        advice = ADVICE.get(name, "see `journalctl -u bluetooth`")
        raise BlueZRefused(f"{what} failed: {name.rsplit('.', 1)[-1]} ({text}): {advice}", name)

    def _on_message(self, message: Message) -> None:
        if message.message_type != MessageType.SIGNAL:
            return
        address = ""
        if message.interface == OBJECTS and message.member == "InterfacesAdded":
            path, interfaces = message.body
            if DEVICE in interfaces:
                address = _values(interfaces[DEVICE]).get("Address") or _address_of(path)
        elif message.interface == OBJECTS and message.member == "InterfacesRemoved":
            path, names = message.body
            address = _address_of(path) if DEVICE in names else ""
        elif message.member == "PropertiesChanged" and message.body[0] == DEVICE:
            address = _address_of(message.path or "")
        if address:
            self._changed.set()
            for callback in self._listeners:
                callback(address.upper())


class FakeHeadphones:
    """``Headphones`` in memory: for a box without Bluetooth, and for the CLI's tests."""

    def __init__(self, *devices: Headset) -> None:
        self.devices = {d.address: d for d in devices}
        self._listeners: list[Callable[[str], None]] = []

    def on_change(self, callback: Callable[[str], None]) -> None:
        self._listeners.append(callback)

    def change(self, address: str, **fields: Any) -> None:
        self.devices[address] = replace(self.devices[address], **fields)
        for callback in self._listeners:
            callback(address)

    async def list(self) -> Listing:
        radio = Radio("/org/bluez/hci0", "00:00:00:00:00:00", "fake", True, False)
        return Listing((radio,), tuple(self.devices.values()))

    async def pair(
        self,
        address: str,
        scan_seconds: float = SCAN_SECONDS,
        pin: str = DEFAULT_PIN,
        pair_seconds: float = PAIR_SECONDS,
    ) -> Headset:
        if address not in self.devices:
            raise BluetoothError(f"{address} did not show up within {scan_seconds:g} s")
        self.change(address, paired=True, trusted=True, connected=True)
        return self.devices[address]

    async def connect(self, address: str) -> Headset:
        return await self.pair(address)

    async def disconnect(self, address: str) -> None:
        self.change(address, connected=False)

    async def forget(self, address: str) -> None:
        self.devices.pop(address, None)

    async def close(self) -> None:
        pass


def _values(properties: dict[str, Any]) -> dict[str, Any]:
    return {k: v.value if isinstance(v, Variant) else v for k, v in properties.items()}


def _radio(path: str, p: dict[str, Any]) -> Radio:
    name = p.get("Alias") or p.get("Name") or path.rsplit("/", 1)[-1]
    return Radio(
        path, p.get("Address", ""), name, bool(p.get("Powered")), bool(p.get("Discovering"))
    )


def _headset(path: str, p: dict[str, Any]) -> Headset:
    address = str(p.get("Address") or _address_of(path)).upper()
    return Headset(
        path=path,
        address=address,
        name=p.get("Alias") or p.get("Name") or address,
        paired=bool(p.get("Paired")),
        trusted=bool(p.get("Trusted")),
        connected=bool(p.get("Connected")),
        icon=p.get("Icon", ""),
        uuids=tuple(u.lower() for u in p.get("UUIDs", ())),
    )


def _address_of(path: str) -> str:
    """``/org/bluez/hci0/dev_AA_BB_CC_DD_EE_FF`` → ``AA:BB:CC:DD:EE:FF``."""
    leaf = path.rsplit("/", 1)[-1]
    return leaf[4:].replace("_", ":") if leaf.startswith("dev_") else ""
