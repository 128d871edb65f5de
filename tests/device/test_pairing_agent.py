"""The pairing agent against the stand-in bluetoothd: a headset that asks for a PIN
or a yes pairs through ``earmark headphones pair``; a wrong PIN, a refusal, a
cancel, a headset that never answers are one line; the agent answers for no other
device and is gone after."""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import subprocess
import sys
import time

import pytest
from dbus_fast import BusType, Message
from dbus_fast.aio import MessageBus

from earmark.device.bluetooth import BluetoothError, open_bluez
from earmark.device.pairing_agent import AGENT_PATH, PairingAgent

from ..support import until
from .bluez_standin import StandInBluez, device_path
from .test_bluetooth import BUDS, earmark_headphones, one_line_error

pytestmark = pytest.mark.skipif(not shutil.which("dbus-daemon"), reason="needs dbus-daemon")

STRANGER = "AA:BB:CC:DD:EE:66"
REGISTERED_AND_GONE = ["RegisterAgent", "UnregisterAgent"]


def test_a_headset_that_asks_for_a_pin_is_given_0000(bluez: StandInBluez) -> None:
    bluez.nearby(BUDS, asks="pin")
    earmark_headphones("pair", BUDS)
    buds = bluez.devices[BUDS]
    assert (buds.paired, buds.trusted, buds.connected) == (True, True, True)
    assert bluez.agent_asked == ["RequestPinCode: ok"]
    assert bluez.agent_calls == REGISTERED_AND_GONE and not bluez.agents


def test_the_pin_given_with_pin_is_the_one_the_headset_gets(bluez: StandInBluez) -> None:
    bluez.nearby(BUDS, asks="pin", pin="1234")
    earmark_headphones("pair", BUDS, "--pin", "1234")
    assert bluez.devices[BUDS].paired and bluez.devices[BUDS].connected


def test_a_wrong_pin_is_one_line_that_says_to_give_the_right_one(bluez: StandInBluez) -> None:
    bluez.nearby(BUDS, asks="pin", pin="1234")
    message = one_line_error("pair", BUDS)
    assert f"pairing {BUDS} failed: the headset did not take PIN '0000'" in message
    assert f"earmark headphones pair {BUDS} --pin PIN" in message
    assert not bluez.devices[BUDS].paired and "Connect" not in bluez.devices[BUDS].calls
    assert bluez.agent_calls == REGISTERED_AND_GONE and not bluez.agents


def pair_over_dbus(bus: str, agent: PairingAgent | None = None) -> Message:
    """Device1.Pair for BUDS on a connection of our own, with ``agent`` registered on it
    (and unregistered after) if given: BlueZ's reply."""

    async def pair() -> Message:
        client = await MessageBus(bus_address=bus, bus_type=BusType.SYSTEM).connect()

        async def call(path: str, interface: str, member: str, *body: str) -> Message:
            signature = "os"[: len(body)]
            reply = await client.call(
                Message(
                    destination="org.bluez",
                    path=path,
                    interface=interface,
                    member=member,
                    signature=signature,
                    body=list(body),
                )
            )
            assert reply is not None
            return reply

        manager = ("/org/bluez", "org.bluez.AgentManager1")
        try:
            if agent is not None:
                client.export(AGENT_PATH, agent)
                await call(*manager, "RegisterAgent", AGENT_PATH, "NoInputNoOutput")
            reply = await call(device_path(BUDS), "org.bluez.Device1", "Pair")
            if agent is not None:
                await call(*manager, "UnregisterAgent", AGENT_PATH)
            return reply
        finally:
            client.disconnect()

    return asyncio.run(pair())


def test_without_an_agent_the_standin_refuses_a_headset_that_asks_for_a_pin(
    bluez: StandInBluez, bus: str
) -> None:
    """The old Pair, with no agent registered: the stand-in does check."""
    bluez.known(BUDS, asks="pin")
    reply = pair_over_dbus(bus)
    assert reply.error_name == "org.bluez.Error.AuthenticationFailed"
    assert bluez.agent_asked == ["no agent"] and not bluez.devices[BUDS].paired


def test_an_agent_for_another_headset_makes_bluez_reject_the_pairing(
    bluez: StandInBluez, bus: str
) -> None:
    bluez.known(BUDS, asks="pin")
    reply = pair_over_dbus(bus, PairingAgent(device_path(STRANGER)))
    assert reply.error_name == "org.bluez.Error.AuthenticationRejected"
    assert bluez.agent_asked == ["RequestPinCode: org.bluez.Error.Rejected"]
    assert not bluez.devices[BUDS].paired and not bluez.agents


def test_a_headset_that_asks_for_a_yes_is_confirmed(bluez: StandInBluez) -> None:
    bluez.nearby(BUDS, asks="confirm")
    earmark_headphones("pair", BUDS)
    assert bluez.devices[BUDS].paired
    assert bluez.agent_asked == ["RequestConfirmation: ok"]


def test_the_agent_refuses_to_answer_for_another_device(bluez: StandInBluez) -> None:
    bluez.nearby(BUDS, asks="confirm")
    bluez.stranger = STRANGER
    earmark_headphones("pair", BUDS)
    rejected = "org.bluez.Error.Rejected"
    assert bluez.stranger_answers == {
        "RequestConfirmation": rejected,
        "RequestAuthorization": rejected,
        "AuthorizeService": rejected,
    }
    assert bluez.agent_asked == ["RequestConfirmation: ok"] and bluez.devices[BUDS].paired


