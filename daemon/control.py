"""The local control channel: a unix socket speaking one JSON object per line.

``earmark snip`` / ``status`` / ``jobs`` talk to the running daemon through it.
Request: {"command": "snip", ...args}. Reply: {"ok": true, ...} or
{"ok": false, "error": "one line"}.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import socket
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from earmark.errors import EarmarkError, NotRunningError

log = logging.getLogger(__name__)

# how long a stop waits for the requests being answered
STOP_WAIT = 2.0

Handler = Callable[[str, dict[str, Any]], Awaitable[dict[str, Any]]]


class AlreadyRunningError(EarmarkError):
    exit_code = 3


class ControlServer:
    def __init__(self, path: Path, handler: Handler) -> None:
        self.path = path
        self.handler = handler
        self._server: asyncio.AbstractServer | None = None
        self._stopping = False
        self._serving: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        if self.path.exists():
            if _answers(self.path):
                raise AlreadyRunningError(
                    f"another earmark is already running (control socket {self.path})"
                )
            self.path.unlink()  # left behind by a killed daemon
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._server = await asyncio.start_unix_server(self._serve, path=str(self.path))
        os.chmod(self.path, 0o660)

    async def stop(self) -> None:
        if self._server is None:
            return  # never started: the socket there (if any) is not ours
        self._stopping = True
        self._server.close()
        # a request being answered finishes before the store it reads is closed;
        # one still being read is refused (Python 3.11's wait_closed waits for neither)
        if self._serving:
            _, late = await asyncio.wait(self._serving, timeout=STOP_WAIT)
            for task in late:
                task.cancel()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._server.wait_closed(), 1)
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._serving.add(task)
        try:
            line = await asyncio.wait_for(reader.readline(), 10)
            try:
                if self._stopping:
                    raise EarmarkError("earmark is stopping; the command was not run")
                request = json.loads(line)
                if not isinstance(request, dict) or not isinstance(request.get("command"), str):
                    raise ValueError('expected {"command": "..."}')
                command = request.pop("command")
                expires_at = request.pop("expires_at", None)
                if isinstance(expires_at, (int, float)) and time.time() > expires_at:
                    # the CLI has stopped waiting and told its user so: never run it late
                    log.warning(
                        "control command dropped cmd=%s: it came after its deadline", command
                    )
                    reply = {"ok": False, "error": "the command came too late and was not run"}
                else:
                    reply = await self.handler(command, request)
            except ValueError as exc:
                reply = {"ok": False, "error": f"bad request: {exc}"}
            except EarmarkError as exc:
                reply = {"ok": False, "error": str(exc)}
            writer.write(json.dumps(reply).encode() + b"\n")
            await writer.drain()
        except (TimeoutError, ConnectionError):
            pass
        except Exception:
            log.exception("control request failed")
        finally:
            writer.close()
            self._serving.discard(task)


def _answers(path: Path) -> bool:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(1)
        try:
            s.connect(str(path))
            return True
        except OSError:
            return False


def request(path: Path, command: str, timeout: float = 10.0, **args: Any) -> dict[str, Any]:
    """Send one command to the running daemon and return its reply."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(timeout)
        try:
            s.connect(str(path))
        except (FileNotFoundError, ConnectionRefusedError):
            raise NotRunningError(
                f"earmark is not running (no daemon on {path}); start it with `earmark run`"
            ) from None
        except PermissionError:
            raise NotRunningError(
                f"cannot reach the daemon on {path}: permission denied (join the earmark group)"
            ) from None
        # the daemon drops the command if it reaches it after we stopped waiting
        expires_at = time.time() + timeout
        s.sendall(
            json.dumps({"command": command, "expires_at": expires_at, **args}).encode() + b"\n"
        )
        data = b""
        try:
            while not data.endswith(b"\n"):
                chunk = s.recv(65536)
                if not chunk:
                    break
                data += chunk
        except TimeoutError:
            raise NotRunningError(
                f"the daemon on {path} did not answer within {timeout:g}s; it runs the command "
                "only if it had started it by then (see `earmark status`)"
            ) from None
    if not data:
        raise NotRunningError(f"the daemon on {path} closed the connection without answering")
    reply: dict[str, Any] = json.loads(data)
    return reply
