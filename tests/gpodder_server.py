"""A local gPodder server for the tests: the subset of the gPodder API v2 that
gpodder.net serves and the Nextcloud "GPodder Sync" app's endpoints, on one
port, over one store (see ``earmark.sync.gpodder`` for where the contract comes
from).

It validates what the documented contract lets it: HTTP Basic (or the
``sessionid`` cookie the gpodder.net login sets) with 401 otherwise, the user
in the path, device ids, a registered device for the subscriptions GET (404),
bodies (400 when not JSON or of the wrong shape, a URL both added and removed,
an unknown action, a ``play`` without ``started``/``position``/``total``, a
timestamp with a zone), ``since`` (400 when not an integer).

Its timestamps are whole seconds that strictly increase with each change, and
``since`` returns what changed after it: the documented "changes since this
timestamp". The real servers differ in corners: mygpo filters episode actions
by the action's own time (``>=``) and Nextcloud by it (``>``); both would lose
or repeat a change made in the same second, which this double does not mimic.
All of a user's devices see each other's subscription changes, as after
"synchronise devices" on gpodder.net. Nextcloud keeps one action per episode
and only ``play``; so does this double under the Nextcloud paths.
"""

from __future__ import annotations

import base64
import json
import re
import secrets
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

ACTIONS = ("download", "delete", "play", "new", "flattr")
DEVICE_TYPES = ("desktop", "laptop", "mobile", "server", "other")
NEXTCLOUD = "/index.php/apps/gpoddersync"
_USER, _DEVICE = r"(?P<user>[\w.+-]+)", r"(?P<device>[\w.-]+)"
ROUTES = [
    (re.compile(rf"/api/2/auth/{_USER}/login\.json"), "login"),
    (re.compile(rf"/api/2/devices/{_USER}/{_DEVICE}\.json"), "device"),
    (re.compile(rf"/api/2/subscriptions/{_USER}/{_DEVICE}\.json"), "subscriptions"),
    (re.compile(rf"/api/2/episodes/{_USER}\.json"), "episodes"),
    (re.compile(rf"{NEXTCLOUD}/subscriptions"), "nc_subscriptions"),
    (re.compile(rf"{NEXTCLOUD}/subscription_change/create"), "nc_subscription_change"),
    (re.compile(rf"{NEXTCLOUD}/episode_action"), "nc_episodes"),
    (re.compile(rf"{NEXTCLOUD}/episode_action/create"), "nc_episode_change"),
]
_NAIVE_ISO = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?")


