"""Commands over MQTT: decode ``cmd/<name>``, run it through the one command
table, answer on ``cmd/result``.

paho calls :meth:`RemoteCommands.received` on its network thread; the command
is handed to the loop, where the table runs. A bad command (not JSON, wrong
schema, over 64 KiB, a retained message, too many in a burst) is refused with one line on
``cmd/result`` and in the log, and changes nothing.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from earmark.commands import CommandError, Commands, Reply
from earmark.errors import EarmarkError
from earmark.payloads import MAX_COMMAND_BYTES, SCHEMA

log = logging.getLogger(__name__)

OnLoop = Callable[..., None]
Publish = Callable[[str, bytes], object]


class Burst:
    """A token bucket per command: ``rate`` a second, bursts up to ``capacity``."""

    def __init__(self, rate: float = 5.0, capacity: float = 10.0) -> None:
        self.rate = rate
        self.capacity = capacity
        self._tokens: dict[str, tuple[float, float]] = {}

    def allow(self, name: str, now: float | None = None) -> bool:
        now = time.monotonic() if now is None else now
        tokens, then = self._tokens.get(name, (self.capacity, now))
        tokens = min(self.capacity, tokens + (now - then) * self.rate)
        allowed = tokens >= 1.0
        self._tokens[name] = (tokens - 1.0 if allowed else tokens, now)
        return allowed


class RemoteCommands:
    def __init__(
        self, commands: Commands, publish: Publish, on_loop: OnLoop, burst: Burst | None = None
    ) -> None:
        self.commands = commands
        self.publish = publish
        self.on_loop = on_loop
        self.burst = burst or Burst()
        self._pending: set[asyncio.Future[None]] = set()

    def received(self, name: str, payload: bytes, retained: bool = False) -> None:
        """paho's thread: hand over to the loop."""
        self.on_loop(self.run, name, payload, retained)

    def run(self, name: str, payload: bytes, retained: bool = False) -> None:
        request_id: Any = None
        try:
            args = decode(payload)
            request_id = args.pop("id", None)
            if retained:
                raise CommandError(
                    "a retained command is never run (it would replay on every reconnect); "
                    "publish commands without the retain flag"
                )
            if not self.burst.allow(name):
                raise CommandError(f"too many '{name}' commands at once; try again in a second")
            result = self.commands.run(name, args, "mqtt")
        except EarmarkError as exc:
            log.warning("mqtt command refused cmd=%s: %s", name, exc)
            result = {"ok": False, "error": str(exc)}
        if inspect.isawaitable(result):
            # a command that reaches the network (subscribe, refresh) answers when done
            task = asyncio.ensure_future(self._later(name, request_id, result))
            self._pending.add(task)  # held until done: the loop keeps weak references
            task.add_done_callback(self._pending.discard)
            return
        self._answer(name, request_id, result)

    async def _later(self, name: str, request_id: Any, pending: Awaitable[Reply]) -> None:
        try:
            result = await pending
        except EarmarkError as exc:
            log.warning("mqtt command failed cmd=%s: %s", name, exc)
            result = {"ok": False, "error": str(exc)}
        self._answer(name, request_id, result)

    def _answer(self, name: str, request_id: Any, result: Reply) -> None:
        answer = {"schema": SCHEMA, "command": name, **result}
        if request_id is not None:
            answer["id"] = request_id
        self.publish("cmd/result", json.dumps(answer).encode())


def decode(payload: bytes) -> dict[str, Any]:
    if len(payload) > MAX_COMMAND_BYTES:
        raise CommandError(
            f"the payload is {len(payload):,} bytes; a command is at most {MAX_COMMAND_BYTES:,}"
        )
    try:
        args = json.loads(payload) if payload.strip() else {}
    except ValueError as exc:
        raise CommandError(f"the payload is not JSON: {exc}") from None
    if not isinstance(args, dict):
        raise CommandError("the payload must be a JSON object")
    if args.pop("schema", SCHEMA) != SCHEMA:
        raise CommandError(f"schema is not {SCHEMA}")
    return args
