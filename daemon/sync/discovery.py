"""Home Assistant sees the speaker by itself: MQTT device-based discovery.

One retained device config on ``<discovery_prefix>/device/earmark_<device_id>/config``
(HA >= 2024.11) names the device, its origin, its availability (our ``status``
topic and its last will) and its components. It is sent on every broker connect
and again, after a random 1-5 s, when Home Assistant's birth message
(``<discovery_prefix>/status`` = ``online``) says it restarted.

Where the states come from:

- the player's status, volume and speed: the speaker's own retained ``state``
  topic, read with ``value_template`` (no second copy of what it already says);
- now playing, the last highlight, the artwork URL and the diagnostics: small
  retained topics under ``earmark/<device_id>/ha/`` that this listener writes,
  because HA needs them cut (a state is at most 255 characters), kept small
  (attributes well under 16 KiB, never the transcript), or from the catalog
  (the artwork), and they change far less often than ``state`` (once a second);
- highlight events: ``ha/event``, not retained (an event happens once).

The buttons, numbers and the select publish on the existing ``cmd/<action>``
topics with payloads ``daemon/commands.py`` accepts.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from earmark import __version__
from earmark.config import Config
from earmark.errors import EarmarkError
from earmark.events import (
    BrokerConnected,
    HighlightChanged,
    JobFinished,
    JobStarted,
    Listener,
    OnLoop,
    PlayerStateChanged,
)
from earmark.payloads import SCHEMA
from earmark.store.catalog import Catalog
from earmark.store.highlights import DONE, FAILED, PENDING, Highlight, HighlightBook
from earmark.sync.home_broker import broker_address
from earmark.sync.mqtt import MqttLink

log = logging.getLogger(__name__)

PROJECT_URL = "https://github.com/earmark/earmark"
MAX_STATE = 255  # HA refuses a longer state
BIRTH_DELAY = (1.0, 5.0)  # seconds, drawn at random: not every device at once
REFRESH_SECONDS = 30.0  # the diagnostics (the outbox drains without an event)
POSITION_STEP = 30.0  # now playing's position attribute moves at most this often
SLEEP_OPTIONS = ("off", "15", "30", "60", "end")
EVENT_TYPES = ("saved", "done", "failed")
TAKEAWAYS_KEPT, TAKEAWAY_CHARS = 3, 500  # the last highlight's attributes stay ~2 KiB
NO_HIGHLIGHT: dict[str, Any] = {"title": "No highlights", "attributes": {}}
STATE_FILE = "ha-device"  # the device config topic last published, in data_dir


def cut(text: str | None, limit: int = MAX_STATE) -> str:
    text = text or ""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def device_topic(prefix: str, device_id: str) -> str:
    return f"{prefix}/device/earmark_{device_id}/config"


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9_]+", "_", text.lower()).strip("_") or "speaker"


def device_config(config: Config) -> dict[str, Any]:
    """The device discovery payload (HA's abbreviations; see docs/home-assistant.md)."""
    device_id = config.device_id
    base = f"{config.mqtt.topic_prefix}/{device_id}"
    slug = f"earmark_{_slug(device_id)}"

    def component(platform: str, key: str, name: str, **options: Any) -> dict[str, Any]:
        return {
            "p": platform,
            "name": name,
            "uniq_id": f"earmark_{device_id}_{key}",
            "def_ent_id": f"{platform}.{slug}_{key}",
            **options,
        }

    def button(key: str, name: str, action: str, icon: str) -> dict[str, Any]:
        return component("button", key, name, cmd_t=f"{base}/cmd/{action}", pl_prs="{}", ic=icon)

    def number(key: str, name: str, low: float, high: float, step: float, **more: Any) -> Any:
        return component(
            "number",
            key,
            name,
            cmd_t=f"{base}/cmd/{key}",
            cmd_tpl='{"value": {{ value }}}',
            stat_t=f"{base}/state",
            val_tpl=f"{{{{ value_json.{key} }}}}",
            min=low,
            max=high,
            step=step,
            **more,
        )

    def diagnostic(key: str, name: str, icon: str) -> dict[str, Any]:
        return component(
            "sensor",
            key,
            name,
            stat_t=f"{base}/ha/diagnostics",
            val_tpl=f"{{{{ value_json.{key} }}}}",
            stat_cla="measurement",
            ent_cat="diagnostic",
            ic=icon,
        )

    ha = f"{base}/ha"
    attributes = "{{ value_json.attributes | tojson }}"
    sleep = (
        "{% if value in ['off', 'end'] %}"
        '{"minutes": "{{ value }}"}'
        '{% else %}{"minutes": {{ value }}}{% endif %}'
    )
    player = "{{ value_json.status if value_json.status in ['playing', 'paused'] else 'idle' }}"
    device: dict[str, Any] = {
        "ids": [slug],
        "name": f"earmark {device_id}",
        "mf": "earmark",
        "mdl": "Podcast speaker",
        "sw": __version__,
    }
    if config.home_assistant.dashboard_url:
        device["cu"] = config.home_assistant.dashboard_url
    return {
        "dev": device,
        "o": {"name": "earmark", "sw": __version__, "url": PROJECT_URL},
        "avty_t": f"{base}/status",
        "pl_avail": "online",
        "pl_not_avail": "offline",
        "qos": 1,
        "cmps": {
            "now_playing": component(
                "sensor",
                "now_playing",
                "Now playing",
                stat_t=f"{ha}/now_playing",
                val_tpl="{{ value_json.title }}",
                json_attr_t=f"{ha}/now_playing",
                json_attr_tpl=attributes,
                ic="mdi:podcast",
            ),
            "player": component(
                "sensor",
                "player",
                "Player",
                stat_t=f"{base}/state",
                val_tpl=player,
                dev_cla="enum",
                ops=["playing", "paused", "idle"],
                ic="mdi:play-pause",
            ),
            "last_highlight": component(
                "sensor",
                "last_highlight",
                "Last highlight",
                stat_t=f"{ha}/latest",
                val_tpl="{{ value_json.title }}",
                json_attr_t=f"{ha}/latest",
                json_attr_tpl=attributes,
                ic="mdi:bookmark-outline",
            ),
            "highlight": component(
                "event",
                "highlight",
                "Highlight",
                stat_t=f"{ha}/event",
                evt_typ=list(EVENT_TYPES),
                ic="mdi:bookmark-plus",
            ),
            "snip": button("snip", "Snip", "snip", "mdi:content-cut"),
            "play_pause": button("play_pause", "Play/Pause", "play_pause", "mdi:play-pause"),
            "next": button("next", "Next", "next", "mdi:skip-next"),
            "skip_back": button("skip_back", "Skip back", "skip_back", "mdi:rewind"),
            "volume": number("volume", "Volume", 0, 100, 1, unit_of_meas="%", mode="slider"),
            "speed": number("speed", "Speed", 0.5, 3.0, 0.05, unit_of_meas="x", mode="box"),
            "sleep": component(
                "select",
                "sleep",
                "Sleep timer",
                cmd_t=f"{base}/cmd/sleep",
                cmd_tpl=sleep,
                ops=list(SLEEP_OPTIONS),
                ic="mdi:sleep",
            ),
            "artwork": component("image", "artwork", "Artwork", url_t=f"{ha}/artwork"),
            "jobs_waiting": diagnostic("jobs_waiting", "Jobs waiting", "mdi:tray-full"),
            "outbox_pending": diagnostic("outbox_pending", "Outbox backlog", "mdi:tray-arrow-up"),
        },
    }


def _json(payload: dict[str, Any]) -> bytes:
    return json.dumps({"schema": SCHEMA, **payload}, ensure_ascii=False).encode()


def _publish_absolute(link: MqttLink, topic: str, payload: bytes) -> int | None:
    """A retained message on ``topic``, outside the speaker's own topics."""
    return link.publish_absolute(topic, payload, qos=1, retain=True)


class HomeAssistant(Listener):
    """Announces the speaker to Home Assistant and keeps its entities' states."""

    def __init__(
        self,
        config: Config,
        link: MqttLink,
        report: Callable[[], dict[str, Any]],
        catalog: Catalog,
        book: HighlightBook,
        on_loop: OnLoop,
    ) -> None:
        self.settings = config.home_assistant
        self.config = config
        self.link = link
        self.report = report
        self.catalog = catalog
        self.book = book
        self.on_loop = on_loop
        self.topic = device_topic(self.settings.discovery_prefix, config.device_id)
        self.state_file = config.data_dir / STATE_FILE
        self.dashboard = (self.settings.dashboard_url or "").rstrip("/")
        self.announced = 0  # device configs sent, for the log
        self.births = 0  # Home Assistant's birth messages heard
        self._removed = False
        self._checked_old = False
        self._resend: asyncio.TimerHandle | None = None
        self._refresh: asyncio.TimerHandle | None = None
        self._retained: dict[str, bytes] = {}  # what each ha/ topic says now
        self._playing: tuple[Any, ...] | None = None
        self._position = 0.0
        self._artwork: tuple[int | None, str] = (None, "")
        self._events: dict[str, str] = {}  # highlight id -> the last event type sent
        if self.settings.enabled:
            link.watch(f"{self.settings.discovery_prefix}/status", self._heard_status)

    # events (on the loop)
    def broker_connected(self, event: BrokerConnected) -> None:
        self._forget_old_device()
        if not self.settings.enabled or self._removed:
            return
        self._announce()
        self._send_states()
        self._diagnostics()
        if self._refresh is None:
            self._refresh = asyncio.get_running_loop().call_later(REFRESH_SECONDS, self._tick)

    def player_state_changed(self, event: PlayerStateChanged) -> None:
        if not self.settings.enabled:
            return
        state = event.state
        shown = (state.episode_id, event.episode, event.podcast, state.chapter_title)
        moved = abs(state.position - self._position) >= POSITION_STEP
        if shown == self._playing and not moved and state.position >= self._position - 1:
            return
        self._playing, self._position = shown, state.position
        artwork = self._artwork_url(state.episode_id)
        attributes = {
            "podcast": cut(event.podcast),
            "chapter": cut(state.chapter_title),
            "position": round(state.position),
            "duration": round(state.duration) if state.duration else None,
            "artwork": artwork or None,
        }
        title = cut(event.episode) if event.episode else "Nothing playing"
        self._retain("now_playing", _json({"title": title, "attributes": attributes}))
        if artwork:
            self._retain("artwork", artwork.encode())

    def highlight_changed(self, event: HighlightChanged) -> None:
        if not self.settings.enabled:
            return
        highlight = event.highlight
        # the newest the listener kept, whichever changed: an old one starred, or the
        # newest deleted, leaves the one HA shows, or names the one before
        newest = self.book.latest(limit=1)
        state = self._highlight_state(newest[0]) if newest else NO_HIGHLIGHT
        # not "ha/highlight": a topic ending in /highlight is the contract's own
        self._retain("latest", _json(state))
        kind = {PENDING: "saved", DONE: "done", FAILED: "failed"}.get(highlight.status)
        if kind is not None and self._events.get(highlight.id) != kind:
            self._events[highlight.id] = kind
            payload = {"event_type": kind, "id": highlight.id, "title": cut(highlight.title)}
            self._send("event", _json(payload), retain=False)
        self._diagnostics()

    def job_started(self, event: JobStarted) -> None:
        self._diagnostics()

    def job_finished(self, event: JobFinished) -> None:
        self._diagnostics()

    # the CLI's `earmark ha remove`, through the running daemon
    def remove(self) -> dict[str, Any]:
        if not self.link.connected:
            raise EarmarkError("not connected to the broker; try again when earmark is online")
        _publish_absolute(self.link, self.topic, b"")
        for topic in self._retained:
            self._send(topic, b"", retain=True)
        self._retained.clear()
        self._removed = True
        self.state_file.unlink(missing_ok=True)
        log.info("home assistant device removed topic=%s", self.topic)
        message = (
            f"removed the Home Assistant device ({self.topic}); it comes back when earmark "
            "restarts unless home_assistant.enabled is false"
        )
        return {"ok": True, "message": message}

    # Home Assistant's birth message: paho's thread, then the loop
    def _heard_status(self, payload: bytes) -> None:
        if payload.strip() == b"online":
            self.on_loop(self._birth)

    def stop(self) -> None:
        """No more timers: the speaker closes the store next, and a diagnostics
        tick after that would read a closed database."""
        for timer in (self._refresh, self._resend):
            if timer is not None:
                timer.cancel()
        self._refresh = self._resend = None

    @property
    def waiting(self) -> bool:
        """A re-send after a birth message is scheduled and has not run yet."""
        return self._resend is not None

    def _birth(self) -> None:
        self.births += 1
        if self._resend is not None or self._removed:
            return  # one re-send waits already: ten births in a minute cost one
        delay = random.uniform(*BIRTH_DELAY)
        log.info("home assistant came online; announcing again in %.1fs", delay)
        self._resend = asyncio.get_running_loop().call_later(delay, self._announce_again)

    def _announce_again(self) -> None:
        self._resend = None
        if self._removed:
            return
        self._announce()
        self._send_states()

    # what is sent
    def _announce(self) -> None:
        payload = json.dumps(device_config(self.config), ensure_ascii=False).encode()
        if _publish_absolute(self.link, self.topic, payload) is None:
            return
        self.announced += 1
        log.info("home assistant discovery sent topic=%s count=%d", self.topic, self.announced)
        self._remember(self.topic)

    def _send_states(self) -> None:
        for topic, payload in self._retained.items():
            self._send(topic, payload, retain=True)

    def _retain(self, topic: str, payload: bytes) -> None:
        if self._retained.get(topic) == payload:
            return
        self._retained[topic] = payload
        self._send(topic, payload, retain=True)

    def _send(self, topic: str, payload: bytes, retain: bool) -> None:
        self.link.publish(f"ha/{topic}", payload, qos=1, retain=retain)

    def _diagnostics(self) -> None:
        if not self.settings.enabled or self._removed:
            return
        report = self.report()
        counts = {key: report.get(key, 0) for key in ("jobs_waiting", "outbox_pending")}
        self._retain("diagnostics", _json(counts))

    def _tick(self) -> None:
        self._diagnostics()
        self._refresh = asyncio.get_running_loop().call_later(REFRESH_SECONDS, self._tick)

    def _highlight_state(self, highlight: Highlight) -> dict[str, Any]:
        where = f"{int(highlight.press_position // 60)}:{int(highlight.press_position % 60):02d}"
        title = highlight.title or f"Snip at {where} in {highlight.episode_title}"
        takeaways = [cut(t, TAKEAWAY_CHARS) for t in highlight.takeaways[:TAKEAWAYS_KEPT]]
        attributes = {
            "id": highlight.id,
            "status": highlight.status,
            "takeaways": takeaways,
            "podcast": cut(highlight.podcast_title),
            "episode": cut(highlight.episode_title),
            "time": highlight.pressed_at,
            "position": round(highlight.press_position),
            "link": f"{self.dashboard}/highlights/{highlight.id}" if self.dashboard else None,
        }
        return {"title": cut(title), "attributes": attributes}

    def _artwork_url(self, episode_id: int | None) -> str:
        if episode_id != self._artwork[0]:
            episode = self.catalog.episode(episode_id) if episode_id else None
            self._artwork = (episode_id, (episode.image_url or "") if episode else "")
        return self._artwork[1]

    # a device config left by an earlier device_id (or prefix), or turned off
    def _forget_old_device(self) -> None:
        if self._checked_old:
            return
        self._checked_old = True
        try:
            old = self.state_file.read_text().strip()
        except OSError:
            return
        if not old or (old == self.topic and self.settings.enabled):
            return
        if _publish_absolute(self.link, old, b"") is not None:
            log.info("home assistant: cleared an earlier device config topic=%s", old)
            if not self.settings.enabled:
                self.state_file.unlink(missing_ok=True)

    def _remember(self, topic: str) -> None:
        try:
            scratch = self.state_file.with_suffix(".tmp")
            scratch.write_text(topic + "\n")
            scratch.replace(self.state_file)
        except OSError as exc:
            log.warning(
                "home assistant: cannot remember the device in %s: %s", self.state_file, exc
            )


def remove_device(config: Config, timeout: float = 10.0) -> str:
    """``earmark ha remove`` with no daemon running: clear the retained device
    config on the broker ourselves (Home Assistant then removes the device)."""
    topic = device_topic(config.home_assistant.discovery_prefix, config.device_id)
    acks: set[int] = set()
    link = MqttLink(
        broker_address(config.mqtt),
        f"{config.mqtt.topic_prefix}/{config.device_id}",
        f"earmark-{config.device_id}-ha-remove",
        on_acked=acks.add,
    )
    address = f"{link.address.host}:{link.address.port}"
    link.start()
    try:
        deadline = time.monotonic() + timeout
        while not link.connected and time.monotonic() < deadline:
            time.sleep(0.05)
        mid = _publish_absolute(link, topic, b"")
        if mid is None:
            raise EarmarkError(f"cannot reach the MQTT broker at {address}; check mqtt: in config")
        while mid not in acks and time.monotonic() < deadline:
            time.sleep(0.05)
        if mid not in acks:
            raise EarmarkError(f"the broker at {address} did not confirm; try again")
    finally:
        link.stop()
    Path(config.data_dir / STATE_FILE).unlink(missing_ok=True)
    return f"removed the Home Assistant device ({topic})"
