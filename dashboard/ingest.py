"""The dashboard's one link to the broker (the only module that imports paho).

It hears every speaker under ``<prefix>/+/``: highlights (each version), clips,
state, online status, episode key points and command results. Every payload
is checked against the shared schema and a bad one is dropped with one log
line. The session is persistent (clean start off, a week's expiry), so the
broker keeps what arrives while the dashboard is away; on every connect, and
whenever a speaker comes online, the dashboard also asks that speaker to
``resync`` what changed since the newest version it holds.

Controls go the other way: ``cmd/<name>`` with an ``id`` that the speaker's
answer on ``cmd/result`` echoes.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import re
import socket
import ssl
import threading
import uuid
from typing import Any

import paho.mqtt.client as paho
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from earmark.dashboard.hub import BrokerChanged, HighlightChanged, Hub, SpeakerChanged
from earmark.dashboard.schema import PayloadError, parse
from earmark.dashboard.settings import Settings
from earmark.dashboard.store import Mirror
from earmark.payloads import (
    SCHEMA,
    CommandError,
    EpisodePayload,
    ExportsPayload,
    HighlightPayload,
    StatePayload,
    check_command,
)

log = logging.getLogger(__name__)

# ids that go into URLs and element ids: what speakers write, nothing else
NAME = re.compile(r"[A-Za-z0-9_.-]{1,64}")
MAX_CLIP_BYTES = 16 * 1024 * 1024
SESSION_SECONDS = 7 * 24 * 3600
STATUSES = {"pending", "clipped", "transcribed", "done", "failed"}


class Ingest:
    def __init__(self, settings: Settings, mirror: Mirror, hub: Hub) -> None:
        self.settings = settings
        self.mirror = mirror
        self.hub = hub
        self.prefix = settings.topic_prefix
        self.connected = False
        self.problem: str | None = "connecting to the broker"
        self._stopping = False
        self._asked: set[str] = set()  # speakers asked to resync on this connection
        self._waiting: dict[str, tuple[asyncio.AbstractEventLoop, asyncio.Future[dict]]] = {}
        self._lock = threading.Lock()
        self.client = _client(settings, client_id(settings))
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.on_connect_fail = self._on_connect_fail
        self.client.on_message = self._on_message
        self.client.on_subscribe = self._on_subscribe
        self.client.reconnect_delay_set(1, 30)

    def start(self) -> None:
        b = self.settings.broker
        expiry = Properties(PacketTypes.CONNECT)
        expiry.SessionExpiryInterval = SESSION_SECONDS
        self.client.connect_async(b.host, b.port, b.keepalive, clean_start=False, properties=expiry)
        self.client.loop_start()

    def stop(self) -> None:
        self._stopping = True
        self.client.disconnect()
        self.client.loop_stop()

    # -- the broker's side -----------------------------------------------------

    def _on_connect(
        self, client: paho.Client, userdata: Any, flags: Any, reason: Any, props: Any
    ) -> None:
        if reason.is_failure:
            self._lost(f"the broker refused the dashboard: {reason}")
            return
        self._asked.clear()
        topics = ("highlight", "clip/+", "state", "status", "episode/+", "exports", "cmd/result")
        client.subscribe([(f"{self.prefix}/+/{relative}", 1) for relative in topics])

    def _on_subscribe(
        self, client: paho.Client, userdata: Any, mid: int, codes: list[Any], props: Any
    ) -> None:
        # connected means subscribed: what is published from now on is heard
        refused = [str(code) for code in codes if code.is_failure]
        if refused:
            self._lost(f"the broker refused the dashboard's subscriptions ({', '.join(refused)})")
            return
        log.info(
            "dashboard connected to the broker %s:%s",
            self.settings.broker.host,
            self.settings.broker.port,
        )
        self.connected, self.problem = True, None
        self.hub.tell(BrokerChanged(True, None))

    def _on_disconnect(
        self, client: paho.Client, userdata: Any, flags: Any, reason: Any, props: Any
    ) -> None:
        if not self._stopping:
            self._lost(f"lost the broker ({reason}); trying again")

    def _on_connect_fail(self, client: paho.Client, userdata: Any) -> None:
        b = self.settings.broker
        self._lost(f"cannot reach the broker at {b.host}:{b.port}; trying again")

    def _lost(self, problem: str) -> None:
        if self.problem != problem:
            log.warning("dashboard: %s", problem)
        self.connected, self.problem = False, problem
        self.hub.tell(BrokerChanged(False, problem))

    def _on_message(self, client: paho.Client, userdata: Any, message: paho.MQTTMessage) -> None:
        try:
            self.receive(message.topic, bytes(message.payload))
        except PayloadError as exc:
            log.warning("dropped %s: %s", message.topic[:200], exc)
        except Exception:  # noqa: BLE001 - paho's thread must go on hearing the rest
            log.exception("could not take %s", message.topic[:200])

    def receive(self, topic: str, payload: bytes) -> None:
        parts = topic.split("/")
        base = len(self.prefix.split("/"))
        if len(parts) < base + 2:
            return
        device, kind, rest = parts[base], parts[base + 1], parts[base + 2 :]
        if not NAME.fullmatch(device):
            raise PayloadError(f"'{device[:40]}' is not a speaker id")
        if kind == "highlight":
            self._highlight(device, parse(HighlightPayload, payload))
        elif kind == "clip" and len(rest) == 1:
            self._clip(device, rest[0], payload)
        elif kind == "state":
            self.mirror.set_state(device, parse(StatePayload, payload))
            self.hub.tell(SpeakerChanged(device))
        elif kind == "status":
            self._status(device, payload)
        elif kind == "exports":
            exports = parse(ExportsPayload, payload)
            if exports.device_id != device:
                raise PayloadError(f"exports from {device} name another speaker")
            self.mirror.set_exports(exports)
            self.hub.tell(SpeakerChanged(device))
        elif kind == "episode" and len(rest) == 1:
            points = parse(EpisodePayload, payload)
            if points.device_id != device:
                raise PayloadError(f"key points from {device} name another speaker")
            self.mirror.set_key_points(points)
        elif kind == "cmd" and rest == ["result"]:
            self._result(payload)

    def _highlight(self, device: str, h: HighlightPayload) -> None:
        if h.device_id != device:
            raise PayloadError(f"a highlight on {device}'s topic names {h.device_id[:40]}")
        if not NAME.fullmatch(h.id):
            raise PayloadError(f"'{h.id[:40]}' is not a highlight id")
        if h.status not in STATUSES:
            raise PayloadError(
                f"status '{h.status[:40]}' is not one of {', '.join(sorted(STATUSES))}"
            )
        outcome = self.mirror.apply(h)
        if outcome == "stale":
            return
        stored = self.mirror.highlight(h.id)
        if stored is not None:
            self.hub.tell(HighlightChanged(stored, new=outcome == "new"))

    def _clip(self, device: str, highlight_id: str, data: bytes) -> None:
        if not NAME.fullmatch(highlight_id):
            raise PayloadError(f"'{highlight_id[:40]}' is not a highlight id")
        if not data or len(data) > MAX_CLIP_BYTES:
            raise PayloadError(f"a clip of {len(data):,} bytes (at most {MAX_CLIP_BYTES:,})")
        if not data.startswith(b"OggS"):
            raise PayloadError("a clip that is not Ogg audio")
        self.mirror.add_clip(highlight_id, device, data)
        stored = self.mirror.highlight(highlight_id)
        if stored is not None:
            self.hub.tell(HighlightChanged(stored, new=False))

    def _status(self, device: str, payload: bytes) -> None:
        if payload not in (b"online", b"offline"):
            raise PayloadError(f"status {payload[:40]!r} is neither online nor offline")
        online = payload == b"online"
        self.mirror.set_online(device, online)
        # each speaker's retained status arrives on every connect, and again
        # whenever it comes back: both are when it may hold versions we missed
        if not online:
            self._asked.discard(device)
        elif device not in self._asked:
            self._resync(device)
        self.hub.tell(SpeakerChanged(device))

    def _resync(self, device: str) -> None:
        """Ask ``device`` for every version newer than the newest held."""
        self._asked.add(device)
        since = self.mirror.last_update(device)
        args = {"since": since} if since else {}
        self._publish(device, "resync", args)
        log.info("asked %s to resync since %s", device, since or "the start")

    # -- controls ----------------------------------------------------------------

    async def command(self, device: str, name: str, args: dict[str, Any]) -> dict[str, Any]:
        """Send ``name`` to ``device``; its answer, or one that says why there is none."""
        try:
            check_command(name, args)
        except CommandError as exc:
            return {"ok": False, "error": str(exc)}
        if not NAME.fullmatch(device):
            return {"ok": False, "error": f"no speaker '{device[:40]}'"}
        if not self.connected:
            return {"ok": False, "error": self.problem or "the broker is away"}
        loop = asyncio.get_running_loop()
        answer: asyncio.Future[dict] = loop.create_future()
        request = uuid.uuid4().hex
        with self._lock:
            self._waiting[request] = (loop, answer)
        try:
            self._publish(device, name, {**args, "id": request})
            return await asyncio.wait_for(answer, self.settings.command_timeout)
        except TimeoutError:
            seconds = self.settings.command_timeout
            return {"ok": False, "error": f"{device} did not answer within {seconds:g} s"}
        finally:
            with self._lock:
                self._waiting.pop(request, None)

    def _result(self, payload: bytes) -> None:
        try:
            answer = json.loads(payload)
        except ValueError as exc:
            raise PayloadError(f"a command result that is not JSON ({exc})") from None
        if not isinstance(answer, dict) or answer.get("schema") != SCHEMA:
            raise PayloadError("a command result that is not an object of this schema")
        with self._lock:
            waiting = self._waiting.get(str(answer.get("id")))
        if waiting is not None:
            loop, future = waiting
            loop.call_soon_threadsafe(_settle, future, answer)

    def _publish(self, device: str, name: str, args: dict[str, Any]) -> None:
        topic = f"{self.prefix}/{device}/cmd/{name}"
        self.client.publish(topic, json.dumps(args).encode(), qos=1)


def _settle(future: asyncio.Future[dict], answer: dict) -> None:
    if not future.done():
        future.set_result(answer)


def client_id(settings: Settings) -> str:
    """The dashboard's MQTT client id, named for its host and its store: the same
    at every restart (the broker keeps its session, and what arrives meanwhile,
    for it) and its own (two dashboards sharing an id would take the session from
    each other, again and again, each hearing half of what is sent)."""
    store = hashlib.sha256(str(settings.database_path.resolve()).encode()).hexdigest()[:8]
    return f"earmark-dashboard-{socket.gethostname()}-{store}"


def _client(settings: Settings, client_id: str) -> paho.Client:
    client = paho.Client(
        paho.CallbackAPIVersion.VERSION2, client_id=client_id, protocol=paho.MQTTv5
    )
    b = settings.broker
    if b.username:
        client.username_pw_set(b.username, b.password)
    if b.tls:
        client.tls_set(
            ca_certs=b.ca_file,
            certfile=b.client_cert,
            keyfile=b.client_key,
            cert_reqs=ssl.CERT_REQUIRED,
        )
    return client
