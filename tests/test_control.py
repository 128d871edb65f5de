"""The control socket: a command the CLI stopped waiting for is never run late."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from earmark.control import ControlServer, request
from earmark.errors import NotRunningError


def serve(path: Path, ran: list[str], hold: threading.Event) -> threading.Thread:
    """A control server on its own loop whose handler waits for ``hold``."""

    async def handler(command: str, args: dict[str, Any]) -> dict[str, Any]:
        ran.append(command)
        return {"ok": True}

    async def main() -> None:
        server = ControlServer(path, handler)
        await server.start()
        ready.set()
        while not stop.is_set():
            # the loop is blocked while ``hold`` is clear: a busy daemon
            hold.wait()
            await asyncio.sleep(0.01)
        await server.stop()

    ready, stop = threading.Event(), threading.Event()
    thread = threading.Thread(target=asyncio.run, args=(main(),), daemon=True)
    thread.start()
    assert ready.wait(10)
    thread.stop = stop  # type: ignore[attr-defined]
    return thread


def test_a_command_that_timed_out_is_never_run_later(tmp_path: Path) -> None:
    path = tmp_path / "earmark.sock"
    ran: list[str] = []
    hold = threading.Event()
    thread = serve(path, ran, hold)
    try:
        with pytest.raises(NotRunningError, match="only if it had started it by then"):
            request(path, "snip", timeout=0.3)  # the daemon is busy: the CLI gives up
        hold.set()  # the daemon gets to the request after its deadline
        assert request(path, "status")["ok"]
        assert ran == ["status"]
    finally:
        hold.set()
        thread.stop.set()  # type: ignore[attr-defined]
        thread.join(5)


def test_a_late_request_is_answered_with_why_it_was_not_run(tmp_path: Path) -> None:
    path = tmp_path / "earmark.sock"
    ran: list[str] = []
    hold = threading.Event()
    hold.set()
    thread = serve(path, ran, hold)
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(5)
            s.connect(str(path))
            late = {"command": "snip", "expires_at": time.time() - 1}
            s.sendall(json.dumps(late).encode() + b"\n")
            reply = json.loads(s.makefile().readline())
        assert reply == {"ok": False, "error": "the command came too late and was not run"}
        assert ran == []
    finally:
        thread.stop.set()  # type: ignore[attr-defined]
        thread.join(5)
