"""systemd's notify protocol: READY when the speaker is up, STATUS lines from its
events (what plays, the broker, the jobs running), WATCHDOG pings from the event
loop (a hung loop stops them, and systemd restarts the service), STOPPING on
the way out.

The protocol is one datagram per message on the unix socket named by
``$NOTIFY_SOCKET`` (``@`` means the abstract namespace); outside systemd the
variable is unset and nothing is sent. A listener on the event seam.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket

from earmark.events import (
    BrokerConnected,
    BrokerDisconnected,
    JobFinished,
    JobStarted,
    Listener,
    PlayerStateChanged,
)

log = logging.getLogger(__name__)


class SystemdNotifier(Listener):
    def __init__(self, environ: dict[str, str] | None = None) -> None:
        env = os.environ if environ is None else environ
        address = env.get("NOTIFY_SOCKET", "")
        self.address = "\0" + address[1:] if address.startswith("@") else address
        watchdog_usec = env.get("WATCHDOG_USEC", "")
        self.watchdog_seconds = int(watchdog_usec) / 1e6 if watchdog_usec.isdigit() else None
        self._socket: socket.socket | None = None
        self._player = "starting"
        self._online = False
        self._status = ""
        self._jobs: dict[int, str] = {}  # what the job worker runs now, by job id
        self._watchdog: asyncio.Task[None] | None = None

    @property
    def enabled(self) -> bool:
        return bool(self.address)

    def notify(self, message: str) -> None:
        if not self.enabled:
            return
        try:
            if self._socket is None:
                self._socket = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
            self._socket.sendto(message.encode(), self.address)
        except OSError as exc:  # systemd gone: the speaker plays on
            log.warning("systemd notify failed (%s): %s", self.address.lstrip("\0"), exc)

    def ready(self) -> None:
        """The speaker is up: tell systemd, and ping its watchdog from the loop."""
        self.notify(f"READY=1\nSTATUS={self._status or self._player}")
        if self.watchdog_seconds:
            self._watchdog = asyncio.get_running_loop().create_task(self._keep_alive())

    def stopping(self) -> None:
        if self._watchdog is not None:
            self._watchdog.cancel()
        self.notify("STOPPING=1\nSTATUS=stopping")
        if self._socket is not None:
            with contextlib.suppress(OSError):
                self._socket.close()

    async def _keep_alive(self) -> None:
        assert self.watchdog_seconds
        while True:
            self.notify("WATCHDOG=1")
            await asyncio.sleep(self.watchdog_seconds / 2)

    def player_state_changed(self, event: PlayerStateChanged) -> None:
        what = f" {event.podcast} — {event.episode}" if event.episode else ""
        self._player = f"{event.state.status.value}{what}"
        self._update()

    def broker_connected(self, event: BrokerConnected) -> None:
        self._online = True
        self._update()

    def broker_disconnected(self, event: BrokerDisconnected) -> None:
        self._online = False
        self._update()

    def job_started(self, event: JobStarted) -> None:
        self._jobs[event.job_id] = event.kind
        self._update()

    def job_finished(self, event: JobFinished) -> None:
        self._jobs.pop(event.job_id, None)
        self._update()

    def _update(self) -> None:
        line = self._player if self._online else f"{self._player}; MQTT broker not connected"
        if self._jobs:
            line += f"; working on {', '.join(sorted(set(self._jobs.values())))}"
        if line != self._status:  # STATUS only when it changes, not each second
            self._status = line
            self.notify(f"STATUS={line}")
