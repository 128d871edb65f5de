"""gPodder sync: subscriptions and play positions shared with the listener's
gPodder account, so an episode stopped on the phone (AntennaPod, Kasts,
gPodder) continues on the speaker at the same second, and the other way round.

Two servers speak the same JSON with different paths, and both are supported:

* ``gpodder`` — the gPodder API v2 as gpodder.net serves it. Contract from
  gpodder/mygpo ``doc/api/reference/{auth,devices,subscriptions,events}.rst``
  and its views (``mygpo/api/urls.py``, ``api/subscriptions.py``,
  ``api/advanced/__init__.py``): ``POST /api/2/auth/{user}/login.json`` (HTTP
  Basic, sets a ``sessionid`` cookie), ``POST /api/2/devices/{user}/{device}.json``
  (``caption``, ``type``; a device id matches ``[\\w.-]+``; the subscriptions GET
  of an unknown device is a 404), ``GET /api/2/subscriptions/{user}/{device}.json
  ?since=`` → ``{add, remove, timestamp}``, ``POST`` the same path with
  ``{add, remove}`` → ``{timestamp, update_urls}`` (400 when a URL is in both),
  ``GET /api/2/episodes/{user}.json?since=`` → ``{actions, timestamp}`` and
  ``POST`` a list of actions → ``{timestamp, update_urls}``. An action has
  ``podcast``, ``episode``, ``action`` (download, delete, play, new), ``guid``,
  ``device``, ``timestamp`` (UTC, ISO 8601 without a zone) and, for ``play``,
  ``started``/``position``/``total`` in whole seconds.
* ``nextcloud`` — the Nextcloud "GPodder Sync" app (thrillfall/nextcloud-gpodder
  ``appinfo/routes.php`` and ``lib/Controller``): under
  ``/index.php/apps/gpoddersync/``, ``GET subscriptions?since=`` → ``{add, remove,
  timestamp}``, ``POST subscription_change/create`` with ``{add, remove}``,
  ``GET episode_action?since=`` → ``{actions, timestamp}`` (``action`` comes back
  upper case, absent numbers as -1), ``POST episode_action/create`` with a list
  (it keeps only ``play``, requires ``timestamp``). No devices, no login call.

How a client uses them, and the rules kept here, follow AntennaPod
(``net/sync/gpoddernet/.../GpodnetService.java``, ``nextcloud/NextcloudSyncService
.java``, ``service/SyncService.java``, ``EpisodeAction.java``): download changes
first, apply them, then upload what changed here; a URL changed here since the
last sync beats the server's change of it; a ``play`` action counts only with a
``position`` (AntennaPod also wants ``started`` ≥ 0 and ``total`` > 0: we send
``started`` = ``position``, as where playback started is not kept); uploads go
in batches of 30. The server's ``update_urls`` are logged, not applied: the
library keeps its own feed URLs.

Where this differs from AntennaPod: the next ``since`` is the one the *download*
answered, not the upload's, so a phone's change uploaded between our download
and our upload is not lost; the price is that our own upload comes back once,
and it changes nothing (already subscribed; our position is as new as it).
"""

from __future__ import annotations

import base64
import json
import logging
import re
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from http.cookiejar import CookieJar
from typing import Any, Literal, Protocol

from earmark import __version__
from earmark.errors import EarmarkError

log = logging.getLogger(__name__)

Flavour = Literal["gpodder", "nextcloud"]
ACTIONS = ("download", "delete", "play", "new", "flattr")
NEXTCLOUD = "/index.php/apps/gpoddersync"
UPLOAD_BATCH = 30  # AntennaPod's UPLOAD_BULK_SIZE for Nextcloud; mygpo backgrounds big posts
DEFAULT_RETRY_AFTER = 60.0
_DEVICE_ID = re.compile(r"[\w.-]+\Z")
_WIRE_TIME = "%Y-%m-%dT%H:%M:%S"


class GpodderError(EarmarkError):
    """The gPodder server could not be reached, refused us or answered nonsense."""


class GpodderAuthError(GpodderError):
    """The server refused the username or password: retrying will not help."""


