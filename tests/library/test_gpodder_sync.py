"""gPodder sync on the speaker: the real library (SQLite store, Library service)
against the local gPodder server, both flavours. An episode stopped on the phone
resumes on the speaker at the same second, and the other way round."""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import os
import stat
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

import pytest

from earmark.config.model import Config, GpodderConfig
from earmark.events import Event, LibraryChanged
from earmark.library.gpodder_library import STATE_FILE, GpodderTask, StoredLibrary
from earmark.library.refresher import DEMO_FEED_ID
from earmark.library.service import Library, LibraryError
from earmark.store.catalog import Catalog
from earmark.store.database import Database
from earmark.store.podcasts import Podcasts
from earmark.sync.broker import LocalBroker
from earmark.sync.gpodder import Flavour, GpodderAuthError, GpodderError, SyncState
from tests.gpodder_server import GpodderServer

from ..daemon_process import Daemon, earmark
from ..support import wait_for

USER, PASSWORD, DEVICE = "alice", "correct horse 42", "earmark-kitchen"
FEED = "https://example.org/garden.xml"
OTHER_FEED = "https://example.net/birds.rss"
EPISODE = "https://cdn.example.org/garden-12.mp3"
SECOND = "https://cdn.example.org/garden-13.mp3"


def now() -> datetime:
    """The time now, read when a test runs: a module-level time goes stale on a
    busy machine, where a test may start many minutes after the import."""
    return datetime.now(UTC).replace(microsecond=0)


@dataclass
class Box:
    """A speaker's library: the store, the Library service, what it announced."""

    db: Database
    catalog: Catalog
    podcasts: Podcasts
    library: Library
    data_dir: Path
    events: list[Event] = field(default_factory=list)

    def sync(self) -> dict[str, Any]:
        return asyncio.run(self.library.sync_gpodder())

    @property
    def task(self) -> GpodderTask:
        assert self.library.gpodder is not None
        return self.library.gpodder

    @property
    def state_file(self) -> Path:
        return self.data_dir / STATE_FILE


@pytest.fixture(params=["gpodder", "nextcloud"])
def flavour(request: pytest.FixtureRequest) -> Flavour:
    return cast(Flavour, request.param)


@pytest.fixture
def server() -> Iterator[GpodderServer]:
    with GpodderServer({USER: PASSWORD}) as running:
        yield running


@pytest.fixture
def make_box(
    tmp_path: Path, server: GpodderServer, flavour: Flavour
) -> Iterator[Callable[..., Box]]:
    """A speaker subscribed to FEED with two episodes; each call is a (re)start."""
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    opened: list[Box] = []

    def make(**gpodder: Any) -> Box:
        settings = {
            "enabled": True,
            "server": server.base_url,
            "flavour": flavour,
            "username": USER,
            "password": PASSWORD,
            "device_id": DEVICE,
            **gpodder,
        }
        config = Config(device_id="kitchen", data_dir=data_dir, gpodder=GpodderConfig(**settings))
        db = Database(config.database_path)
        catalog = Catalog(db)
        events: list[Event] = []
        library = Library(config, db, catalog, events.append, lambda: None)
        box = Box(db, catalog, library.podcasts, library, data_dir, events)
        if not opened:  # the first start: the listener's library
            garden = box.podcasts.subscribe(FEED, "The Slow Garden")
            for guid, url in (("garden-12", EPISODE), ("garden-13", SECOND)):
                catalog.save_episode(garden, guid, guid, url, duration=3600.0)
        opened.append(box)
        return box

    yield make
    for box in opened:
        box.library.stop()
        box.db.close()


def episode_id(box: Box, media_url: str) -> int:
    return next(e.id for e in box.catalog.episodes() if e.enclosure_url == media_url)


def uploaded(server: GpodderServer) -> list[Any]:
    """What the speaker sent: subscription changes and episode actions."""
    return [
        r.body
        for r in server.received
        if r.method == "POST" and ("subscription" in r.path or "episode" in r.path)
    ]


def our_actions(server: GpodderServer) -> list[dict[str, Any]]:
    return [a for a in server.actions(USER) if a.get("device") != "phone"]


def iso(when: datetime) -> str:
    return when.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def one_line(text: str) -> str:
    assert text and "\n" not in text, repr(text)
    return text


SECRETS = [PASSWORD, base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()]


# -- the AntennaPod scenario, both ways


