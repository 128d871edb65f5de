"""Bluetooth headphones over BlueZ's D-Bus API, against a stand-in bluetoothd on a
private dbus-daemon: the CLI's list / pair / connect / disconnect / forget, its
one-line errors, the doctor's look, and the watcher that reconnects the headset."""

from __future__ import annotations

import argparse
import asyncio
import logging
import shutil
import threading
from pathlib import Path

import pytest

from earmark.device.bluetooth import BluetoothError, FakeHeadphones, Headset
from earmark.device.headphones_cli import add_commands, check_headset
from earmark.device.reconnect import keep_connected
from earmark.events import Event, HeadsetAway, HeadsetConnected

from ..support import wait_for
from .bluez_standin import StandInBluez

pytestmark = pytest.mark.skipif(not shutil.which("dbus-daemon"), reason="needs dbus-daemon")

BUDS = "AA:BB:CC:DD:EE:01"


def earmark_headphones(*argv: str) -> None:
    """``earmark headphones ...`` through the CLI glue, as daemon/cli.py wires it."""
    parser = argparse.ArgumentParser(prog="earmark")
    sub = parser.add_subparsers(required=True)

    def add(name, handler, help_text):  # type: ignore[no-untyped-def]
        p = sub.add_parser(name, help=help_text)
        p.set_defaults(handler=handler)
        return p

    add_commands(add)
    args = parser.parse_args(["headphones", *argv])
    assert args.handler(args) == 0


def one_line_error(*argv: str) -> str:
    with pytest.raises(BluetoothError) as caught:
        earmark_headphones(*argv)
    message = str(caught.value)
    assert "\n" not in message and message
    return message


def test_list_shows_the_adapter_and_which_devices_are_audio(
    bluez: StandInBluez, capsys: pytest.CaptureFixture[str]
) -> None:
    bluez.known(BUDS, paired=True, trusted=True, connected=True)
    bluez.known("AA:BB:CC:DD:EE:02", name="Desk Keys", icon="input-keyboard")
    earmark_headphones("list")
    out = capsys.readouterr().out.splitlines()
    assert out[0].split() == ["adapter", "hci0", "DC:A6:32:00:00:01", "on"]
    assert f"{BUDS}  Tour Buds  (audio; paired, trusted, connected)" in out[1]
    assert "AA:BB:CC:DD:EE:02  Desk Keys  (input-keyboard; not paired)" in out[2]


def test_pair_finds_trusts_and_connects_a_headset_in_pairing_mode(
    bluez: StandInBluez, capsys: pytest.CaptureFixture[str]
) -> None:
    bluez.nearby(BUDS)
    earmark_headphones("pair", BUDS.lower())
    buds = bluez.devices[BUDS]
    assert (buds.paired, buds.trusted, buds.connected) == (True, True, True)
    assert buds.calls == ["Pair", "Connect"]
    assert not bluez.adapter.discovering, "the scan is stopped once it is found"
    assert "paired, trusted, connected" in capsys.readouterr().out


def test_a_failed_pairing_says_what_to_do_in_one_line(bluez: StandInBluez) -> None:
    bluez.nearby(BUDS)
    bluez.pairing_fails = True
    message = one_line_error("pair", BUDS)
    assert "AuthenticationFailed" in message and "pairing mode" in message
    assert not bluez.devices[BUDS].connected and not bluez.devices[BUDS].trusted


def test_a_headset_that_never_shows_up_fails_when_the_scan_ends(bluez: StandInBluez) -> None:
    message = one_line_error("pair", BUDS, "--scan", "0.5")
    assert f"{BUDS} did not show up within 0.5 s" in message and "pairing mode" in message
    assert not bluez.adapter.discovering


def test_connect_disconnect_and_forget_a_paired_headset(bluez: StandInBluez) -> None:
    buds = bluez.known(BUDS, paired=True, trusted=True)
    earmark_headphones("connect", BUDS)
    assert buds.connected
    earmark_headphones("disconnect", BUDS)
    assert not buds.connected
    earmark_headphones("forget", BUDS)
    assert BUDS not in bluez.devices
    assert "pair it first" in one_line_error("connect", BUDS)


def test_no_adapter_is_one_line(bus: str) -> None:
    standin = StandInBluez(bus, adapter=False)
    try:
        assert "no Bluetooth adapter" in one_line_error("list")
        assert "no Bluetooth adapter" in one_line_error("pair", BUDS)
    finally:
        standin.close()


def test_bluetoothd_not_running_is_one_line(bus: str) -> None:
    assert "bluetoothd is not running" in one_line_error("list")


@pytest.mark.parametrize("address", ["unix:path=/nonexistent/bus", "not-an-address"])
def test_no_system_bus_is_one_line(monkeypatch: pytest.MonkeyPatch, address: str) -> None:
    monkeypatch.setenv("DBUS_SYSTEM_BUS_ADDRESS", address)
    assert f"no system D-Bus at {address}" in one_line_error("list")


def test_an_address_that_is_not_one_is_refused_by_the_parser(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit):
        earmark_headphones("pair", "buds")
    assert "not a Bluetooth address" in capsys.readouterr().err