class GpodderBusy(GpodderError):
    """The server asked us to come back later (429, 503): wait ``retry_after`` seconds."""

    def __init__(self, message: str, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after


@dataclass(frozen=True)
class EpisodeAction:
    """One entry of the episode actions API, validated on the way in."""

    podcast: str
    episode: str
    action: str
    timestamp: datetime | None = None  # aware, UTC
    guid: str | None = None
    device: str | None = None
    started: int | None = None
    position: int | None = None
    total: int | None = None

    def to_wire(self) -> dict[str, Any]:
        wire: dict[str, Any] = {
            "podcast": self.podcast,
            "episode": self.episode,
            "action": self.action,
        }
        if self.guid:
            wire["guid"] = self.guid
        if self.device:
            wire["device"] = self.device
        if self.timestamp is not None:
            wire["timestamp"] = wire_time(self.timestamp)
        if self.action == "play":
            wire.update(started=self.started, position=self.position, total=self.total)
        return wire

    @classmethod
    def from_wire(cls, raw: object) -> EpisodeAction:
        """The action; ValueError says why it is not one we can use."""
        if not isinstance(raw, dict):
            raise ValueError("not an object")
        podcast, episode, action = raw.get("podcast"), raw.get("episode"), raw.get("action")
        if not (isinstance(podcast, str) and podcast and isinstance(episode, str) and episode):
            raise ValueError("no podcast or episode URL")
        if not isinstance(action, str) or action.lower() not in ACTIONS:
            raise ValueError("unknown action")
        stamp = raw.get("timestamp")
        when = parse_time(stamp) if isinstance(stamp, str) else None
        if stamp is not None and when is None:
            raise ValueError("unreadable timestamp")
        return cls(
            podcast,
            episode,
            action.lower(),
            when,
            _text(raw.get("guid")),
            _text(raw.get("device")),
            _seconds(raw.get("started")),
            _seconds(raw.get("position")),
            _seconds(raw.get("total")),
        )


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def _seconds(value: object) -> int | None:
    """Whole seconds, or None for absent or Nextcloud's -1."""
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        return None
    return int(value)


def wire_time(when: datetime) -> str:
    """UTC, ISO 8601 without a zone, as the API wants it."""
    return when.astimezone(UTC).strftime(_WIRE_TIME)


def parse_time(text: str) -> datetime | None:
    """An API timestamp as an aware UTC datetime; a zone-less one is UTC."""
    try:
        return _aware(datetime.fromisoformat(text))
    except ValueError:
        return None


def _aware(when: datetime) -> datetime:
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)


@dataclass(frozen=True)
class SubscriptionChanges:
    add: tuple[str, ...]
    remove: tuple[str, ...]
    timestamp: int


@dataclass(frozen=True)
class EpisodeActions:
    actions: tuple[EpisodeAction, ...]
    timestamp: int