def test_a_position_stopped_on_the_phone_resumes_on_the_speaker(
    make_box: Callable[..., Box], server: GpodderServer
) -> None:
    box = make_box()
    server.phone_play(USER, FEED, EPISODE, 1234, 3600, now() - timedelta(minutes=3), "garden-12")

    reply = box.sync()

    assert box.catalog.position(episode_id(box, EPISODE)) == 1234  # where playback resumes
    assert box.catalog.position(episode_id(box, SECOND)) == 0
    last = box.catalog.last_played()
    assert last is not None and last.enclosure_url == EPISODE
    assert "positions 1 taken" in reply["message"]


def test_a_position_taken_from_the_phone_is_not_sent_back_as_ours(
    make_box: Callable[..., Box], server: GpodderServer
) -> None:
    box = make_box()
    server.phone_play(USER, FEED, EPISODE, 1234, 3600, now() - timedelta(minutes=3))

    box.sync()
    box.sync()

    assert our_actions(server) == []
    assert box.catalog.position(episode_id(box, EPISODE)) == 1234


def test_a_phone_position_finds_the_episode_by_guid_when_its_url_differs(
    make_box: Callable[..., Box], server: GpodderServer
) -> None:
    box = make_box()
    tracked = "https://tracker.example.com/r/cdn.example.org/garden-13.mp3"
    server.phone_play(USER, FEED, tracked, 600, 3600, now() - timedelta(minutes=3), "garden-13")

    box.sync()

    assert box.catalog.position(episode_id(box, SECOND)) == 600


def test_a_position_saved_on_the_speaker_goes_up_as_a_play_action(
    make_box: Callable[..., Box], server: GpodderServer
) -> None:
    box = make_box()
    before = now()
    box.catalog.save_position(episode_id(box, EPISODE), 754.6, 3600.0)

    box.sync()

    [action] = server.actions(USER)
    assert (action["podcast"], action["episode"], action["action"]) == (FEED, EPISODE, "play")
    assert (action["started"], action["position"], action["total"]) == (754, 754, 3600)
    assert (action["guid"], action["device"]) == ("garden-12", DEVICE)
    assert datetime.fromisoformat(action["timestamp"]).replace(tzinfo=UTC) >= before


def test_an_older_phone_position_does_not_move_a_newer_one_here_back(
    make_box: Callable[..., Box], server: GpodderServer
) -> None:
    box = make_box()
    box.catalog.save_position(episode_id(box, EPISODE), 900.0, 3600.0)
    server.phone_play(USER, FEED, EPISODE, 300, 3600, now() - timedelta(minutes=20))

    box.sync()

    assert box.catalog.position(episode_id(box, EPISODE)) == 900
    assert our_actions(server)[-1]["position"] == 900


def test_the_store_keeps_a_newer_position_against_a_late_one_from_elsewhere(
    make_box: Callable[..., Box],
) -> None:
    box = make_box()
    episode = episode_id(box, EPISODE)
    box.catalog.save_position(episode, 900.0, 3600.0)
    an_hour_ago, in_a_minute = iso(now() - timedelta(hours=1)), iso(now() + timedelta(minutes=1))

    stored = box.catalog.save_position_from_elsewhere(episode, 100.0, 3600.0, an_hour_ago)

    assert not stored and box.catalog.position(episode) == 900
    assert box.catalog.save_position_from_elsewhere(episode, 1000.0, None, in_a_minute)
    assert box.catalog.position(episode) == 1000


# -- subscriptions


def test_a_subscription_made_on_the_phone_is_subscribed_here_and_announced(
    make_box: Callable[..., Box], server: GpodderServer
) -> None:
    box = make_box()
    server.phone_subscriptions(USER, add=(OTHER_FEED,))

    box.sync()

    birds = box.podcasts.by_url(OTHER_FEED)
    assert birds is not None and birds.subscribed
    assert birds.refresh_due is None  # the refresher fetches it at its next look
    assert LibraryChanged(OTHER_FEED, birds.id) in box.events


def test_unsubscribing_here_sends_the_removal(
    make_box: Callable[..., Box], server: GpodderServer
) -> None:
    box = make_box()
    box.sync()
    assert server.subscribed(USER) == {FEED}
    garden = box.podcasts.by_url(FEED)
    assert garden is not None

    box.podcasts.unsubscribe(garden.id)
    box.sync()

    assert server.subscribed(USER) == set()
    assert box.events == []  # nothing changed here from the account


