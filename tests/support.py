"""Helpers the tests share: waiting on conditions, listening on MQTT, scoring words."""

from __future__ import annotations

import asyncio
import json
import re
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import paho.mqtt.client as mqtt

from earmark.events import Event, Listener
from earmark.payloads import HighlightPayload

T = TypeVar("T")


class Recorder(Listener):
    """Hears every event a speaker announces, in order, and on which thread."""

    def __init__(self) -> None:
        self.events: list[Event] = []
        self.threads: set[str] = set()

    def on_event(self, event: Event) -> None:
        self.events.append(event)
        self.threads.add(threading.current_thread().name)

    def of(self, *kinds: type[Event]) -> list[Any]:
        return [e for e in self.events if isinstance(e, kinds)]


def wait_for(
    condition: Callable[[], T],
    timeout: float = 30.0,
    interval: float = 0.05,
    what: str = "condition",
) -> T:
    """Poll ``condition`` until it returns something truthy; fail after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


async def until(check: Callable[[], Any], what: str, timeout: float = 60) -> Any:
    """``wait_for`` on the running loop: poll ``check`` without blocking the loop
    (the speaker runs on it meanwhile)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        value = check()
        if value:
            return value
        await asyncio.sleep(0.05)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


class MqttListener:
    """A real paho client that records every message under ``topic``."""

    def __init__(
        self, port: int, topic: str = "#", client_id: str = "", persistent: bool = False
    ) -> None:
        """``persistent``: a session the broker keeps (and queues QoS 1 messages for)
        while this listener is away."""
        from paho.mqtt.packettypes import PacketTypes
        from paho.mqtt.properties import Properties

        self.messages: list[mqtt.MQTTMessage] = []
        self._lock = threading.Lock()
        self._subscribed = threading.Event()
        self.client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5
        )
        self.client.on_connect = lambda c, u, f, rc, p: c.subscribe(topic, qos=1)
        self.client.on_subscribe = lambda *a: self._subscribed.set()
        self.client.on_message = self._on_message
        properties = None
        if persistent:
            properties = Properties(PacketTypes.CONNECT)
            properties.SessionExpiryInterval = 600
        self.client.connect("127.0.0.1", port, clean_start=not persistent, properties=properties)
        self.client.loop_start()
        if not self._subscribed.wait(10):
            raise AssertionError("test MQTT listener could not subscribe")

    def _on_message(self, client: Any, userdata: Any, message: mqtt.MQTTMessage) -> None:
        with self._lock:
            self.messages.append(message)

    def payloads(self, topic_suffix: str) -> list[Any]:
        with self._lock:
            found = [m for m in self.messages if m.topic.endswith(topic_suffix)]
        out = []
        for m in found:
            try:
                out.append(json.loads(m.payload))
            except ValueError:
                out.append(m.payload)
        return out

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


def highlight_versions(listener: MqttListener, highlight_id: str) -> list[HighlightPayload]:
    """Every version of one highlight the listener has received, oldest first."""
    found = [
        HighlightPayload.from_json(m.payload)
        for m in list(listener.messages)
        if m.topic.endswith("/highlight")
    ]
    return sorted((h for h in found if h.id == highlight_id), key=lambda h: h.version)


def words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9']+", text.lower())


def word_edits(reference: str, hypothesis: str) -> tuple[int, int]:
    """(word edits, reference words): summed over a corpus this gives the corpus WER."""
    ref, hyp = words(reference), words(hypothesis)
    previous = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        current = [i]
        for j, h in enumerate(hyp, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (r != h)))
        previous = current
    return previous[-1], len(ref)


def word_error_rate(reference: str, hypothesis: str) -> float:
    """Levenshtein distance over words ÷ reference length."""
    edits, total = word_edits(reference, hypothesis)
    return edits / max(1, total)


def write_feed(
    root: Path,
    base_url: str,
    title: str,
    episodes: list[tuple[str, str, str]],
    name: str = "feed.xml",
) -> str:
    """Write a small RSS feed into ``root``: episodes are (guid, title, file name),
    newest first. Returns the feed's URL."""
    items = "\n".join(
        f"""<item><guid>{guid}</guid><title>{ep_title}</title>
        <pubDate>Mon, {10 - i:02d} Nov 2026 08:00:00 +0000</pubDate>
        <enclosure url="{base_url}/{file}" type="audio/mpeg"
         length="{(root / file).stat().st_size}"/>
        </item>"""
        for i, (guid, ep_title, file) in enumerate(episodes)
    )
    (root / name).write_text(
        f"""<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0"><channel><title>{title}</title><link>{base_url}</link>
<description>A test show</description>{items}</channel></rss>"""
    )
    return f"{base_url}/{name}"