class GpodderClient:
    """The HTTP calls of one account on one server, and nothing more."""

    def __init__(
        self,
        base_url: str,
        username: str,
        password: str,
        device_id: str,
        flavour: Flavour = "gpodder",
        timeout: float = 30.0,
    ) -> None:
        parts = urllib.parse.urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise GpodderError(
                f"gPodder sync: the server address {base_url!r} is not an http(s) URL"
            )
        if parts.username or parts.password:
            raise GpodderError(
                "gPodder sync: the server address holds credentials: give them as username "
                "and password instead"
            )
        if flavour not in ("gpodder", "nextcloud"):
            raise GpodderError(f"gPodder sync: unknown flavour {flavour!r}: gpodder or nextcloud")
        if not _DEVICE_ID.match(device_id):
            raise GpodderError(
                f"gPodder sync: device id {device_id!r} may hold only letters, digits, . _ and -"
            )
        self.base_url = base_url.rstrip("/")
        self.host = parts.netloc
        self.username = username
        self.device_id = device_id
        self.flavour: Flavour = flavour
        self.timeout = timeout
        token = base64.b64encode(f"{username}:{password}".encode()).decode("ascii")
        self.__authorization = f"Basic {token}"  # the only place the password lives
        self._opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(CookieJar()), _SameHostRedirects()
        )
        self._ready = False

    def __repr__(self) -> str:
        return (
            f"GpodderClient(base_url={self.base_url!r}, username={self.username!r}, "
            f"device_id={self.device_id!r}, flavour={self.flavour!r})"
        )

    def prepare(self, caption: str = "earmark speaker") -> None:
        """Log in and register this device (gpodder.net only; once per client)."""
        if self._ready or self.flavour == "nextcloud":
            return
        self._call("POST", f"/api/2/auth/{self._user}/login.json", body=b"", expect_json=False)
        self._call(
            "POST",
            f"/api/2/devices/{self._user}/{self.device_id}.json",
            body={"caption": caption, "type": "other"},
            expect_json=False,
        )
        self._ready = True

    def subscription_changes(self, since: int) -> SubscriptionChanges:
        answer = self._call("GET", self._subscriptions_path(), query={"since": since})
        add, remove = _url_list(answer, "add"), _url_list(answer, "remove")
        stamp = _timestamp(answer)
        if add is None or remove is None or stamp is None:
            raise self._malformed("GET", "subscription changes without add, remove and timestamp")
        return SubscriptionChanges(add, remove, stamp)

    def upload_subscription_changes(self, add: Sequence[str], remove: Sequence[str]) -> int | None:
        """Send the changes; the server's timestamp when it gave one."""
        path = (
            f"{NEXTCLOUD}/subscription_change/create"
            if self.flavour == "nextcloud"
            else self._subscriptions_path()
        )
        answer = self._call("POST", path, body={"add": list(add), "remove": list(remove)})
        renamed = answer.get("update_urls") if isinstance(answer, dict) else None
        if renamed:
            log.info("gpodder server rewrote feed urls pairs=%.500r (kept ours)", renamed)
        return _timestamp(answer)

    def episode_actions(self, since: int) -> EpisodeActions:
        path = (
            f"{NEXTCLOUD}/episode_action"
            if self.flavour == "nextcloud"
            else f"/api/2/episodes/{self._user}.json"
        )
        answer = self._call("GET", path, query={"since": since})
        raw = answer.get("actions") if isinstance(answer, dict) else None
        stamp = _timestamp(answer)
        if not isinstance(raw, list) or stamp is None:
            raise self._malformed("GET", "episode actions without actions and timestamp")
        actions = []
        for entry in raw:
            try:
                actions.append(EpisodeAction.from_wire(entry))
            except ValueError as exc:
                log.warning("gpodder action skipped reason=%s action=%.200r", exc, entry)
        return EpisodeActions(tuple(actions), stamp)

    def upload_episode_actions(self, actions: Sequence[EpisodeAction]) -> int | None:
        """Send the actions in batches; the last timestamp the server gave."""
        path = (
            f"{NEXTCLOUD}/episode_action/create"
            if self.flavour == "nextcloud"
            else f"/api/2/episodes/{self._user}.json"
        )
        stamp = None
        for start in range(0, len(actions), UPLOAD_BATCH):
            batch = [a.to_wire() for a in actions[start : start + UPLOAD_BATCH]]
            stamp = _timestamp(self._call("POST", path, body=batch)) or stamp
        return stamp

    @property
    def _user(self) -> str:
        return urllib.parse.quote(self.username, safe="")

    def _subscriptions_path(self) -> str:
        if self.flavour == "nextcloud":
            return f"{NEXTCLOUD}/subscriptions"
        return f"/api/2/subscriptions/{self._user}/{self.device_id}.json"

    def _call(
        self,
        method: str,
        path: str,
        query: dict[str, Any] | None = None,
        body: object = None,
        expect_json: bool = True,
    ) -> Any:
        url = self.base_url + path + (f"?{urllib.parse.urlencode(query)}" if query else "")
        data = body if isinstance(body, bytes) or body is None else json.dumps(body).encode()
        request = urllib.request.Request(url, data=data, method=method)
        request.add_header("Authorization", self.__authorization)
        request.add_header("User-Agent", f"earmark/{__version__} (gPodder sync)")
        request.add_header("Accept", "application/json")
        if data:
            request.add_header("Content-Type", "application/json")
        what = f"{method} {path}"
        try:
            with self._opener.open(request, timeout=self.timeout) as response:
                payload = response.read()
        except urllib.error.HTTPError as exc:
            raise self._refused(what, exc) from None
        except (urllib.error.URLError, OSError) as exc:
            reason = exc.reason if isinstance(exc, urllib.error.URLError) else exc
            if isinstance(reason, TimeoutError):
                reason = f"no answer within {self.timeout:g} s"
            raise GpodderError(
                f"gPodder sync: cannot reach {self.host} ({reason}): check the server address "
                "and the network"
            ) from None
        log.debug("gpodder request done method=%s path=%s bytes=%d", method, path, len(payload))
        if not expect_json:
            return None
        try:
            return json.loads(payload)
        except ValueError:
            raise self._malformed(method, f"not JSON ({payload[:40]!r})") from None

    def _refused(self, what: str, exc: urllib.error.HTTPError) -> GpodderError:
        code = exc.code
        if code == 401:
            return GpodderAuthError(
                f"gPodder sync: {self.host} refused the credentials of user {self.username!r} "
                "(HTTP 401): check the username and password (an app password on Nextcloud)"
            )
        if code in (429, 503):
            wait = retry_after(exc.headers.get("Retry-After"))
            return GpodderBusy(
                f"gPodder sync: {self.host} is busy (HTTP {code} to {what}): "
                f"trying again in {wait:g} s",
                wait,
            )
        try:
            detail = exc.read(200).decode("utf-8", "replace")
        except OSError:
            detail = ""
        detail = " ".join(detail.split())[:160]
        return GpodderError(
            f"gPodder sync: {self.host} answered HTTP {code} to {what}"
            + (f": {detail}" if detail else "")
        )

    def _malformed(self, method: str, what: str) -> GpodderError:
        return GpodderError(
            f"gPodder sync: {self.host} sent a malformed answer to {method} ({what}): "
            f"is it a {self.flavour} server?"
        )


