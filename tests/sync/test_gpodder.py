"""gPodder sync against a local server speaking both flavours: a position stopped
on the phone continues on the speaker at the same second, and the other way round."""

from __future__ import annotations

import base64
import json
import logging
import re
import socket
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import cast

import pytest

from earmark import __version__
from earmark.sync.gpodder import (
    EpisodeAction,
    Flavour,
    GpodderAuthError,
    GpodderBusy,
    GpodderClient,
    GpodderError,
    GpodderLibrary,
    GpodderSync,
    PlayPosition,
    SyncState,
    retry_after,
)
from tests.gpodder_server import GpodderServer

USER, PASSWORD, DEVICE = "alice", "correct horse 42", "earmark-kitchen"
FEED = "https://example.org/garden.xml"
OTHER_FEED = "https://example.net/birds.rss"
THIRD_FEED = "https://example.com/third.xml"
EPISODE = "https://cdn.example.org/garden-12.mp3"
SECOND = "https://cdn.example.org/garden-13.mp3"
NOW = datetime.now(UTC).replace(microsecond=0)


@dataclass(frozen=True)
class Episode:
    feed_url: str
    media_url: str
    guid: str


class Shelf:
    """An in-memory library: the seam the catalog fills, not the thing under test."""

    def __init__(self, feeds: Iterable[str] = (), episodes: Iterable[Episode] = ()) -> None:
        self.feeds = set(feeds)
        self.episodes = {e.media_url: e for e in episodes}
        self.positions: dict[str, PlayPosition] = {}
        self.changes: list[tuple[str, str]] = []  # what sync did to the library

    def listen(self, media_url: str, position: int, total: int, when: datetime) -> None:
        """The listener stops an episode on the speaker."""
        episode = self.episodes[media_url]
        self.positions[media_url] = PlayPosition(
            episode.feed_url, media_url, episode.guid, position, total, when
        )

    def subscriptions(self) -> list[str]:
        return sorted(self.feeds)

    def subscribe(self, feed_url: str) -> None:
        self.changes.append(("subscribe", feed_url))
        self.feeds.add(feed_url)

    def unsubscribe(self, feed_url: str) -> None:
        self.changes.append(("unsubscribe", feed_url))
        self.feeds.discard(feed_url)

    def play_positions_since(self, since: datetime | None) -> list[PlayPosition]:
        return [p for p in self.positions.values() if since is None or p.when >= since]

    def apply_play_position(self, position: PlayPosition) -> bool:
        found = self.episodes.get(position.media_url) or next(
            (e for e in self.episodes.values() if position.guid and e.guid == position.guid), None
        )
        if found is None:
            return False
        self.changes.append(("position", found.media_url))
        self.positions[found.media_url] = PlayPosition(
            found.feed_url, found.media_url, found.guid, position.position, position.total,
            position.when,
        )  # fmt: skip
        return True


_: type[GpodderLibrary] = Shelf  # the fake keeps to the protocol (mypy checks it)

GARDEN = [Episode(FEED, EPISODE, "garden-12"), Episode(FEED, SECOND, "garden-13")]


@pytest.fixture
def server() -> Iterator[GpodderServer]:
    with GpodderServer({USER: PASSWORD}) as running:
        yield running


@pytest.fixture(params=["gpodder", "nextcloud"])
def flavour(request: pytest.FixtureRequest) -> Flavour:
    return cast(Flavour, request.param)


@pytest.fixture
def connect(server: GpodderServer, flavour: Flavour) -> Callable[..., GpodderClient]:
    def make(password: str = PASSWORD, base_url: str | None = None) -> GpodderClient:
        return GpodderClient(base_url or server.base_url, USER, password, DEVICE, flavour)

    return make


def one_line(error: BaseException) -> str:
    text = str(error)
    assert text and "\n" not in text, repr(text)
    return text


def test_a_position_stopped_on_the_phone_continues_on_the_speaker(
    server: GpodderServer, connect: Callable[..., GpodderClient]
) -> None:
    server.phone_play(USER, FEED, EPISODE, 1234, 3600, NOW - timedelta(minutes=3))
    shelf = Shelf([FEED], GARDEN)

    report = GpodderSync(connect(), shelf, SyncState()).run_once()

    assert shelf.positions[EPISODE].position == 1234
    assert shelf.positions[EPISODE].total == 3600
    assert [p.media_url for p in report.positions_applied] == [EPISODE]
    assert SECOND not in shelf.positions


