"""The outbox on MQTT, against bare paho on the same local mosquitto, same run.

Drain: 10 000 highlight payloads (about 1 KB each) already in the outbox, from
the relay's start until the last row is marked sent on its PUBACK, against a
bare paho client publishing the same payloads with QoS 1 until its last
PUBACK. Both use paho's default in-flight window (20) on one broker.

Latency: a highlight marked done (the write, its commit and the outbox row)
until a subscriber on loopback receives that version, against bare paho
publish until the same subscriber receives it.
"""

from __future__ import annotations

import statistics
import tempfile
import threading
import time
from pathlib import Path

import paho.mqtt.client as mqtt

from bench import Figure
from earmark.store import outbox
from earmark.store.database import Database, utc_now
from earmark.store.highlights import DONE, Highlight, HighlightBook
from earmark.sync.broker import LocalBroker, free_port
from earmark.sync.mqtt import BrokerAddress, MqttLink
from earmark.sync.relay import OutboxRelay

ROWS = 10_000
ROUNDS = 3
SNIPS = 200
BASE = "earmark/bench"
WORDS = "the crust keeps its crackle when the dough rests overnight in the cold " * 8


def _payloads() -> list[bytes]:
    highlight = Highlight(
        id="0" * 32,
        status=DONE,
        pressed_at=utc_now(),
        press_position=600.0,
        start=555.0,
        end=615.0,
        podcast_title="Crumb and Crust",
        episode_title="Bread, slowly",
        transcript=WORDS,
        title="Resting the dough",
        takeaways=("Rest the dough overnight.", "Cold slows the yeast."),
        updated_at=utc_now(),
    )
    one = highlight.payload("bench").to_json()
    return [one.replace(b"0" * 32, f"{i:032d}".encode()) for i in range(ROWS)]


def _client(port: int, **callbacks: object) -> mqtt.Client:
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    for name, callback in callbacks.items():
        setattr(client, name, callback)
    connected = threading.Event()
    client.on_connect = lambda *a: connected.set()
    client.connect("127.0.0.1", port)
    client.loop_start()
    if not connected.wait(10):
        raise RuntimeError("bench client could not connect")
    return client


def _bare_drain(port: int, payloads: list[bytes]) -> float:
    acked = 0
    done = threading.Event()

    def on_publish(*args: object) -> None:
        nonlocal acked
        acked += 1
        if acked == len(payloads):
            done.set()

    client = _client(port, on_publish=on_publish)
    try:
        began = time.perf_counter()
        for payload in payloads:
            client.publish(f"{BASE}/highlight", payload, qos=1)
        if not done.wait(120):
            raise RuntimeError(f"bare paho: {acked} of {len(payloads)} PUBACKs")
        return time.perf_counter() - began
    finally:
        client.loop_stop()
        client.disconnect()


def _link(port: int, relay: list[OutboxRelay]) -> MqttLink:
    """A link whose PUBACKs go to the relay put in ``relay`` (none before: ``status``)."""

    def acked(mid: int) -> None:
        for each in relay:
            each.acked(mid)

    link = MqttLink(BrokerAddress("127.0.0.1", port), BASE, "earmark-bench", on_acked=acked)
    link.start()
    deadline = time.monotonic() + 10
    while not link.connected:
        if time.monotonic() > deadline:
            raise RuntimeError("bench link could not connect")
        time.sleep(0.01)
    return link


def _relay_drain(port: int, payloads: list[bytes], folder: Path) -> float:
    db = Database(folder / "earmark.db")
    with db.transaction() as conn:
        for payload in payloads:
            outbox.enqueue(conn, "highlight", payload)
    holder: list[OutboxRelay] = []
    link = _link(port, holder)
    relay = OutboxRelay(db, link, poll_seconds=1.0)
    holder.append(relay)
    try:
        began = time.perf_counter()
        relay.start()
        while outbox.pending_count(db):
            time.sleep(0.002)
        return time.perf_counter() - began
    finally:
        relay.stop(flush_seconds=0)
        link.stop()
        db.close()


def _ms(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))] * 1000