class _SameHostRedirects(urllib.request.HTTPRedirectHandler):
    """Follow a redirect (http to https, a moved Nextcloud) without handing the
    credentials to another host."""

    def redirect_request(
        self, req: urllib.request.Request, fp: Any, code: int, msg: str, headers: Any, newurl: str
    ) -> urllib.request.Request | None:
        new = super().redirect_request(req, fp, code, msg, headers, newurl)
        if new is not None and urllib.parse.urlsplit(newurl).hostname != req.host.split(":")[0]:
            new.remove_header("Authorization")
        return new


def _url_list(answer: object, key: str) -> tuple[str, ...] | None:
    value = answer.get(key) if isinstance(answer, dict) else None
    if not isinstance(value, list) or not all(isinstance(u, str) for u in value):
        return None
    return tuple(value)


def _timestamp(answer: object) -> int | None:
    value = answer.get("timestamp") if isinstance(answer, dict) else None
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def retry_after(header: str | None, now: datetime | None = None) -> float:
    """Seconds to wait from a Retry-After header (seconds or an HTTP date)."""
    if not header:
        return DEFAULT_RETRY_AFTER
    header = header.strip()
    if header.isdigit():
        return float(header)
    try:
        when = parsedate_to_datetime(header)
    except (TypeError, ValueError):
        return DEFAULT_RETRY_AFTER
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


# -- the sync engine ---------------------------------------------------------


@dataclass(frozen=True)
class PlayPosition:
    """Where the listener stopped an episode, and when (both ways)."""

    feed_url: str
    media_url: str
    guid: str | None
    position: int  # seconds
    total: int  # seconds; 0 when unknown
    when: datetime  # aware


class GpodderLibrary(Protocol):
    """What the speaker's library offers gPodder sync."""

    def subscriptions(self) -> Iterable[str]:
        """The feed URLs subscribed to now."""
        ...

    def subscribe(self, feed_url: str) -> None: ...

    def unsubscribe(self, feed_url: str) -> None: ...

    def play_positions_since(self, since: datetime | None) -> Iterable[PlayPosition]:
        """The latest position of each episode whose position changed at or after
        ``since`` (every known position when None)."""
        ...

    def apply_play_position(self, position: PlayPosition) -> bool:
        """Move the episode found by media URL (or the guid hint) to the position,
        and keep ``position.when`` as the time of its position; False when no
        episode matched."""
        ...


@dataclass
class SyncState:
    """What one sync leaves for the next; the caller persists it (to_json)."""

    subscriptions_since: int = 0  # the server's timestamps
    actions_since: int = 0
    positions_since: datetime | None = None  # our clock: positions newer than this go up
    subscriptions: list[str] = field(default_factory=list)  # as of the last sync

    def to_json(self) -> str:
        data = asdict(self)
        data["positions_since"] = self.positions_since and self.positions_since.isoformat()
        return json.dumps({"schema": 1, **data})

    @classmethod
    def from_json(cls, text: str) -> SyncState:
        try:
            data = json.loads(text)
            if data.pop("schema") != 1:
                raise ValueError("unknown schema")
            since = data["positions_since"]
            state = cls(
                subscriptions_since=int(data["subscriptions_since"]),
                actions_since=int(data["actions_since"]),
                positions_since=_aware(datetime.fromisoformat(since)) if since else None,
                subscriptions=[str(url) for url in data["subscriptions"]],
            )
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise GpodderError(
                f"gPodder sync: the saved sync state is unreadable ({exc}): "
                "delete it to sync from the start"
            ) from None
        return state


@dataclass
class SyncReport:
    """What one run changed, here and on the server."""

    subscribed: list[str] = field(default_factory=list)  # from the server, applied here
    unsubscribed: list[str] = field(default_factory=list)
    uploaded_subscribed: list[str] = field(default_factory=list)
    uploaded_unsubscribed: list[str] = field(default_factory=list)
    positions_applied: list[PlayPosition] = field(default_factory=list)
    positions_unmatched: list[PlayPosition] = field(default_factory=list)
    positions_uploaded: list[PlayPosition] = field(default_factory=list)


