"""A stand-in for bluetoothd on a private D-Bus: the BlueZ interfaces earmark uses.

``org.bluez`` with ObjectManager at ``/`` (dbus-fast answers GetManagedObjects and
sends InterfacesAdded/InterfacesRemoved as objects come and go), an
``org.bluez.Adapter1`` at ``/org/bluez/hci0`` and ``org.bluez.Device1`` objects at
``/org/bluez/hci0/dev_AA_BB_...``, and ``org.bluez.AgentManager1`` at ``/org/bluez``
(an agent per connection, BlueZ's errors; unlike bluetoothd it keeps an agent whose
owner hung up, so a client that forgets UnregisterAgent shows in ``agents``). It
runs its own asyncio loop on a thread; a test sets it up and flips its switches
from the test's thread:

- ``nearby(address)``: a headset in pairing mode, which shows up once discovery runs
  (one that is not nearby never shows up); ``asks="pin"`` (legacy pairing: Pair asks
  the agent of Pair's caller, else the default agent, for the PIN over D-Bus, and
  fails with AuthenticationFailed when it is not ``pin`` or there is no agent, with
  AuthenticationRejected when the agent says Rejected), ``asks="confirm"`` (Secure
  Simple Pairing: RequestConfirmation, the same errors), ``asks="cancel"`` (the
  headset gives up: the agent's Cancel, then AuthenticationCanceled), ``asks="nothing"``
  (the headset never answers: Pair waits until ``CancelPairing``, then fails with
  AuthenticationCanceled; CancelPairing answers DoesNotExist when no Pair waits);
- ``stranger``: an address; before asking about the headset, Pair asks the agent to
  confirm, authorise and allow a service for that device; ``stranger_answers``
  holds the error name (or "ok") of each;
- ``reachable``: False and Connect answers org.bluez.Error.Failed (switched off);
- ``vanish(address)`` / ``come_back(address)``: Connected goes false and the object
  is removed; it is added again, paired and trusted, not connected.
"""

from __future__ import annotations

import asyncio
import subprocess
import threading
from collections.abc import Callable
from concurrent.futures import Future
from pathlib import Path
from typing import Annotated, Any, TypeVar

from dbus_fast import BusType, DBusError, Message, MessageType, PropertyAccess
from dbus_fast.aio import MessageBus
from dbus_fast.annotations import DBusBool, DBusObjectPath, DBusSignature, DBusStr
from dbus_fast.service import ServiceInterface, dbus_property, method

# (no "-> None" on the D-Bus methods: dbus-fast reads return annotations as signatures)
A2DP_SINK = "0000110b-0000-1000-8000-00805f9b34fb"
ADAPTER_PATH = "/org/bluez/hci0"
AGENT = "org.bluez.Agent1"
AGENT_MANAGER = "org.bluez.AgentManager1"
CAPABILITIES = {
    "",
    "DisplayOnly",
    "DisplayYesNo",
    "KeyboardOnly",
    "NoInputNoOutput",
    "KeyboardDisplay",
}
PASSKEY = 123456
DBusStrings = Annotated[list[str], DBusSignature("as")]
T = TypeVar("T")

BUS_CONFIG = """<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:path={socket}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*"/>
    <allow receive_sender="*"/>
    <allow own="*"/>
  </policy>
</busconfig>
"""