class Subscriber:
    """A dashboard on loopback: when each (id, version) arrived."""

    def __init__(self, port: int) -> None:
        self.arrived: dict[bytes, float] = {}
        self.changed = threading.Condition()
        subscribed = threading.Event()
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
        self.client.on_connect = lambda c, *a: c.subscribe(f"{BASE}/#", qos=1)
        self.client.on_subscribe = lambda *a: subscribed.set()
        self.client.on_message = self._message
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()
        if not subscribed.wait(10):
            raise RuntimeError("bench subscriber could not subscribe")

    def _message(self, client: object, userdata: object, message: mqtt.MQTTMessage) -> None:
        now = time.perf_counter()
        with self.changed:
            self.arrived.setdefault(bytes(message.payload)[:120], now)
            self.changed.notify_all()

    def wait(self, key: bytes) -> float:
        with self.changed:
            if not self.changed.wait_for(lambda: key in self.arrived, 10):
                raise RuntimeError("the subscriber never received a message")
            return self.arrived[key]

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


def _relay_latency(
    port: int, folder: Path, subscriber: Subscriber
) -> tuple[list[float], list[float]]:
    """(done -> received, done -> committed) for each highlight."""
    db = Database(folder / "latency.db")
    holder: list[OutboxRelay] = []
    book = HighlightBook(db, "bench", on_change=lambda h: holder[0].notify())
    link = _link(port, holder)
    relay = OutboxRelay(db, link, poll_seconds=1.0)
    holder.append(relay)
    relay.start()
    seconds, commits = [], []
    try:
        for i in range(SNIPS):
            name = f"L{i:031d}"
            book.add(Highlight(name, "pending", utc_now(), 60.0, 15.0, 75.0))
            began = time.perf_counter()
            done = book.update(name, status=DONE, title="Resting the dough", transcript=WORDS)
            commits.append(time.perf_counter() - began)
            key = done.payload("bench").to_json()[:120]
            seconds.append(subscriber.wait(key) - began)
    finally:
        relay.stop(flush_seconds=0)
        link.stop()
        db.close()
    return seconds, commits


def _bare_latency(port: int, subscriber: Subscriber) -> list[float]:
    client = _client(port)
    payload = _payloads()[0]
    seconds = []
    try:
        for i in range(SNIPS):
            message = payload.replace(b"0" * 32, f"B{i:031d}".encode())
            began = time.perf_counter()
            client.publish(f"{BASE}/highlight", message, qos=1)
            seconds.append(subscriber.wait(message[:120]) - began)
    finally:
        client.loop_stop()
        client.disconnect()
    return seconds


def run() -> list[Figure]:
    payloads = _payloads()
    relay_runs: list[float] = []
    bare_runs: list[float] = []
    with (
        tempfile.TemporaryDirectory(prefix="earmark-bench-mqtt-") as work,
        LocalBroker(free_port()) as broker,
    ):
        for round_ in range(ROUNDS):  # alternate, so drift hits both sides alike
            bare_runs.append(_bare_drain(broker.port, payloads))
            folder = Path(work) / f"drain{round_}"
            folder.mkdir()
            relay_runs.append(_relay_drain(broker.port, payloads, folder))
        subscriber = Subscriber(broker.port)
        try:
            bare_latency = _bare_latency(broker.port, subscriber)
            relay_latency, commits = _relay_latency(broker.port, Path(work), subscriber)
        finally:
            subscriber.close()
    relay_s, bare_s = statistics.median(relay_runs), statistics.median(bare_runs)
    size = len(payloads[0])
    return [
        Figure(
            f"mqtt: drain {ROWS} outbox rows / bare paho QoS 1",
            relay_s / bare_s,
            target="<= 2.0",
            detail=f"median of {ROUNDS}: {relay_s:.2f}s vs {bare_s:.2f}s, {size} B payloads",
        ),
        Figure(
            "mqtt: highlight done -> subscriber p50",
            _ms(relay_latency, 0.5),
            unit="ms",
            detail=f"bare paho publish -> subscriber p50 {_ms(bare_latency, 0.5):.2f} ms; "
            f"of it the fsynced commit p50 {_ms(commits, 0.5):.2f} ms; {SNIPS} each",
        ),
        Figure(
            "mqtt: highlight done -> subscriber p95",
            _ms(relay_latency, 0.95),
            unit="ms",
            detail=f"bare paho publish -> subscriber p95 {_ms(bare_latency, 0.95):.2f} ms; "
            f"commit p95 {_ms(commits, 0.95):.2f} ms",
        ),
    ]