class GpodderSync:
    """One account's subscriptions and play positions, kept in step both ways.

    ``state`` is updated in place after each half (subscriptions, then
    positions) succeeds, so a failure leaves the half that failed to be redone.
    """

    def __init__(
        self,
        client: GpodderClient,
        library: GpodderLibrary,
        state: SyncState,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.client = client
        self.library = library
        self.state = state
        self._clock = clock

    def run_once(self) -> SyncReport:
        report = SyncReport()
        self.client.prepare()
        self._sync_subscriptions(report)
        self._sync_positions(report)
        log.info(
            "gpodder sync done subscribed=%d unsubscribed=%d uploaded=+%d/-%d "
            "positions_applied=%d unmatched=%d positions_uploaded=%d",
            len(report.subscribed),
            len(report.unsubscribed),
            len(report.uploaded_subscribed),
            len(report.uploaded_unsubscribed),
            len(report.positions_applied),
            len(report.positions_unmatched),
            len(report.positions_uploaded),
        )
        return report

    def _sync_subscriptions(self, report: SyncReport) -> None:
        remote = self.client.subscription_changes(self.state.subscriptions_since)
        current = set(self.library.subscriptions())
        known = set(self.state.subscriptions)
        added_here, removed_here = current - known, known - current
        for url in remote.add:
            if url in current or url in removed_here or not _is_feed_url(url):
                continue  # ours, or removed here since: this speaker's change wins
            if self._change(self.library.subscribe, url):
                report.subscribed.append(url)
        for url in remote.remove:
            mine = url not in current or url in added_here or url in remote.add
            if not mine and self._change(self.library.unsubscribe, url):
                report.unsubscribed.append(url)
        up_add = sorted(added_here - set(remote.add))
        up_remove = sorted(removed_here - set(remote.remove))
        if up_add or up_remove:
            self.client.upload_subscription_changes(up_add, up_remove)
            report.uploaded_subscribed, report.uploaded_unsubscribed = up_add, up_remove
        self.state.subscriptions = sorted(self.library.subscriptions())
        self.state.subscriptions_since = remote.timestamp

    def _change(self, change: Callable[[str], None], url: str) -> bool:
        try:
            change(url)
        except EarmarkError as exc:
            log.warning("gpodder subscription change failed url=%s error=%s", url, exc)
            return False
        return True

    def _sync_positions(self, report: SyncReport) -> None:
        remote = self.client.episode_actions(self.state.actions_since)
        newest = _newest_plays(remote.actions)
        started = self._clock()
        since = self.state.positions_since
        look_back = since
        if since is not None and newest:
            # reach back to the oldest remote action, so a newer position here is seen
            look_back = min(since, *(p.when for p in newest))
        local = list(self.library.play_positions_since(look_back))
        beaten: set[int] = set()
        for theirs in newest:
            ours = _same_episode(local, theirs)
            if ours is not None and ours.when >= theirs.when:
                continue  # ours is as new or newer: it stays, and goes up
            if ours is not None:
                beaten.add(id(ours))
            if self.library.apply_play_position(theirs):
                report.positions_applied.append(theirs)
            else:
                report.positions_unmatched.append(theirs)
        upload = [p for p in local if id(p) not in beaten and (since is None or p.when >= since)]
        if upload:
            self.client.upload_episode_actions([self._play(p) for p in upload])
            report.positions_uploaded = upload
        self.state.actions_since = remote.timestamp
        self.state.positions_since = started

    def _play(self, position: PlayPosition) -> EpisodeAction:
        return EpisodeAction(
            podcast=position.feed_url,
            episode=position.media_url,
            action="play",
            timestamp=position.when,
            guid=position.guid,
            device=self.client.device_id,
            started=position.position,  # where playback started is not kept here
            position=position.position,
            total=position.total,
        )


def _newest_plays(actions: Iterable[EpisodeAction]) -> list[PlayPosition]:
    """The newest ``play`` with a position for each episode."""
    newest: dict[str, PlayPosition] = {}
    for action in actions:
        if action.action != "play" or action.position is None or action.timestamp is None:
            continue
        seen = newest.get(action.episode)
        if seen is None or action.timestamp > seen.when:
            newest[action.episode] = PlayPosition(
                action.podcast,
                action.episode,
                action.guid,
                action.position,
                action.total or 0,
                action.timestamp,
            )
    return list(newest.values())


def _same_episode(local: list[PlayPosition], theirs: PlayPosition) -> PlayPosition | None:
    for ours in local:
        if ours.media_url == theirs.media_url or (ours.guid and ours.guid == theirs.guid):
            return ours
    return None


def _is_feed_url(url: str) -> bool:
    return urllib.parse.urlsplit(url).scheme in ("http", "https")