def test_the_doctor_sees_a_connected_headset_and_fails_one_that_is_not(
    bluez: StandInBluez,
) -> None:
    buds = bluez.known(BUDS, paired=True, trusted=True, connected=True)
    assert check_headset(BUDS) == f"headset Tour Buds ({BUDS}) connected"
    bluez.call(lambda: buds.change(Connected=False))
    with pytest.raises(BluetoothError, match="paired but not connected"):
        check_headset(BUDS)
    with pytest.raises(BluetoothError, match="not paired"):
        check_headset("AA:BB:CC:DD:EE:09")
    assert not buds.connected, "the doctor only looks"


def test_the_doctor_passes_a_box_without_bluetooth_that_needs_none(bus: str) -> None:
    assert check_headset(None).startswith("no Bluetooth headset configured")
    with pytest.raises(BluetoothError, match="bluetoothd is not running"):
        check_headset(BUDS)


class Watcher:
    """``keep_connected`` on a loop of its own, as the speaker would run it;
    ``announced`` is what it told the speaker."""

    def __init__(self, address: str) -> None:
        self.announced: list[Event] = []
        self._stop: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread = threading.Thread(target=asyncio.run, args=(self._run(address),))
        self._thread.start()
        wait_for(lambda: self._stop is not None, what="the watcher's loop")

    async def _run(self, address: str) -> None:
        self._loop, self._stop = asyncio.get_running_loop(), asyncio.Event()
        task = asyncio.create_task(
            keep_connected(address, self.announced.append, first=0.05, longest=0.4)
        )
        await self._stop.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    def stop(self) -> None:
        assert self._loop is not None and self._stop is not None
        self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(10)
        assert not self._thread.is_alive()


def test_the_headset_is_reconnected_when_it_comes_back(bluez: StandInBluez) -> None:
    buds = bluez.known(BUDS, paired=True, trusted=True, connected=True)
    running = Watcher(BUDS)
    try:
        bluez.vanish(BUDS)
        assert BUDS not in bluez.devices and not buds.connected
        bluez.come_back(BUDS)
        wait_for(lambda: buds.connected, timeout=10, what="the headset reconnected")
        assert "Connect" in buds.calls
    finally:
        running.stop()


def test_the_watch_announces_the_headset_going_and_coming_back(bluez: StandInBluez) -> None:
    buds = bluez.known(BUDS, paired=True, trusted=True, connected=True)
    running = Watcher(BUDS)
    try:
        wait_for(lambda: running.announced, timeout=10, what="the first look")
        assert running.announced == [HeadsetConnected(BUDS)]
        bluez.vanish(BUDS)
        wait_for(lambda: len(running.announced) >= 2, timeout=10, what="the headset away")
        assert running.announced[1] == HeadsetAway(BUDS)
        bluez.come_back(BUDS)
        wait_for(lambda: buds.connected, timeout=10, what="the headset reconnected")
        wait_for(lambda: len(running.announced) >= 3, timeout=10, what="the headset back")
    finally:
        running.stop()
    # each change once: a look that finds nothing new says nothing
    assert running.announced == [HeadsetConnected(BUDS), HeadsetAway(BUDS), HeadsetConnected(BUDS)]


def test_with_no_bluetoothd_the_headset_is_said_away_once_and_the_bus_tried_again(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    monkeypatch.setenv("DBUS_SYSTEM_BUS_ADDRESS", f"unix:path={tmp_path}/no-bus")
    caplog.set_level(logging.WARNING, logger="earmark.device.reconnect")
    running = Watcher(BUDS)
    try:
        wait_for(
            lambda: caplog.text.count("bluetooth unavailable") >= 3, timeout=10, what="retries"
        )
    finally:
        running.stop()
    assert running.announced == [HeadsetAway(BUDS)]


def test_a_switched_off_headset_is_tried_again_until_it_answers(bluez: StandInBluez) -> None:
    buds = bluez.known(BUDS, paired=True, trusted=True, connected=False)
    bluez.reachable = False
    running = Watcher(BUDS)
    try:
        wait_for(lambda: buds.calls.count("Connect") >= 3, timeout=10, what="retries")
        assert not buds.connected
        bluez.reachable = True  # switched on: it says nothing, the next try finds it
        wait_for(lambda: buds.connected, timeout=10, what="the headset connected")
    finally:
        running.stop()


def test_the_fake_headphones_serve_the_watcher_where_there_is_no_bluetooth() -> None:
    fake = FakeHeadphones(Headset("/fake/buds", BUDS, "Buds", paired=True, trusted=True))

    async def watch_until_connected() -> None:
        async def opened() -> FakeHeadphones:
            return fake

        task = asyncio.create_task(
            keep_connected(BUDS, lambda e: None, opened, first=0.01, longest=0.1)
        )
        while not fake.devices[BUDS].connected:
            await asyncio.sleep(0.01)
        task.cancel()

    asyncio.run(asyncio.wait_for(watch_until_connected(), 10))
    assert fake.devices[BUDS].connected