def test_an_unsubscription_made_on_the_phone_is_applied_here(
    make_box: Callable[..., Box], server: GpodderServer
) -> None:
    box = make_box()
    box.sync()
    server.phone_subscriptions(USER, remove=(FEED,))

    box.sync()

    garden = box.podcasts.by_url(FEED)
    assert garden is not None and not garden.subscribed
    assert LibraryChanged(FEED, garden.id) in box.events


def test_the_bundled_demo_is_not_sent_to_the_account(
    make_box: Callable[..., Box], server: GpodderServer
) -> None:
    box = make_box()
    box.podcasts.subscribe(DEMO_FEED_ID, "earmark demo")

    box.sync()

    assert server.subscribed(USER) == {FEED}


# -- the state between syncs


def test_the_sync_state_is_kept_private_and_read_after_a_restart(
    make_box: Callable[..., Box], server: GpodderServer
) -> None:
    box = make_box()
    box.sync()
    state = SyncState.from_json(box.state_file.read_text())
    assert stat.S_IMODE(box.state_file.stat().st_mode) == 0o600
    assert state.subscriptions == [FEED] and state.subscriptions_since > 0

    uploads = len(uploaded(server))

    restarted = make_box()
    restarted.sync()

    asked = [r.query["since"] for r in server.received if r.method == "GET"][-2:]
    assert asked == [str(state.subscriptions_since), str(state.actions_since)]
    assert len(uploaded(server)) == uploads  # FEED went up once, before the restart


def test_an_unreadable_state_file_is_one_line_naming_it(make_box: Callable[..., Box]) -> None:
    box = make_box()
    box.state_file.write_text("{not json")

    with pytest.raises(GpodderError) as raised:
        box.sync()

    assert "delete it" in one_line(str(raised.value))


# -- failures: one line, nothing changed, no password anywhere


def test_a_wrong_password_is_one_line_changes_nothing_and_logs_no_password(
    make_box: Callable[..., Box], server: GpodderServer, caplog: pytest.LogCaptureFixture
) -> None:
    make_box().sync()
    kept = make_box().state_file.read_bytes()
    wrong = "hunter2-is-not-it"
    box = make_box(password=wrong)  # restarted with a mistyped password
    server.phone_play(USER, FEED, EPISODE, 1234, 3600, now())
    caplog.set_level(logging.DEBUG)

    with pytest.raises(GpodderAuthError) as raised:
        box.sync()
    logged = run_until_logged(box.task, "gpodder sync failed")

    assert "refused the credentials" in one_line(str(raised.value))
    assert "refused the credentials" in one_line(logged)
    secrets = [wrong, base64.b64encode(f"{USER}:{wrong}".encode()).decode()]
    for shown in (str(raised.value), caplog.text, repr(box.task.settings)):
        assert not any(s in shown for s in secrets), shown
    assert box.state_file.read_bytes() == kept
    assert box.catalog.position(episode_id(box, EPISODE)) == 0


def test_a_server_that_is_down_is_one_line_in_the_log(
    make_box: Callable[..., Box], caplog: pytest.LogCaptureFixture
) -> None:
    make_box().sync()
    kept = make_box().state_file.read_bytes()
    with GpodderServer({USER: PASSWORD}) as gone:
        address = gone.base_url
    box = make_box(server=address)

    logged = run_until_logged(box.task, "gpodder sync failed")

    assert "cannot reach 127.0.0.1" in one_line(logged)
    assert box.state_file.read_bytes() == kept


def test_a_busy_server_is_asked_again_when_it_said(
    make_box: Callable[..., Box], flavour: Flavour
) -> None:
    waits: list[float] = []

    class OneRound(Exception):
        pass

    async def sleep(seconds: float) -> None:
        waits.append(seconds)
        raise OneRound

    with GpodderServer({USER: PASSWORD}, rate_limit=0, retry_after=120) as busy:
        box = make_box(server=busy.base_url)
        task = GpodderTask(
            box.task.settings,
            StoredLibrary(box.catalog, box.podcasts),
            box.state_file,
            box.events.append,
            lambda: None,
            sleep=sleep,
        )
        with pytest.raises(OneRound):
            asyncio.run(task.run())
        task.stop()

    assert waits == [120]