def test_a_position_stopped_on_the_speaker_is_uploaded_as_a_play_action(
    server: GpodderServer, connect: Callable[..., GpodderClient]
) -> None:
    shelf = Shelf([FEED], GARDEN)
    stopped = NOW - timedelta(minutes=2)
    shelf.listen(EPISODE, 754, 3600, stopped)

    GpodderSync(connect(), shelf, SyncState()).run_once()

    [action] = server.actions(USER)
    assert action["podcast"] == FEED and action["episode"] == EPISODE
    assert action["action"] == "play" and action["guid"] == "garden-12"
    assert (action["started"], action["position"], action["total"]) == (754, 754, 3600)
    assert action["timestamp"] == stopped.strftime("%Y-%m-%dT%H:%M:%S")  # UTC, no zone
    assert action["device"] == DEVICE


def test_a_speaker_position_uploaded_reaches_another_device(
    server: GpodderServer, connect: Callable[..., GpodderClient]
) -> None:
    """What the phone reads back is what the speaker sent, in the server's shape."""
    shelf = Shelf([FEED], GARDEN)
    shelf.listen(EPISODE, 754, 3600, NOW - timedelta(minutes=2))
    GpodderSync(connect(), shelf, SyncState()).run_once()

    other = Shelf([FEED], GARDEN)
    GpodderSync(connect(), other, SyncState()).run_once()

    assert other.positions[EPISODE].position == 754


def test_subscriptions_made_on_the_phone_are_applied_here(
    server: GpodderServer, connect: Callable[..., GpodderClient]
) -> None:
    server.phone_subscriptions(USER, add=(FEED, OTHER_FEED))
    shelf, state = Shelf(), SyncState()
    sync = GpodderSync(connect(), shelf, state)

    first = sync.run_once()
    server.phone_subscriptions(USER, remove=(OTHER_FEED,))
    second = sync.run_once()

    assert sorted(first.subscribed) == [OTHER_FEED, FEED]
    assert second.unsubscribed == [OTHER_FEED]
    assert shelf.feeds == {FEED}


def test_subscriptions_made_here_are_uploaded(
    server: GpodderServer, connect: Callable[..., GpodderClient]
) -> None:
    shelf = Shelf([FEED])
    sync = GpodderSync(connect(), shelf, SyncState())
    sync.run_once()
    assert server.subscribed(USER) == {FEED}

    shelf.feeds = {OTHER_FEED}  # the listener subscribed to one and dropped the other
    report = sync.run_once()

    assert server.subscribed(USER) == {OTHER_FEED}
    assert (report.uploaded_subscribed, report.uploaded_unsubscribed) == ([OTHER_FEED], [FEED])


def test_what_came_from_the_server_is_not_uploaded_again(
    server: GpodderServer, connect: Callable[..., GpodderClient]
) -> None:
    server.phone_subscriptions(USER, add=(OTHER_FEED,))
    shelf = Shelf([FEED])

    report = GpodderSync(connect(), shelf, SyncState()).run_once()

    uploads = [r.body for r in server.received if r.method == "POST" and "subscription" in r.path]
    assert uploads == [{"add": [FEED], "remove": []}]
    assert report.subscribed == [OTHER_FEED]


def test_a_feed_dropped_here_is_not_brought_back_by_an_older_phone_subscription(
    server: GpodderServer, connect: Callable[..., GpodderClient]
) -> None:
    shelf, state = Shelf([FEED]), SyncState()
    sync = GpodderSync(connect(), shelf, state)
    sync.run_once()
    server.phone_subscriptions(USER, add=(FEED,))  # the phone says it again
    shelf.feeds.clear()  # while the listener dropped it here

    sync.run_once()

    assert shelf.feeds == set()
    assert server.subscribed(USER) == set()


def test_a_feed_subscribed_here_is_not_dropped_by_an_older_phone_removal(
    server: GpodderServer, connect: Callable[..., GpodderClient]
) -> None:
    shelf = Shelf()
    sync = GpodderSync(connect(), shelf, SyncState())
    sync.run_once()
    server.phone_subscriptions(USER, remove=(FEED,))
    shelf.feeds.add(FEED)  # while the listener subscribed here

    report = sync.run_once()

    assert shelf.feeds == {FEED} and report.unsubscribed == []
    assert server.subscribed(USER) == {FEED}