class Refused(Exception):
    """Answer the request with this status and message."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Received:
    """One request as the server saw it (never the credentials)."""

    method: str
    path: str
    query: dict[str, str]
    body: Any
    user_agent: str
    status: int


@dataclass(frozen=True)
class SubscriptionChange:
    stamp: int
    device: str | None
    url: str
    subscribed: bool


class GpodderServer:
    """Start with ``with GpodderServer({"alice": "secret"}) as server:``."""

    def __init__(
        self,
        users: dict[str, str],
        rate_limit: int | None = None,
        window: float = 60.0,
        retry_after: int = 7,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.users = dict(users)
        self.rate_limit, self.window, self.retry_after = rate_limit, window, retry_after
        self.received: list[Received] = []
        self._subscriptions: dict[str, list[SubscriptionChange]] = {}
        self._actions: dict[str, list[tuple[int, dict[str, Any]]]] = {}
        self._devices: dict[str, dict[str, dict[str, str]]] = {}
        self._sessions: dict[str, str] = {}
        self._canned: list[tuple[int, bytes]] = []
        self._window_start, self._in_window = time.monotonic(), 0
        self._last = int(time.time())
        self._lock = threading.RLock()
        server = self

        class Handler(_Handler):
            gpodder = server

        self._httpd = ThreadingHTTPServer((host, port), Handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    def __enter__(self) -> GpodderServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._httpd.server_address[1]}"

    # -- what tests do -------------------------------------------------------

    def phone_play(
        self,
        user: str,
        podcast: str,
        episode: str,
        position: int,
        total: int,
        when: datetime,
        guid: str | None = None,
        device: str = "phone",
    ) -> None:
        """A play action uploaded by the listener's phone."""
        action = {
            "podcast": podcast,
            "episode": episode,
            "action": "play",
            "timestamp": when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S"),
            "started": 0,
            "position": position,
            "total": total,
            "device": device,
        }
        if guid:
            action["guid"] = guid
        with self._lock:
            self._store_actions(user, [action], replace=False)

    def phone_subscriptions(
        self, user: str, add: tuple[str, ...] = (), remove: tuple[str, ...] = ()
    ) -> None:
        """Subscription changes made on the listener's phone."""
        with self._lock:
            self._store_subscriptions(user, "phone", list(add), list(remove))

    def subscribed(self, user: str) -> set[str]:
        """The feeds the user is subscribed to now."""
        with self._lock:
            state: dict[str, bool] = {}
            for change in self._subscriptions.get(user, []):
                state[change.url] = change.subscribed
        return {url for url, on in state.items() if on}

    def actions(self, user: str) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(action) for _, action in self._actions.get(user, [])]

    def devices(self, user: str) -> dict[str, dict[str, str]]:
        with self._lock:
            return dict(self._devices.get(user, {}))

    def answer_next(self, body: bytes, status: int = 200) -> None:
        """Answer the next authenticated request with this body, whatever it asked."""
        with self._lock:
            self._canned.append((status, body))

    def reset_rate_limit(self) -> None:
        """Start a new rate-limit window now."""
        with self._lock:
            self._window_start, self._in_window = time.monotonic(), 0

    # -- the store -------------------------------------------------------------

    def _tick(self) -> int:
        self._last = max(int(time.time()), self._last + 1)
        return self._last

    def _store_subscriptions(
        self, user: str, device: str | None, add: list[str], remove: list[str]
    ) -> int:
        stamp = self._tick()
        history = self._subscriptions.setdefault(user, [])
        history += [SubscriptionChange(stamp, device, url, True) for url in add]
        history += [SubscriptionChange(stamp, device, url, False) for url in remove]
        return stamp

    def _changes_since(self, user: str, since: int) -> dict[str, Any]:
        state: dict[str, bool] = {}
        for change in self._subscriptions.get(user, []):
            if change.stamp > since:
                state[change.url] = change.subscribed
        return {
            "add": [url for url, on in state.items() if on],
            "remove": [url for url, on in state.items() if not on],
            "timestamp": self._last,
        }

    def _store_actions(self, user: str, actions: list[dict[str, Any]], replace: bool) -> int:
        stamp = self._tick()
        stored = self._actions.setdefault(user, [])
        for action in actions:
            if replace:  # Nextcloud updates the episode's row
                stored[:] = [(s, a) for s, a in stored if a["episode"] != action["episode"]]
            stored.append((stamp, dict(action)))
        return stamp

    def _rate_limited(self) -> bool:
        if self.rate_limit is None:
            return False
        if time.monotonic() - self._window_start > self.window:
            self.reset_rate_limit()
        self._in_window += 1
        return self._in_window > self.rate_limit

    # -- the endpoints -----------------------------------------------------------

    def handle(self, handler: _Handler, method: str) -> tuple[int, dict[str, str], bytes]:
        parts = urlsplit(handler.path)
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        raw = handler.rfile.read(int(handler.headers.get("Content-Length") or 0))
        try:
            body: Any = json.loads(raw) if raw else None
        except ValueError:
            body = Refused(400, "the body is not JSON")
        headers: dict[str, str] = {}
        with self._lock:
            try:
                status, answer = self._route(handler, method, parts.path, query, body, headers)
            except Refused as refused:
                status, answer = refused.status, str(refused).encode()
                if status == 401:
                    headers["WWW-Authenticate"] = 'Basic realm="gpodder"'
                if status == 429:
                    headers["Retry-After"] = str(self.retry_after)
            agent = handler.headers.get("User-Agent", "")
            seen = None if isinstance(body, Refused) else body
            self.received.append(Received(method, parts.path, query, seen, agent, status))
        return status, headers, answer

    def _route(
        self,
        handler: _Handler,
        method: str,
        path: str,
        query: dict[str, str],
        body: Any,
        headers: dict[str, str],
    ) -> tuple[int, bytes]:
        if self._rate_limited():
            raise Refused(429, "too many requests")
        found = [(m, name) for pattern, name in ROUTES if (m := pattern.fullmatch(path))]
        if not found:
            raise Refused(404, f"no such endpoint {path}")
        match, name = found[0]
        user = self._authenticate(handler, match.groupdict().get("user"))
        if self._canned:
            return self._canned.pop(0)
        if isinstance(body, Refused):
            raise body
        since = _since(query) if method == "GET" else 0
        device = match.groupdict().get("device")
        endpoint = (name, method)
        if endpoint == ("login", "POST"):
            token = secrets.token_hex(8)
            self._sessions[token] = user
            headers["Set-Cookie"] = f"sessionid={token}; Path=/; HttpOnly"
            return 200, b""
        if endpoint == ("device", "POST"):
            self._register(user, device or "", body)
            return 200, b""
        if endpoint == ("subscriptions", "GET"):
            if device not in self._devices.get(user, {}):
                raise Refused(404, f"no device {device}")
            return 200, _json(self._changes_since(user, since))
        if endpoint == ("subscriptions", "POST"):
            add, remove = _subscription_body(body, both_required=False)
            self._devices.setdefault(user, {}).setdefault(device or "", {"type": "other"})
            renamed = [[u, u.strip()] for u in add + remove if u != u.strip()]
            stamp = self._store_subscriptions(
                user, device, [u.strip() for u in add], [u.strip() for u in remove]
            )
            return 200, _json({"timestamp": stamp, "update_urls": renamed})
        if endpoint == ("nc_subscriptions", "GET"):
            return 200, _json(self._changes_since(user, since))
        if endpoint == ("nc_subscription_change", "POST"):
            add, remove = _subscription_body(body, both_required=True)
            return 200, _json({"timestamp": self._store_subscriptions(user, None, add, remove)})
        if endpoint == ("episodes", "GET"):
            actions = [a for s, a in self._actions.get(user, []) if s > since]
            return 200, _json(
                {"actions": [_as_gpodder(a) for a in actions], "timestamp": self._last}
            )
        if endpoint == ("episodes", "POST"):
            actions = _action_list(body, nextcloud=False)
            stamp = self._store_actions(user, actions, replace=False)
            return 200, _json({"timestamp": stamp, "update_urls": []})
        if endpoint == ("nc_episodes", "GET"):
            actions = [a for s, a in self._actions.get(user, []) if s > since]
            return 200, _json(
                {"actions": [_as_nextcloud(a) for a in actions], "timestamp": self._last}
            )
        if endpoint == ("nc_episode_change", "POST"):
            plays = [a for a in _action_list(body, nextcloud=True) if a["action"] == "play"]
            return 200, _json({"timestamp": self._store_actions(user, plays, True)})
        raise Refused(405, f"{method} not allowed on {path}")

    def _authenticate(self, handler: _Handler, path_user: str | None) -> str:
        user = None
        scheme, _, token = (handler.headers.get("Authorization") or "").partition(" ")
        if scheme == "Basic":
            name, _, password = base64.b64decode(token).decode().partition(":")
            if name in self.users and self.users[name] == password:
                user = name
        cookie = re.search(r"sessionid=(\w+)", handler.headers.get("Cookie") or "")
        if user is None and cookie and path_user is not None:
            user = self._sessions.get(cookie.group(1))
        if user is None or (path_user is not None and path_user != user):
            raise Refused(401, "unauthorized")
        return user

    def _register(self, user: str, device: str, body: Any) -> None:
        if not isinstance(body, dict):
            raise Refused(400, "device data must be an object")
        if "caption" in body and not body["caption"]:
            raise Refused(400, "caption must not be empty")
        if "type" in body and body["type"] not in DEVICE_TYPES:
            raise Refused(400, f"invalid device type {body['type']}")
        entry = self._devices.setdefault(user, {}).setdefault(device, {"type": "other"})
        entry.update({k: str(body[k]) for k in ("caption", "type") if k in body})