class PrivateBus:
    """A dbus-daemon of our own, on a socket in ``folder``."""

    def __init__(self, folder: Path) -> None:
        config = folder / "bus.conf"
        config.write_text(BUS_CONFIG.format(socket=folder / "bus"))
        self.process = subprocess.Popen(
            ["dbus-daemon", "--nofork", "--print-address", f"--config-file={config}"],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout is not None
        self.address = self.process.stdout.readline().strip()  # printed once it listens
        assert self.address, "dbus-daemon did not start"

    def close(self) -> None:
        self.process.terminate()
        self.process.wait(10)


def device_path(address: str) -> str:
    return f"{ADAPTER_PATH}/dev_{address.upper().replace(':', '_')}"


class Device(ServiceInterface):
    def __init__(
        self,
        standin: StandInBluez,
        address: str,
        name: str,
        icon: str,
        asks: str | None = None,
        pin: str = "0000",
    ) -> None:
        super().__init__("org.bluez.Device1")
        self.standin = standin
        self.address, self.alias, self.icon = address, name, icon  # .name is the interface's
        self.asks, self.pin = asks, pin
        self.paired = self.trusted = self.connected = False
        self.calls: list[str] = []
        self.pairing: asyncio.Event | None = None  # a Pair waiting on a silent headset

    def change(self, **values: bool) -> None:
        for name, value in values.items():
            setattr(self, name.lower(), value)
        self.emit_properties_changed(values)

    @method()
    async def Pair(self):  # noqa: N802 (BlueZ's names)
        caller = self.standin.pair_callers.pop(0)  # noted as the call came in
        self.calls.append("Pair")
        if self.standin.pairing_fails:
            raise DBusError("org.bluez.Error.AuthenticationFailed", "Authentication Failed")
        if self.asks == "nothing":
            self.pairing = asyncio.Event()
            await self.pairing.wait()  # set by CancelPairing: the headset never answers
            self.pairing = None
            raise DBusError("org.bluez.Error.AuthenticationCanceled", "Authentication Canceled")
        if self.asks is not None:
            await self.standin.authenticate(self, caller)
        self.change(Paired=True)

    @method()
    def CancelPairing(self):  # noqa: N802
        self.calls.append("CancelPairing")
        if self.pairing is None:
            raise DBusError("org.bluez.Error.DoesNotExist", "Does Not Exist")
        self.pairing.set()

    @method()
    def Connect(self):  # noqa: N802
        self.calls.append("Connect")
        if not self.standin.reachable:
            raise DBusError("org.bluez.Error.Failed", "br-connection-page-timeout")
        self.change(Connected=True)

    @method()
    def Disconnect(self):  # noqa: N802
        self.calls.append("Disconnect")
        self.change(Connected=False)

    @dbus_property(access=PropertyAccess.READ)
    def Address(self) -> DBusStr:  # noqa: N802
        return self.address

    @dbus_property(access=PropertyAccess.READ)
    def Name(self) -> DBusStr:  # noqa: N802
        return self.alias

    @dbus_property(access=PropertyAccess.READ)
    def Alias(self) -> DBusStr:  # noqa: N802
        return self.alias

    @dbus_property(access=PropertyAccess.READ)
    def Icon(self) -> DBusStr:  # noqa: N802
        return self.icon

    @dbus_property(access=PropertyAccess.READ)
    def UUIDs(self) -> DBusStrings:  # noqa: N802
        return [A2DP_SINK] if self.icon.startswith("audio") else []

    @dbus_property(access=PropertyAccess.READ)
    def Adapter(self) -> DBusObjectPath:  # noqa: N802
        return ADAPTER_PATH

    @dbus_property(access=PropertyAccess.READ)
    def Paired(self) -> DBusBool:  # noqa: N802
        return self.paired

    @dbus_property(access=PropertyAccess.READ)
    def Connected(self) -> DBusBool:  # noqa: N802
        return self.connected

    @dbus_property()
    def Trusted(self) -> DBusBool:  # noqa: N802
        return self.trusted

    @Trusted.setter  # type: ignore[no-redef]
    def Trusted(self, value: DBusBool) -> None:  # noqa: N802
        self.change(Trusted=value)


class Adapter(ServiceInterface):
    def __init__(self, standin: StandInBluez) -> None:
        super().__init__("org.bluez.Adapter1")
        self.standin = standin
        self.powered, self.discovering = True, False

    @method()
    def StartDiscovery(self):  # noqa: N802
        self.discovering = True
        self.emit_properties_changed({"Discovering": True})
        loop = asyncio.get_running_loop()
        for address in self.standin.nearby_addresses:  # found a moment later, as in life
            loop.call_later(0.1, self.standin.add, address)

    @method()
    def StopDiscovery(self):  # noqa: N802
        self.discovering = False
        self.emit_properties_changed({"Discovering": False})

    @method()
    def RemoveDevice(self, device: DBusObjectPath):  # noqa: N802
        if device not in self.standin.devices_by_path:
            raise DBusError("org.bluez.Error.DoesNotExist", "Does Not Exist")
        self.standin.remove(self.standin.devices_by_path[device].address, keep=False)

    @dbus_property(access=PropertyAccess.READ)
    def Address(self) -> DBusStr:  # noqa: N802
        return "DC:A6:32:00:00:01"

    @dbus_property(access=PropertyAccess.READ)
    def Alias(self) -> DBusStr:  # noqa: N802
        return "earmark"

    @dbus_property(access=PropertyAccess.READ)
    def Discovering(self) -> DBusBool:  # noqa: N802
        return self.discovering

    @dbus_property()
    def Powered(self) -> DBusBool:  # noqa: N802
        return self.powered

    @Powered.setter  # type: ignore[no-redef]
    def Powered(self, value: DBusBool) -> None:  # noqa: N802
        self.powered = value
        self.emit_properties_changed({"Powered": value})


class AgentManager(ServiceInterface):
    """``org.bluez.AgentManager1``: one agent per connection, as bluetoothd keeps them."""

    def __init__(self, standin: StandInBluez) -> None:
        super().__init__(AGENT_MANAGER)
        self.standin = standin

    @method()
    def RegisterAgent(self, agent: DBusObjectPath, capability: DBusStr):  # noqa: N802
        caller = self.standin.caller
        if capability not in CAPABILITIES:
            raise DBusError("org.bluez.Error.InvalidArguments", "Invalid Arguments")
        if caller in self.standin.agents:
            raise DBusError("org.bluez.Error.AlreadyExists", "Already Exists")
        self.standin.agents[caller] = (agent, capability)
        self.standin.agent_calls.append("RegisterAgent")

    @method()
    def UnregisterAgent(self, agent: DBusObjectPath):  # noqa: N802
        caller = self.standin.caller
        if self.standin.agents.get(caller, ("",))[0] != agent:
            raise DBusError("org.bluez.Error.DoesNotExist", "No such Agent")
        del self.standin.agents[caller]
        if self.standin.default_agent == caller:
            self.standin.default_agent = None
        self.standin.agent_calls.append("UnregisterAgent")

    @method()
    def RequestDefaultAgent(self, agent: DBusObjectPath):  # noqa: N802
        caller = self.standin.caller
        if self.standin.agents.get(caller, ("",))[0] != agent:
            raise DBusError("org.bluez.Error.DoesNotExist", "Does Not Exist")
        self.standin.default_agent = caller
        self.standin.agent_calls.append("RequestDefaultAgent")


class StandInBluez:
    """bluetoothd as far as earmark can tell, on ``bus_address``."""

    def __init__(self, bus_address: str, adapter: bool = True) -> None:
        self.bus_address = bus_address
        self.pairing_fails = False
        self.reachable = True
        self.stranger: str | None = None
        self.stranger_answers: dict[str, str] = {}
        self.agents: dict[str, tuple[str, str]] = {}  # caller's unique name: path, capability
        self.default_agent: str | None = None
        self.agent_calls: list[str] = []  # AgentManager1 calls that succeeded
        self.agent_asked: list[str] = []  # what the headset asked an agent, and the answer
        self.caller = ""  # who called the AgentManager1 method that is running
        self.pair_callers: list[str] = []  # who called each Pair, in order
        self.nearby_addresses: list[str] = []
        self.waiting: dict[str, Device] = {}  # nearby, not yet found by a scan
        self.devices: dict[str, Device] = {}  # exported
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._thread.start()
        self.bus: MessageBus = self.call(self._connect)
        self.adapter = Adapter(self)
        self.agent_manager = AgentManager(self)
        self.call(lambda: self.bus.export("/org/bluez", self.agent_manager))
        if adapter:
            self.call(lambda: self.bus.export(ADAPTER_PATH, self.adapter))

    async def _connect(self) -> MessageBus:
        bus = await MessageBus(bus_address=self.bus_address, bus_type=BusType.SYSTEM).connect()
        bus.add_message_handler(self._note_caller)
        await bus.request_name("org.bluez")
        return bus

    def _note_caller(self, message: Message) -> None:
        """Who calls: a method's body cannot see it. dbus-fast runs this handler first,
        then the method (AgentManager1's at once; Pair's coroutine starts later, so
        its callers queue up in order)."""
        if message.message_type != MessageType.METHOD_CALL:
            return
        if message.interface == AGENT_MANAGER:
            self.caller = message.sender or ""
        elif message.interface == "org.bluez.Device1" and message.member == "Pair":
            self.pair_callers.append(message.sender or "")

    async def authenticate(self, device: Device, caller: str) -> None:
        """What bluetoothd does when the headset wants a PIN or a yes: ask the agent of
        Pair's caller, else the default agent; raise BlueZ's error when that fails."""
        owner = caller if caller in self.agents else self.default_agent
        if owner is None:
            self.agent_asked.append("no agent")
            raise DBusError("org.bluez.Error.AuthenticationFailed", "Authentication Failed")
        path, _ = self.agents[owner]
        if self.stranger is not None:
            other = device_path(self.stranger)
            for member, signature, body in (
                ("RequestConfirmation", "ou", [other, PASSKEY]),
                ("RequestAuthorization", "o", [other]),
                ("AuthorizeService", "os", [other, A2DP_SINK]),
            ):
                reply = await self._ask(owner, path, member, signature, body)
                self.stranger_answers[member] = reply.error_name or "ok"
        if device.asks == "cancel":
            await self._ask(owner, path, "Cancel", "", [])
            self.agent_asked.append("Cancel")
            raise DBusError("org.bluez.Error.AuthenticationCanceled", "Authentication Canceled")
        here = device_path(device.address)
        if device.asks == "pin":
            member, reply = (
                "RequestPinCode",
                await self._ask(owner, path, "RequestPinCode", "o", [here]),
            )
        else:
            member = "RequestConfirmation"
            reply = await self._ask(owner, path, member, "ou", [here, PASSKEY])
        answer = reply.error_name or "ok"
        self.agent_asked.append(f"{member}: {answer}")
        if reply.error_name == "org.bluez.Error.Rejected":
            raise DBusError("org.bluez.Error.AuthenticationRejected", "Authentication Rejected")
        if reply.error_name is not None:
            raise DBusError("org.bluez.Error.AuthenticationFailed", "Authentication Failed")
        if device.asks == "pin" and reply.body != [device.pin]:
            raise DBusError("org.bluez.Error.AuthenticationFailed", "Authentication Failed")

    async def _ask(
        self, owner: str, path: str, member: str, signature: str, body: list[Any]
    ) -> Message:
        reply = await self.bus.call(
            Message(
                destination=owner,
                path=path,
                interface=AGENT,
                member=member,
                signature=signature,
                body=body,
            )
        )
        assert reply is not None
        return reply

    @property
    def devices_by_path(self) -> dict[str, Device]:
        return {device_path(a): d for a, d in self.devices.items()}

    def call(self, fn: Callable[[], Any]) -> Any:
        """Run ``fn`` (or the coroutine it returns) on the stand-in's loop; its result."""
        done: Future[Any] = Future()

        async def run() -> None:
            try:
                result = fn()
                done.set_result(await result if asyncio.iscoroutine(result) else result)
            except BaseException as exc:  # handed to the test's thread
                done.set_exception(exc)

        asyncio.run_coroutine_threadsafe(run(), self.loop)
        return done.result(10)

    # what a test sets up and flips

    def nearby(
        self,
        address: str,
        name: str = "Tour Buds",
        icon: str = "audio-headset",
        asks: str | None = None,
        pin: str = "0000",
    ) -> None:
        self.waiting[address] = Device(self, address, name, icon, asks, pin)
        self.nearby_addresses.append(address)

    def known(
        self,
        address: str,
        name: str = "Tour Buds",
        icon: str = "audio-headset",
        asks: str | None = None,
        **state: bool,
    ) -> Device:
        device = Device(self, address, name, icon, asks)
        for key, value in state.items():
            setattr(device, key, value)
        self.waiting[address] = device
        self.call(lambda: self.add(address))
        return device

    def vanish(self, address: str) -> None:
        def gone() -> None:
            self.devices[address].change(Connected=False)
            self.remove(address)

        self.call(gone)

    def come_back(self, address: str) -> None:
        self.call(lambda: self.add(address))

    def add(self, address: str) -> None:
        device = self.waiting.pop(address, None)
        if device is not None and address not in self.devices:
            self.devices[address] = device
            self.bus.export(device_path(address), device)

    def remove(self, address: str, keep: bool = True) -> None:
        """Gone out of range (``keep``: it comes back as it left) or forgotten."""
        device = self.devices.pop(address)
        self.bus.unexport(device_path(address), device)
        if keep:
            self.waiting[address] = device

    def close(self) -> None:
        self.call(self.bus.disconnect)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)
        self.loop.close()