def test_the_newest_play_action_of_an_episode_wins(
    server: GpodderServer, connect: Callable[..., GpodderClient]
) -> None:
    server.phone_play(USER, FEED, EPISODE, 2000, 3600, NOW - timedelta(minutes=1), device="tablet")
    server.phone_play(USER, FEED, EPISODE, 900, 3600, NOW - timedelta(minutes=30))
    shelf = Shelf([FEED], GARDEN)

    GpodderSync(connect(), shelf, SyncState()).run_once()

    assert shelf.positions[EPISODE].position == 2000


def test_an_older_phone_position_does_not_move_a_newer_one_back(
    server: GpodderServer, connect: Callable[..., GpodderClient]
) -> None:
    server.phone_play(USER, FEED, EPISODE, 300, 3600, NOW - timedelta(minutes=20))
    shelf = Shelf([FEED], GARDEN)
    shelf.listen(EPISODE, 900, 3600, NOW - timedelta(minutes=5))

    report = GpodderSync(connect(), shelf, SyncState()).run_once()

    assert shelf.positions[EPISODE].position == 900
    assert report.positions_applied == []
    assert server.actions(USER)[-1]["position"] == 900  # ours went up (Nextcloud keeps one)


def test_a_late_upload_from_the_phone_does_not_move_a_synced_position_back(
    server: GpodderServer, connect: Callable[..., GpodderClient]
) -> None:
    """The phone was offline: its older action arrives after ours was synced."""
    shelf, state = Shelf([FEED], GARDEN), SyncState()
    shelf.listen(EPISODE, 900, 3600, NOW - timedelta(minutes=5))
    sync = GpodderSync(connect(), shelf, state)
    sync.run_once()
    sync.run_once()  # our own upload comes back once, and is done with

    server.phone_play(USER, FEED, EPISODE, 300, 3600, NOW - timedelta(minutes=20))
    report = sync.run_once()

    assert shelf.positions[EPISODE].position == 900
    assert report.positions_applied == []


def test_a_newer_phone_position_beats_an_older_one_here(
    server: GpodderServer, connect: Callable[..., GpodderClient]
) -> None:
    server.phone_play(USER, FEED, EPISODE, 1500, 3600, NOW - timedelta(minutes=1))
    shelf = Shelf([FEED], GARDEN)
    shelf.listen(EPISODE, 900, 3600, NOW - timedelta(minutes=5))

    report = GpodderSync(connect(), shelf, SyncState()).run_once()

    assert shelf.positions[EPISODE].position == 1500
    assert report.positions_uploaded == []  # ours lost: it does not go up


def test_a_position_for_an_episode_we_do_not_have_is_reported_unmatched(
    server: GpodderServer, connect: Callable[..., GpodderClient]
) -> None:
    server.phone_play(USER, OTHER_FEED, "https://cdn.example.net/b.mp3", 60, 900, NOW)
    shelf = Shelf([FEED], GARDEN)

    report = GpodderSync(connect(), shelf, SyncState()).run_once()

    assert [p.media_url for p in report.positions_unmatched] == ["https://cdn.example.net/b.mp3"]
    assert shelf.positions == {}


def test_since_timestamps_advance_and_a_second_run_downloads_nothing_new(
    server: GpodderServer, connect: Callable[..., GpodderClient]
) -> None:
    server.phone_subscriptions(USER, add=(OTHER_FEED,))
    server.phone_play(USER, FEED, SECOND, 77, 1800, NOW - timedelta(minutes=9))
    shelf, state = Shelf([FEED], GARDEN), SyncState()
    shelf.listen(EPISODE, 754, 3600, NOW - timedelta(minutes=2))
    sync = GpodderSync(connect(), shelf, state)
    sync.run_once()
    after_first = (state.subscriptions_since, state.actions_since)
    shelf.changes.clear()
    posts = sum(r.method == "POST" for r in server.received)

    second = sync.run_once()

    assert min(after_first) > 0
    sent = [r.query["since"] for r in server.received if r.method == "GET"][-2:]
    assert sent == [str(t) for t in after_first]
    assert shelf.changes == []
    assert second.subscribed == second.unsubscribed == second.positions_applied == []
    assert sum(r.method == "POST" for r in server.received) == posts  # nothing went up
    assert (state.subscriptions_since, state.actions_since) >= after_first


