"""sd_notify on a real unix datagram socket, as systemd gives one in
``$NOTIFY_SOCKET``: READY, STATUS lines that follow the speaker, WATCHDOG pings
from the loop, STOPPING."""

from __future__ import annotations

import asyncio
import socket
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from earmark.device.systemd import SystemdNotifier
from earmark.events import BrokerConnected, JobFinished, JobStarted, PlayerStateChanged
from earmark.player.state import PlayerState, Status


@pytest.fixture
def systemd_socket() -> Iterator[tuple[socket.socket, str]]:
    folder = Path(tempfile.mkdtemp())
    path = str(folder / "notify")
    listening = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    listening.bind(path)
    listening.settimeout(5)
    yield listening, path
    listening.close()


def received(listening: socket.socket) -> str:
    return listening.recv(4096).decode()


def test_ready_status_and_stopping_reach_systemd(systemd_socket: tuple[socket.socket, str]) -> None:
    listening, path = systemd_socket
    notifier = SystemdNotifier({"NOTIFY_SOCKET": path})

    async def main() -> None:
        notifier.ready()
        notifier.on_event(BrokerConnected())
        playing = PlayerState(Status.PLAYING, "/a.mp3", 1, 3.0)
        for _ in range(3):  # once a second while playing: one STATUS line, not three
            notifier.on_event(PlayerStateChanged(playing, "The Slow Garden", "Compost"))
        notifier.on_event(PlayerStateChanged(PlayerState(Status.PAUSED, "/a.mp3", 1), "G", "C"))
        notifier.stopping()

    asyncio.run(main())
    messages = [received(listening) for _ in range(5)]
    assert messages[0].startswith("READY=1\nSTATUS=starting")
    assert messages[1] == "STATUS=starting"  # the broker is there now
    assert messages[2] == "STATUS=playing The Slow Garden — Compost"
    assert messages[3] == "STATUS=paused G — C"
    assert messages[4].startswith("STOPPING=1")
    listening.settimeout(0.2)
    with pytest.raises(TimeoutError):
        received(listening)


def test_status_says_which_jobs_run(systemd_socket: tuple[socket.socket, str]) -> None:
    listening, path = systemd_socket
    notifier = SystemdNotifier({"NOTIFY_SOCKET": path})
    notifier.on_event(BrokerConnected())
    playing = PlayerState(Status.PLAYING, "/a.mp3", 1, 3.0)
    notifier.on_event(PlayerStateChanged(playing, "G", "C"))
    notifier.on_event(JobStarted(7, "transcribe"))
    notifier.on_event(JobStarted(8, "lookahead"))
    notifier.on_event(JobFinished(7, "transcribe"))
    notifier.on_event(JobFinished(8, "lookahead"))
    lines = [received(listening) for _ in range(6)]
    assert lines[2:] == [
        "STATUS=playing G — C; working on transcribe",
        "STATUS=playing G — C; working on lookahead, transcribe",
        "STATUS=playing G — C; working on lookahead",
        "STATUS=playing G — C",
    ]


def test_watchdog_pings_come_from_the_running_loop(
    systemd_socket: tuple[socket.socket, str],
) -> None:
    listening, path = systemd_socket
    notifier = SystemdNotifier({"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "100000"})

    async def main() -> None:
        notifier.ready()
        await asyncio.sleep(0.3)  # the loop runs: the pings go out every 50 ms
        notifier.stopping()

    asyncio.run(main())
    messages = []
    listening.settimeout(0.5)
    with pytest.raises(TimeoutError):
        while True:
            messages.append(received(listening))
    assert messages[0].startswith("READY=1")
    assert messages.count("WATCHDOG=1") >= 3
    assert messages[-1].startswith("STOPPING=1")


def test_outside_systemd_nothing_is_sent() -> None:
    notifier = SystemdNotifier({})
    assert not notifier.enabled
    notifier.notify("READY=1")  # no socket, no error