def test_a_headset_that_gives_up_is_logged_and_one_line(
    bluez: StandInBluez, caplog: pytest.LogCaptureFixture
) -> None:
    bluez.nearby(BUDS, asks="cancel")
    with caplog.at_level(logging.INFO, logger="earmark.device"):
        message = one_line_error("pair", BUDS)
    assert "AuthenticationCanceled" in message and "pairing mode" in message
    assert f"bluetoothd cancelled its request device={BUDS}" in caplog.text
    assert bluez.agent_calls == REGISTERED_AND_GONE and not bluez.agents


def test_a_pair_the_headset_never_answers_is_cancelled_after_the_limit(
    bluez: StandInBluez,
) -> None:
    bluez.nearby(BUDS, asks="nothing")

    async def pair() -> None:
        headphones = await open_bluez()
        try:
            await headphones.pair(BUDS, pair_seconds=0.5)
        finally:
            await headphones.close()

    started = time.monotonic()
    with pytest.raises(BluetoothError) as caught:
        asyncio.run(asyncio.wait_for(pair(), 30))  # without the limit: fails, not hangs
    assert time.monotonic() - started >= 0.5
    assert str(caught.value) == (
        f"pairing {BUDS}: the headset did not answer within 0.5 s: put it in pairing mode "
        "(usually hold its power button until the light flashes) and pair again"
    )
    buds = bluez.devices[BUDS]
    assert buds.calls == ["Pair", "CancelPairing"] and not buds.paired
    assert bluez.agent_calls == REGISTERED_AND_GONE and not bluez.agents


def test_the_standin_cancels_a_pairing_as_bluez_does(bluez: StandInBluez, bus: str) -> None:
    """CancelPairing with no Pair under way is DoesNotExist; during one, it ends that
    Pair with AuthenticationCanceled."""
    buds = bluez.known(BUDS, asks="nothing")

    async def calls() -> list[str]:
        client = await MessageBus(bus_address=bus, bus_type=BusType.SYSTEM).connect()

        async def call(member: str) -> str:
            reply = await client.call(
                Message(
                    destination="org.bluez",
                    path=device_path(BUDS),
                    interface="org.bluez.Device1",
                    member=member,
                )
            )
            assert reply is not None
            return reply.error_name or "ok"

        try:
            idle = await call("CancelPairing")
            pairing = asyncio.create_task(call("Pair"))
            await until(lambda: buds.pairing is not None, "the Pair under way", timeout=10)
            return [idle, await call("CancelPairing"), await pairing]
        finally:
            client.disconnect()

    assert asyncio.run(calls()) == [
        "org.bluez.Error.DoesNotExist",
        "ok",
        "org.bluez.Error.AuthenticationCanceled",
    ]
    assert buds.pairing is None and not buds.paired


def test_the_cli_says_a_wrong_pin_in_one_line_and_exits_non_zero(bluez: StandInBluez) -> None:
    bluez.nearby(BUDS, asks="pin", pin="1234")
    done = subprocess.run(
        [sys.executable, "-m", "earmark.cli", "headphones", "pair", BUDS, "--pin", "9999"],
        capture_output=True,
        text=True,
        timeout=60,
        env=os.environ,  # DBUS_SYSTEM_BUS_ADDRESS: the private bus
    )
    assert done.returncode != 0
    assert done.stderr.splitlines() == [
        f"earmark: pairing {BUDS} failed: the headset did not take PIN '9999': put it in "
        f"pairing mode and pair again with the PIN in its manual "
        f"(earmark headphones pair {BUDS} --pin PIN)"
    ]
    assert not bluez.agents


def test_a_pin_bluez_cannot_take_is_refused_by_the_parser(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit):
        earmark_headphones("pair", BUDS, "--pin", "00 00")
    assert "a PIN is 1 to 16 letters or digits" in capsys.readouterr().err


def test_the_standin_agent_manager_answers_as_bluez_does(bluez: StandInBluez, bus: str) -> None:
    async def calls() -> list[str]:
        client = await MessageBus(bus_address=bus, bus_type=BusType.SYSTEM).connect()
        answers: list[str] = []
        try:
            for member, signature, body in (
                ("UnregisterAgent", "o", ["/a"]),
                ("RequestDefaultAgent", "o", ["/a"]),
                ("RegisterAgent", "os", ["/a", "Telepathy"]),
                ("RegisterAgent", "os", ["/a", "NoInputNoOutput"]),
                ("RegisterAgent", "os", ["/b", "NoInputNoOutput"]),
                ("RequestDefaultAgent", "o", ["/a"]),
                ("UnregisterAgent", "o", ["/a"]),
            ):
                reply = await client.call(
                    Message(
                        destination="org.bluez",
                        path="/org/bluez",
                        interface="org.bluez.AgentManager1",
                        member=member,
                        signature=signature,
                        body=body,
                    )
                )
                assert reply is not None
                answers.append(reply.error_name or "ok")
        finally:
            client.disconnect()
        return answers

    assert asyncio.run(calls()) == [
        "org.bluez.Error.DoesNotExist",
        "org.bluez.Error.DoesNotExist",
        "org.bluez.Error.InvalidArguments",
        "ok",
        "org.bluez.Error.AlreadyExists",  # one agent per connection
        "ok",
        "ok",
    ]
    assert bluez.agent_calls == ["RegisterAgent", "RequestDefaultAgent", "UnregisterAgent"]
    assert not bluez.agents and bluez.default_agent is None