def test_a_refused_password_is_one_line_without_the_password(
    server: GpodderServer, connect: Callable[..., GpodderClient], caplog: pytest.LogCaptureFixture
) -> None:
    wrong = "hunter2-is-not-it"
    client = connect(password=wrong)
    state = SyncState()
    caplog.set_level(logging.DEBUG)

    with pytest.raises(GpodderAuthError) as raised:
        GpodderSync(client, Shelf([FEED]), state).run_once()

    text = one_line(raised.value)
    assert "refused the credentials" in text and USER in text
    secrets = [wrong, base64.b64encode(f"{USER}:{wrong}".encode()).decode()]
    for shown in (text, repr(raised.value), repr(client), caplog.text):
        assert not any(s in shown for s in secrets), shown
    assert state == SyncState()


def test_the_password_is_never_logged_nor_in_the_repr(
    server: GpodderServer, connect: Callable[..., GpodderClient], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    client = connect()
    shelf = Shelf([FEED], GARDEN)
    shelf.listen(EPISODE, 5, 60, NOW)

    GpodderSync(client, shelf, SyncState()).run_once()

    assert "gpodder sync done" in caplog.text  # the log did record the run
    token = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
    assert PASSWORD not in caplog.text and token not in caplog.text
    assert PASSWORD not in repr(client) and USER in repr(client)


def test_a_rate_limit_is_raised_with_its_wait_and_the_next_run_completes(
    connect: Callable[..., GpodderClient], flavour: Flavour
) -> None:
    with GpodderServer({USER: PASSWORD}, rate_limit=1, retry_after=7) as limited:
        limited.phone_play(USER, FEED, EPISODE, 1234, 3600, NOW)
        shelf, state = Shelf([FEED], GARDEN), SyncState()
        sync = GpodderSync(connect(base_url=limited.base_url), shelf, state)
        limited.rate_limit = 3 if flavour == "gpodder" else 1  # + login and device
        with pytest.raises(GpodderBusy) as raised:
            sync.run_once()
        assert raised.value.retry_after == 7
        assert "try" in one_line(raised.value)
        assert state.actions_since == 0 and EPISODE not in shelf.positions

        limited.rate_limit = None  # the caller waited; the window has passed
        sync.run_once()

    assert shelf.positions[EPISODE].position == 1234
    assert [r.status for r in limited.received].count(429) == 1


def test_retry_after_reads_seconds_and_http_dates() -> None:
    now = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)
    assert retry_after("120") == 120
    assert retry_after("Sun, 01 Mar 2026 12:01:30 GMT", now=now) == 90
    assert retry_after(None) == 60


def test_a_server_that_is_down_is_one_line_and_leaves_the_state(flavour: Flavour) -> None:
    with GpodderServer({USER: PASSWORD}) as gone:
        base_url = gone.base_url
    state = SyncState(subscriptions_since=5, actions_since=6, subscriptions=[FEED])
    before = state.to_json()
    client = GpodderClient(base_url, USER, PASSWORD, DEVICE, flavour)

    with pytest.raises(GpodderError) as raised:
        GpodderSync(client, Shelf([FEED]), state).run_once()

    assert "cannot reach 127.0.0.1" in one_line(raised.value)
    assert state.to_json() == before


def test_a_server_that_never_answers_times_out_in_one_line(flavour: Flavour) -> None:
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(1)
        port = silent.getsockname()[1]
        client = GpodderClient(
            f"http://127.0.0.1:{port}",
            USER,
            PASSWORD,
            DEVICE,
            flavour,
            timeout=0.3,
        )
        with pytest.raises(GpodderError) as raised:
            client.subscription_changes(0)

    assert "no answer within 0.3 s" in one_line(raised.value)


@pytest.mark.parametrize(
    "body",
    [b"<html><body>Please log in</body></html>", b'{"add": "not a list", "timestamp": 3}', b"[]"],
    ids=["html", "wrong-shape", "list"],
)
def test_a_malformed_answer_is_one_line_and_leaves_the_state(
    server: GpodderServer, connect: Callable[..., GpodderClient], body: bytes
) -> None:
    client = connect()
    client.prepare()
    state = SyncState()
    server.answer_next(body)

    with pytest.raises(GpodderError) as raised:
        GpodderSync(client, Shelf([FEED]), state).run_once()

    assert "malformed answer" in one_line(raised.value)
    assert state == SyncState()