class _Handler(BaseHTTPRequestHandler):
    gpodder: GpodderServer

    def do_GET(self) -> None:
        self._answer("GET")

    def do_POST(self) -> None:
        self._answer("POST")

    def _answer(self, method: str) -> None:
        status, headers, body = self.gpodder.handle(self, method)
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


def _json(value: Any) -> bytes:
    return json.dumps(value).encode()


def _since(query: dict[str, str]) -> int:
    try:
        return int(query.get("since") or 0)
    except ValueError:
        raise Refused(400, "since-value is not a valid timestamp") from None


def _subscription_body(body: Any, both_required: bool) -> tuple[list[str], list[str]]:
    if not isinstance(body, dict):
        raise Refused(400, "subscription changes must be an object")
    if both_required and not ("add" in body and "remove" in body):
        raise Refused(400, "add and remove are required")
    add, remove = body.get("add", []), body.get("remove", [])
    for urls in (add, remove):
        if not isinstance(urls, list) or not all(isinstance(u, str) for u in urls):
            raise Refused(400, "add and remove must be lists of URLs")
    both = set(add) & set(remove)
    if both:
        raise Refused(400, f"can not add and remove {sorted(both)} at the same time")
    return add, remove


def _action_list(body: Any, nextcloud: bool) -> list[dict[str, Any]]:
    if not isinstance(body, list):
        raise Refused(400, "episode actions must be a list")
    required = ("podcast", "episode", "action") + (("timestamp",) if nextcloud else ())
    actions = []
    for action in body:
        if not isinstance(action, dict):
            raise Refused(400, "an episode action must be an object")
        missing = [key for key in required if not action.get(key)]
        if missing:
            raise Refused(400, f"episode action without {missing}")
        kind = str(action["action"]).lower() if nextcloud else action["action"]
        if kind not in ACTIONS:
            raise Refused(400, f"invalid action {action['action']}")
        stamp = action.get("timestamp")
        if stamp is not None and not (isinstance(stamp, str) and _NAIVE_ISO.fullmatch(stamp)):
            raise Refused(400, f"timestamp {stamp!r} is not UTC ISO 8601 without a zone")
        if kind == "play":
            numbers = [action.get(key) for key in ("started", "position", "total")]
            if not all(isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in numbers):
                raise Refused(400, "a play action needs started, position and total in seconds")
        device = action.get("device")
        if device is not None and not (isinstance(device, str) and re.fullmatch(_DEVICE, device)):
            raise Refused(400, f"invalid device id {device!r}")
        if "timestamp" not in action:
            action = {**action, "timestamp": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S")}
        actions.append({**action, "action": kind})
    return actions


def _as_gpodder(action: dict[str, Any]) -> dict[str, Any]:
    """As mygpo's ``episode_action_json``: guid always present."""
    keys = ["podcast", "episode", "action", "timestamp", "device"]
    if action["action"] == "play":
        keys += ["started", "position", "total"]
    return {"guid": action.get("guid"), **{k: action[k] for k in keys if k in action}}


def _as_nextcloud(action: dict[str, Any]) -> dict[str, Any]:
    """As Nextcloud's ``EpisodeAction::toArray``: upper-case action, -1 when absent."""
    numbers = {k: action.get(k, -1) for k in ("started", "position", "total")}
    return {
        "podcast": action["podcast"],
        "episode": action["episode"],
        "timestamp": action["timestamp"],
        "guid": action.get("guid"),
        **numbers,
        "action": action["action"].upper(),
    }
