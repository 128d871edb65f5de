"""Snips made while the broker is away reach a dashboard once it is back: every
(id, version) at least once, each highlight's newest version last, the outbox empty.

A real mosquitto, a real store and the real link and relay; the speaker's network
is a TCP proxy the tests take down, and the dashboard is a listener on the
broker's side of it.
"""

from __future__ import annotations

import contextlib
from collections import Counter
from collections.abc import Callable, Iterator

import pytest

from earmark.store import outbox
from earmark.store.database import Database, utc_now
from earmark.store.highlights import DONE, Highlight, HighlightBook
from earmark.sync.broker import LocalBroker
from earmark.sync.mqtt import BrokerAddress, MqttLink
from earmark.sync.relay import OutboxRelay, resync
from tests.support import MqttListener, wait_for

from .conftest import BASE_TOPIC, Acks
from .proxy import Proxy

HIGHLIGHTS = 200
LATE = 120  # seconds: generous, the suite must pass on a loaded machine

Pair = tuple[str, int]  # (highlight id, version)


class Dashboard(MqttListener):
    """A listener on the highlight topic that comes back every second after the
    broker is lost, and counts its subscriptions."""

    def __init__(self, port: int) -> None:
        self.subscriptions = 0
        super().__init__(port, f"{BASE_TOPIC}/highlight")
        self.client.reconnect_delay_set(1, 1)
        self.client.on_subscribe = self._subscribed_again

    def _subscribed_again(self, *args: object) -> None:
        self.subscriptions += 1

    def received(self) -> list[Pair]:
        """Every (id, version) heard, in the order heard."""
        return [(p["id"], p["version"]) for p in self.payloads("/highlight")]

    def newest(self) -> dict[str, int]:
        """The version of each highlight heard last."""
        return dict(self.received())


@pytest.fixture
def start_speaker(db: Database) -> Iterator[Callable[[int], tuple[MqttLink, OutboxRelay]]]:
    """A link and relay to 127.0.0.1:``port`` trying again every second; stopped at the end."""
    started: list[tuple[MqttLink, OutboxRelay]] = []

    def start(port: int) -> tuple[MqttLink, OutboxRelay]:
        acks = Acks()
        address = BrokerAddress("127.0.0.1", port, keepalive=5, reconnect_min=1, reconnect_max=1)
        link = MqttLink(address, BASE_TOPIC, "earmark-testbox", on_acked=acks)
        relay = OutboxRelay(db, link, poll_seconds=0.05)
        acks.relay = relay
        started.append((link, relay))
        link.start()
        relay.start()
        wait_for(lambda: link.connected, 30, what="speaker connected")
        return link, relay

    yield start
    for link, relay in started:
        relay.stop(flush_seconds=0)
        link.stop()


def _snip_and_finish(book: HighlightBook, numbers: range) -> set[Pair]:
    """Save highlights and finish each (two versions, two outbox rows); what was written."""
    written: set[Pair] = set()
    for n in numbers:
        saved = book.add(
            Highlight(
                id=f"h{n:03d}",
                status="pending",
                pressed_at=utc_now(),
                press_position=60 + n,
                start=45 + n,
                end=75 + n,
            )
        )
        done = book.update(saved.id, status=DONE, title=f"moment {n}")
        written |= {(saved.id, saved.version), (done.id, done.version)}
    return written


def _latest(book: HighlightBook) -> dict[str, int]:
    """Each highlight's version in the store."""
    return {h.id: h.version for h in book.latest(limit=HIGHLIGHTS + 1)}


def _report(received: list[Pair], expected: set[Pair]) -> str:
    heard = set(received)
    duplicates = sum(count - 1 for count in Counter(received).values())
    return (
        f"{len(received)} messages for {len(heard)} of {len(expected)} pairs, "
        f"{duplicates} duplicates (at-least-once), "
        f"missing {sorted(expected - heard)[:5]}, unexpected {sorted(heard - expected)[:5]}"
    )


def test_snips_made_while_the_broker_is_unreachable_all_arrive_when_it_is_back(
    broker: LocalBroker, db: Database, start_speaker: Callable[[int], tuple[MqttLink, OutboxRelay]]
) -> None:
    proxy = Proxy(broker.port)
    dashboard = Dashboard(broker.port)  # on the broker's side: connected throughout
    try:
        link, relay = start_speaker(proxy.port)
        proxy.cut()
        wait_for(lambda: not link.connected, 30, what="speaker sees its network down")
        book = HighlightBook(db, "testbox")

        written = _snip_and_finish(book, range(HIGHLIGHTS))
        relay.notify()
        assert len(written) == 2 * HIGHLIGHTS
        wait_for(lambda: proxy.refused >= 2, LATE, what="speaker trying again while down")
        assert outbox.pending_count(db) == 2 * HIGHLIGHTS
        assert dashboard.received() == []

        proxy.restore()
        wait_for(lambda: outbox.pending_count(db) == 0, LATE, what="every row acknowledged")
        with contextlib.suppress(AssertionError):  # the assertions below say what is missing
            wait_for(lambda: set(dashboard.received()) >= written, LATE, what="every version")
        received = dashboard.received()
        assert set(received) == written, _report(received, written)
        latest = _latest(book)
        assert len(latest) == HIGHLIGHTS and set(latest.values()) == {2}
        assert dashboard.newest() == latest, _report(received, written)
        assert dashboard.subscriptions == 0  # it never lost the broker (nor subscribed again)
    finally:
        dashboard.close()
        proxy.close()


def test_a_dashboard_catches_up_with_resync_after_the_broker_is_killed_mid_stream(
    broker: LocalBroker, db: Database, start_speaker: Callable[[int], tuple[MqttLink, OutboxRelay]]
) -> None:
    dashboard = Dashboard(broker.port)
    try:
        link, relay = start_speaker(broker.port)
        book = HighlightBook(db, "testbox")
        half = HIGHLIGHTS // 2
        written = _snip_and_finish(book, range(half))
        relay.notify()
        wait_for(dashboard.received, LATE, what="the stream under way")

        broker.stop(kill=True)  # SIGKILL: what it took and had not passed on is gone
        wait_for(lambda: not link.connected, 30, what="speaker sees the broker gone")
        written |= _snip_and_finish(book, range(half, HIGHLIGHTS))  # made while it is dead
        subscriptions = dashboard.subscriptions
        broker.start()
        wait_for(lambda: link.connected, LATE, what="speaker connected again")
        wait_for(
            lambda: dashboard.subscriptions > subscriptions, LATE, what="dashboard subscribed again"
        )

        missed = written - set(dashboard.received())
        reply = resync(book, {})  # what the resync command runs
        relay.notify()
        assert reply["queued"] == HIGHLIGHTS

        latest = _latest(book)
        assert len(latest) == HIGHLIGHTS and set(latest.values()) == {2}
        wait_for(lambda: outbox.pending_count(db) == 0, LATE, what="every row acknowledged")
        with contextlib.suppress(AssertionError):  # the assertion below says what is missing
            wait_for(lambda: dashboard.newest() == latest, LATE, what="every newest version")
        received = dashboard.received()
        report = f"{_report(received, written)}; {len(missed)} pairs not heard before resync"
        assert dashboard.newest() == latest, report
    finally:
        dashboard.close()
