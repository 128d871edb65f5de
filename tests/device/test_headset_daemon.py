"""The headset disappearing mid-episode, through the real daemon: its reconnect
watch talks to a stand-in bluetoothd on a private dbus-daemon
(``$DBUS_SYSTEM_BUS_ADDRESS``), real mpv plays on the null output, and what the
listener sees is ``earmark status --json``."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from ..daemon_process import Daemon, earmark
from ..support import wait_for
from .bluez_standin import Device, StandInBluez

pytestmark = pytest.mark.skipif(not shutil.which("dbus-daemon"), reason="needs dbus-daemon")

BUDS = "AA:BB:CC:DD:EE:01"
HEADSET_DEVICE = f"alsa/bluealsa:DEV={BUDS},PROFILE=a2dp"
JACK = "alsa/plughw:0,0"


@pytest.fixture
def buds(bluez: StandInBluez) -> Device:
    """The listener's headset: paired, trusted and connected when the speaker starts."""
    return bluez.known(BUDS, paired=True, trusted=True, connected=True)


@pytest.fixture
def start_daemon(
    garden_config: Callable[..., Path], tmp_path: Path, buds: Device
) -> Iterator[Callable[..., Daemon]]:
    started: list[Daemon] = []

    def start(**player: Any) -> Daemon:
        settings = {"audio_device": HEADSET_DEVICE, "bluetooth_headset": BUDS, **player}
        config = garden_config({"player": settings, "transcription": {"lookahead": "off"}})
        daemon = Daemon(config, tmp_path / "daemon.log")
        started.append(daemon)
        daemon.wait_playing(min_position=2.0)
        # the watch has had its first look: the headset goes away mid-episode
        wait_for(lambda: f"headset connected address={BUDS}" in daemon.log, 30, 0.1, "the watch")
        return daemon

    yield start
    for daemon in started:
        assert daemon.terminate() == 0


def test_the_episode_pauses_while_the_headset_is_away_and_plays_on_when_it_is_back(
    start_daemon: Callable[..., Daemon], bluez: StandInBluez, buds: Device
) -> None:
    daemon = start_daemon()
    bluez.vanish(BUDS)
    away = wait_for(
        lambda: (p := daemon.player())["status"] == "paused" and p, 60, 0.2, "the pause"
    )
    assert away["paused_for"] == "headset away"
    assert f"paused reason=headset away address={BUDS}" in daemon.log
    assert "player:     paused (headset away) Compost" in earmark(daemon.config, "status").stdout
    bluez.come_back(BUDS)  # trusted: the speaker connects it again, and plays on
    back = wait_for(
        lambda: (p := daemon.player())["status"] == "playing" and p, 60, 0.2, "playing on"
    )
    assert buds.connected and back["episode"] == away["episode"]
    assert back["position"] >= away["position"]


def test_with_a_fallback_output_the_episode_plays_on_through_it_while_the_headset_is_away(
    start_daemon: Callable[..., Daemon], bluez: StandInBluez, buds: Device
) -> None:
    daemon = start_daemon(fallback_audio_device=JACK)
    assert daemon.player()["audio_device"] == HEADSET_DEVICE
    bluez.vanish(BUDS)
    away = wait_for(
        lambda: (p := daemon.player())["audio_device"] == JACK and p, 60, 0.2, "the fallback"
    )
    wait_for(
        lambda: daemon.player()["position"] > away["position"] + 1, 60, 0.2, "playing on the jack"
    )
    assert daemon.player()["status"] == "playing"
    bluez.come_back(BUDS)
    wait_for(
        lambda: daemon.player()["audio_device"] == HEADSET_DEVICE, 60, 0.2, "the headset again"
    )
    assert buds.connected and daemon.player()["status"] == "playing"


def test_a_speaker_started_while_the_headset_is_away_waits_for_it_paused(
    garden_config: Callable[..., Path], tmp_path: Path, bluez: StandInBluez
) -> None:
    """The box boots with the headset switched off: autoplay loads the episode
    paused (nothing plays into an output that is not there), and the headset
    switched on starts it where the listener was."""
    buds = bluez.known(BUDS, paired=True, trusted=True, connected=False)
    bluez.vanish(BUDS)  # known and trusted, out of range
    settings = {"audio_device": HEADSET_DEVICE, "bluetooth_headset": BUDS}
    config = garden_config({"player": settings, "transcription": {"lookahead": "off"}})
    daemon = Daemon(config, tmp_path / "daemon.log")
    try:
        waiting = wait_for(
            lambda: (s := daemon.status()) and s["player"]["status"] == "paused" and s["player"],
            60,
            0.2,
            "a paused load",
        )
        assert waiting["paused_for"] == "headset away" and waiting["episode"] == "Compost"
        assert f"headset away address={BUDS}" in daemon.log

        bluez.come_back(BUDS)
        back = wait_for(
            lambda: (p := daemon.player())["status"] == "playing" and p, 60, 0.2, "playing"
        )
        assert buds.connected and back["episode"] == "Compost"
        wait_for(lambda: daemon.player()["position"] > 1.0, 60, 0.2, "the episode to play on")
    finally:
        assert daemon.terminate() == 0
