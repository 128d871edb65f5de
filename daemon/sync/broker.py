"""A local mosquitto for a box with no broker configured (and for the tests)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from earmark.errors import EarmarkError


class BrokerError(EarmarkError):
    """The local broker could not be started."""


def port_answers(host: str, port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def speaks_mqtt(host: str, port: int, timeout: float = 1.0) -> bool:
    """True if something on host:port answers an MQTT CONNECT with a CONNACK."""
    # MQTT 3.1.1 CONNECT: protocol "MQTT", level 4, clean session, keepalive 60, empty id
    connect = b"\x10\x0c\x00\x04MQTT\x04\x02\x00\x3c\x00\x00"
    try:
        with socket.create_connection((host, port), timeout=timeout) as s:
            s.settimeout(timeout)
            s.sendall(connect)
            reply = s.recv(4)
            if reply[:1] == b"\x20":
                s.sendall(b"\xe0\x00")  # DISCONNECT
                return True
            return False
    except OSError:
        return False


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class LocalBroker:
    """mosquitto on 127.0.0.1:``port``, its files in a fresh private folder."""

    def __init__(self, port: int, extra_config: str = "") -> None:
        self.port = port
        self.extra_config = extra_config
        self._dir: Path | None = None
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int | None:
        """The running mosquitto's process id (tests pause it with SIGSTOP)."""
        return self._process.pid if self._process is not None else None

    def start(self, timeout: float = 10.0) -> LocalBroker:
        binary = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
        if not Path(binary).exists():
            raise BrokerError("mosquitto is not installed; apt-get install mosquitto")
        if port_answers("127.0.0.1", self.port):
            raise BrokerError(f"port {self.port} is already in use; set mqtt.local_port")
        if self._dir is None:  # kept across restarts, so persistence survives them
            self._dir = Path(tempfile.mkdtemp(prefix="earmark-broker-"))
        conf = self._dir / "mosquitto.conf"
        lines = [
            f"listener {self.port} 127.0.0.1",
            "allow_anonymous true",
            f"persistence_location {self._dir}/",
            "persistence true",
        ]
        if os.geteuid() == 0:
            # as root mosquitto drops to its own user, which cannot read this folder
            lines.append("user root")
        conf.write_text("\n".join(lines) + "\n" + self.extra_config)
        with (self._dir / "mosquitto.log").open("wb") as log_file:
            self._process = subprocess.Popen(
                [binary, "-c", str(conf)], stdout=log_file, stderr=subprocess.STDOUT
            )
        deadline = time.monotonic() + timeout
        while not port_answers("127.0.0.1", self.port, 0.2):
            if self._process.poll() is not None or time.monotonic() > deadline:
                log = (self._dir / "mosquitto.log").read_text(errors="replace").strip()
                self.stop()
                raise BrokerError(f"mosquitto did not start on port {self.port}: {log[-200:]}")
            time.sleep(0.05)
        return self

    def stop(self, kill: bool = False) -> None:
        if self._process is not None and self._process.poll() is None:
            if kill:
                self._process.kill()
            else:
                self._process.terminate()
            try:
                self._process.wait(5)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        self._process = None

    def close(self) -> None:
        self.stop()
        if self._dir is not None:
            shutil.rmtree(self._dir, ignore_errors=True)
            self._dir = None

    def __enter__(self) -> LocalBroker:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()