def test_the_password_can_come_from_the_environment(
    make_box: Callable[..., Box], server: GpodderServer
) -> None:
    box = make_box(password=None, password_env="EARMARK_TEST_GPODDER_PASSWORD")
    task = GpodderTask(
        box.task.settings,
        StoredLibrary(box.catalog, box.podcasts),
        box.state_file,
        box.events.append,
        lambda: None,
        environ={"EARMARK_TEST_GPODDER_PASSWORD": PASSWORD},
    )

    asyncio.run(task.sync_now())
    task.stop()

    assert server.subscribed(USER) == {FEED}


def test_a_password_variable_that_is_not_set_is_one_line_naming_it(
    make_box: Callable[..., Box], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("EARMARK_TEST_GPODDER_PASSWORD", raising=False)
    box = make_box(password=None, password_env="EARMARK_TEST_GPODDER_PASSWORD")

    with pytest.raises(GpodderError) as raised:
        box.sync()

    assert "$EARMARK_TEST_GPODDER_PASSWORD" in one_line(str(raised.value))


def test_sync_is_off_unless_enabled(tmp_path: Path) -> None:
    config = Config(device_id="kitchen", data_dir=tmp_path)
    db = Database(config.database_path)
    library = Library(config, db, Catalog(db), lambda event: None, lambda: None)
    try:
        assert library.gpodder is None
        with pytest.raises(LibraryError, match="gpodder.enabled"):
            asyncio.run(library.sync_gpodder())
    finally:
        library.stop()
        db.close()


def run_until_logged(task: GpodderTask, start: str, timeout: float = 20.0) -> str:
    """Run the task's loop until it logs a line starting with ``start``; that line."""
    seen: list[str] = []

    class Catch(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            seen.append(record.getMessage())

    async def run() -> None:
        running = asyncio.get_running_loop().create_task(task.run())
        deadline = asyncio.get_running_loop().time() + timeout
        while not any(line.startswith(start) for line in seen):
            assert asyncio.get_running_loop().time() < deadline, f"no log line {start!r}"
            await asyncio.sleep(0.02)
        running.cancel()

    catch = Catch(logging.DEBUG)
    logger = logging.getLogger("earmark.library.gpodder_library")
    logger.addHandler(catch)
    try:
        asyncio.run(run())
    finally:
        logger.removeHandler(catch)
    line = next(line for line in seen if line.startswith(start))
    assert not any(s in line for s in SECRETS)
    return line


def test_state_json_on_disk_holds_no_credentials(
    make_box: Callable[..., Box], server: GpodderServer
) -> None:
    box = make_box()
    box.sync()

    text = box.state_file.read_text()
    assert json.loads(text)["schema"] == 1
    assert not any(s in text for s in SECRETS) and USER not in text
    assert not any(s in os.fsdecode(p) for p in box.data_dir.iterdir() for s in SECRETS)


# -- the running speaker


def test_earmark_gpodder_sync_subscribes_what_the_phone_did_and_logs_no_password(
    write_config: Callable[..., Path],
    broker: LocalBroker,
    garden_feed: str,
    server: GpodderServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("EARMARK_GPODDER_PASSWORD", PASSWORD)  # the daemon inherits it
    config = write_config(
        {
            "mqtt": {"host": "127.0.0.1", "port": broker.port},
            "gpodder": {
                "enabled": True,
                "server": server.base_url,
                "username": USER,
                "password_env": "EARMARK_GPODDER_PASSWORD",
                "interval_minutes": 60,
            },
        }
    )
    server.phone_subscriptions(USER, add=(garden_feed,))
    log_path = tmp_path / "daemon.log"
    daemon = Daemon(config, log_path)
    try:
        wait_for(lambda: daemon.status(), what="the daemon to answer")
        synced = earmark(config, "gpodder", "sync", timeout=150)
        assert synced.returncode == 0, synced.stderr
        assert "gpodder sync done" in synced.stdout

        # subscribed from the phone: the refresher, woken, fetches it
        wait_for(
            lambda: "The Slow Garden" in earmark(config, "podcasts").stdout,
            what="the phone's subscription to be fetched",
        )
        assert server.devices(USER)["testbox"]["caption"] == "earmark speaker"
    finally:
        daemon.terminate()
    logged = log_path.read_text()
    assert "gpodder sync done" in logged  # the log did record the syncs
    assert not any(s in logged for s in SECRETS)