def test_an_action_that_cannot_be_read_is_skipped_and_the_rest_applied(
    server: GpodderServer, connect: Callable[..., GpodderClient]
) -> None:
    good = {"podcast": FEED, "episode": EPISODE, "action": "PLAY", "position": 321, "total": -1}
    actions = [
        {**good, "timestamp": "yesterday"},
        {**good, "action": "listen", "timestamp": "2026-01-01T10:00:00"},
        {**good, "episode": SECOND, "timestamp": "2026-01-01T10:00:00"},
    ]
    client = connect()
    client.prepare()
    server.answer_next(json.dumps({"add": [], "remove": [], "timestamp": 5}).encode())
    server.answer_next(json.dumps({"actions": actions, "timestamp": 9}).encode())
    shelf, state = Shelf((), GARDEN), SyncState()  # no feeds: nothing to upload in between

    report = GpodderSync(client, shelf, state).run_once()

    assert [p.media_url for p in report.positions_applied] == [SECOND]
    assert shelf.positions[SECOND].position == 321 and EPISODE not in shelf.positions
    assert state.actions_since == 9


def test_an_http_error_is_one_line_with_the_status(
    server: GpodderServer, connect: Callable[..., GpodderClient]
) -> None:
    server.answer_next(b"Internal\nServer\nError", status=500)

    with pytest.raises(GpodderError) as raised:
        connect().episode_actions(0)

    assert "HTTP 500" in one_line(raised.value)


def test_every_request_names_earmark_and_its_version(
    server: GpodderServer, connect: Callable[..., GpodderClient]
) -> None:
    GpodderSync(connect(), Shelf([FEED]), SyncState()).run_once()

    assert server.received
    assert {r.user_agent.split(" ")[0] for r in server.received} == {f"earmark/{__version__}"}


def test_the_speaker_registers_itself_as_a_device_on_gpodder_net(server: GpodderServer) -> None:
    client = GpodderClient(server.base_url, USER, PASSWORD, DEVICE, "gpodder")

    GpodderSync(client, Shelf(), SyncState()).run_once()

    assert server.devices(USER)[DEVICE] == {"caption": "earmark speaker", "type": "other"}


# -- the double refuses what the real servers refuse, so uploads that pass mean something


def test_the_server_refuses_a_url_both_added_and_removed(
    connect: Callable[..., GpodderClient],
) -> None:
    client = connect()
    client.prepare()
    with pytest.raises(GpodderError) as raised:
        client.upload_subscription_changes([FEED], [FEED])
    assert "HTTP 400" in one_line(raised.value)


@pytest.mark.parametrize(
    "action",
    [
        EpisodeAction(FEED, EPISODE, "listen", NOW),
        EpisodeAction(FEED, EPISODE, "play", NOW, position=10, total=60),  # no started
        EpisodeAction(FEED, "", "play", NOW, started=0, position=10, total=60),
    ],
    ids=["unknown-action", "play-without-started", "no-episode"],
)
def test_the_server_refuses_a_malformed_action(
    connect: Callable[..., GpodderClient], action: EpisodeAction
) -> None:
    with pytest.raises(GpodderError) as raised:
        connect().upload_episode_actions([action])
    assert "HTTP 400" in one_line(raised.value)


def test_the_server_refuses_a_timestamp_with_a_zone(server: GpodderServer) -> None:
    client = GpodderClient(server.base_url, USER, PASSWORD, DEVICE, "gpodder")
    play = EpisodeAction(FEED, EPISODE, "play", NOW, started=0, position=1, total=2).to_wire()
    play["timestamp"] = NOW.isoformat()  # +00:00
    with pytest.raises(GpodderError, match="HTTP 400"):
        client._call("POST", f"/api/2/episodes/{USER}.json", body=[play])


# -- the state the caller keeps


def test_the_sync_state_survives_json() -> None:
    state = SyncState(3, 4, NOW, [FEED, OTHER_FEED])
    assert SyncState.from_json(state.to_json()) == state
    assert SyncState.from_json(SyncState().to_json()) == SyncState()


@pytest.mark.parametrize("text", ["", "[]", '{"schema": 9}', '{"schema": 1, "actions_since": 1}'])
def test_an_unreadable_sync_state_is_one_line(text: str) -> None:
    with pytest.raises(GpodderError) as raised:
        SyncState.from_json(text)
    assert re.search(r"sync state is unreadable .*: delete it", one_line(raised.value))


def test_a_server_address_with_credentials_in_it_is_refused() -> None:
    with pytest.raises(GpodderError) as raised:
        GpodderClient(f"https://{USER}:{PASSWORD}@gpodder.net", USER, PASSWORD, DEVICE)
    assert PASSWORD not in one_line(raised.value)
