"""Home Assistant discovery against a real mosquitto: the device config checked
key by key against HA's documented schema, the birth message, the buttons, and
``earmark ha remove``."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from earmark.config import Config
from earmark.config.model import HomeAssistantConfig, MqttConfig
from earmark.events import BrokerConnected, EventBus, HighlightChanged, OnLoop, PlayerStateChanged
from earmark.player.state import PlayerState, Status
from earmark.store.catalog import Catalog
from earmark.store.database import Database
from earmark.store.highlights import Highlight, HighlightBook
from earmark.sync import discovery
from earmark.sync.broker import LocalBroker
from earmark.sync.discovery import HomeAssistant, device_config, device_topic
from earmark.sync.mqtt import BrokerAddress, MqttLink

from ..daemon_process import Daemon, earmark
from ..support import MqttListener, wait_for

TOPIC = device_topic("homeassistant", "testbox")

# HA's discovery abbreviations (homeassistant/components/mqtt/abbreviations.py)
# for every key the payload uses, and the options each platform documents
ABBREVIATIONS = {
    "p": "platform",
    "uniq_id": "unique_id",
    "def_ent_id": "default_entity_id",
    "stat_t": "state_topic",
    "val_tpl": "value_template",
    "json_attr_t": "json_attributes_topic",
    "json_attr_tpl": "json_attributes_template",
    "cmd_t": "command_topic",
    "cmd_tpl": "command_template",
    "pl_prs": "payload_press",
    "ic": "icon",
    "dev_cla": "device_class",
    "stat_cla": "state_class",
    "ent_cat": "entity_category",
    "unit_of_meas": "unit_of_measurement",
    "ops": "options",
    "evt_typ": "event_types",
    "url_t": "url_topic",
    "name": "name",
    "min": "min",
    "max": "max",
    "step": "step",
    "mode": "mode",
}
COMMON = {"platform", "name", "unique_id", "default_entity_id", "icon", "entity_category"}
PLATFORMS: dict[str, tuple[set[str], set[str]]] = {  # platform: (required, allowed)
    "sensor": (
        {"state_topic"},
        {
            "value_template",
            "json_attributes_topic",
            "json_attributes_template",
            "device_class",
            "state_class",
            "options",
            "unit_of_measurement",
        },
    ),
    "event": ({"state_topic", "event_types"}, {"value_template", "device_class"}),
    "button": ({"command_topic"}, {"payload_press", "command_template"}),
    "number": (
        {"command_topic"},
        {
            "command_template",
            "state_topic",
            "value_template",
            "min",
            "max",
            "step",
            "mode",
            "unit_of_measurement",
        },
    ),
    "select": ({"command_topic", "options"}, {"command_template", "state_topic"}),
    "image": ({"url_topic"}, {"url_template"}),
}
DEVICE_KEYS = {"ids", "name", "mf", "mdl", "sw", "cu"}
ORIGIN_KEYS = {"name", "sw", "url"}
SHARED_KEYS = {"dev", "o", "cmps", "avty_t", "pl_avail", "pl_not_avail", "qos"}


def expand(component: dict[str, Any]) -> dict[str, Any]:
    unknown = set(component) - set(ABBREVIATIONS)
    assert not unknown, f"keys HA does not know: {unknown}"
    return {ABBREVIATIONS[key]: value for key, value in component.items()}


def config_for(broker: LocalBroker, data_dir: Path, **home_assistant: Any) -> Config:
    return Config(
        device_id="testbox",
        data_dir=data_dir,
        mqtt=MqttConfig(host="127.0.0.1", port=broker.port),
        home_assistant=HomeAssistantConfig(**home_assistant),
    )


@dataclass
class Side:
    """The speaker's side: a loop in a thread, the bus, a real link, the listener."""

    bus: EventBus
    link: MqttLink
    ha: HomeAssistant
    book: HighlightBook
    reports: int = 0  # how often the diagnostics read the speaker's report


@pytest.fixture
def loop() -> Iterator[asyncio.AbstractEventLoop]:
    running = asyncio.new_event_loop()
    thread = threading.Thread(target=running.run_forever, daemon=True)
    thread.start()
    yield running
    running.call_soon_threadsafe(running.stop)
    thread.join(10)
    running.close()


@pytest.fixture
def start_side(
    broker: LocalBroker, loop: asyncio.AbstractEventLoop, db: Database, tmp_path: Path
) -> Iterator[Callable[..., Side]]:
    links: list[MqttLink] = []

    def start(**home_assistant: Any) -> Side:
        config = config_for(broker, tmp_path, **home_assistant)
        bus, on_loop = EventBus(), OnLoop()
        bus.attach(loop)
        on_loop.attach(loop)
        link = MqttLink(
            BrokerAddress("127.0.0.1", broker.port, keepalive=5),
            "earmark/testbox",
            "earmark-testbox",
            on_connected=lambda: bus.emit(BrokerConnected()),
        )

        def report() -> dict[str, int]:
            side.reports += 1
            return {"jobs_waiting": 2, "outbox_pending": 5}

        book = HighlightBook(db, "testbox")
        ha = HomeAssistant(config, link, report, Catalog(db), book, on_loop)
        bus.register(ha)
        links.append(link)
        side = Side(bus, link, ha, book)
        link.start()
        return side

    yield start
    for link in links:
        link.stop()


def configs(listener: MqttListener, topic: str = TOPIC) -> list[bytes]:
    return [bytes(m.payload) for m in list(listener.messages) if m.topic == topic]


def announced(listener: MqttListener) -> list[dict[str, Any]]:
    return [json.loads(p) for p in configs(listener) if p]


def retained_now(port: int, topic: str) -> list[bytes]:
    """What a new subscriber to ``topic`` is given (ordered by a marker sent after)."""
    fresh = MqttListener(port)
    try:
        fresh.client.publish("test/marker", b"x", qos=1)
        wait_for(lambda: fresh.payloads("test/marker"), 10, 0.05, "the marker")
        return [bytes(m.payload) for m in list(fresh.messages) if m.topic == topic]
    finally:
        fresh.close()


def test_every_discovery_field_matches_home_assistants_schema(tmp_path: Path) -> None:
    dashboard = HomeAssistantConfig(dashboard_url="http://nas.local:8080")
    payload = device_config(
        Config(device_id="testbox", data_dir=tmp_path, home_assistant=dashboard)
    )
    assert set(payload) <= SHARED_KEYS and {"dev", "o", "cmps"} <= set(payload)
    assert set(payload["dev"]) <= DEVICE_KEYS
    assert payload["dev"]["ids"] and payload["dev"]["cu"] == "http://nas.local:8080"
    assert set(payload["o"]) == ORIGIN_KEYS and payload["o"]["name"] == "earmark"
    assert payload["avty_t"] == "earmark/testbox/status"
    assert (payload["pl_avail"], payload["pl_not_avail"]) == ("online", "offline")
    unique_ids, entity_ids = [], []
    for key, raw in payload["cmps"].items():
        assert "obj_id" not in raw and "object_id" not in raw, key
        component = expand(raw)
        platform = component["platform"]
        assert platform in PLATFORMS, f"{key}: platform {platform} not used by earmark"
        required, allowed = PLATFORMS[platform]
        missing = required - set(component)
        assert not missing, f"{key} lacks {missing}"
        extra = set(component) - required - allowed - COMMON
        assert not extra, f"{key} has options {platform} does not document: {extra}"
        assert component["default_entity_id"].startswith(f"{platform}.earmark_testbox_")
        unique_ids.append(component["unique_id"])
        entity_ids.append(component["default_entity_id"])
        for option in ("command_topic", "state_topic", "url_topic", "json_attributes_topic"):
            if option in component:
                assert component[option].startswith("earmark/testbox/"), (key, option)
        if component.get("entity_category") is not None:
            assert component["entity_category"] == "diagnostic"
    assert len(set(unique_ids)) == len(unique_ids) and len(set(entity_ids)) == len(entity_ids)
    platforms = sorted(raw["p"] for raw in payload["cmps"].values())
    assert platforms.count("button") == 4 and platforms.count("number") == 2
    assert {"event", "image", "select", "sensor"} <= set(platforms)
    components = {key: expand(raw) for key, raw in payload["cmps"].items()}
    assert components["highlight"]["event_types"] == ["saved", "done", "failed"]
    assert components["snip"]["command_topic"] == "earmark/testbox/cmd/snip"
    assert json.loads(components["snip"]["payload_press"]) == {}
    assert (components["volume"]["min"], components["volume"]["max"]) == (0, 100)
    assert (components["speed"]["min"], components["speed"]["max"]) == (0.5, 3.0)
    assert components["jobs_waiting"]["entity_category"] == "diagnostic"


def test_states_stay_within_home_assistants_limits(
    start_side: Callable[..., Side], mqtt_listener: MqttListener
) -> None:
    side = start_side()
    wait_for(lambda: announced(mqtt_listener), 10, 0.05, "the device config")
    title = "An episode title far too long for a state " * 10  # 430 characters
    state = PlayerState(Status.PLAYING, source="x", position=12.0, duration=3600.0)
    side.bus.emit(PlayerStateChanged(state, podcast="The Slow Garden", episode=title))
    highlight = Highlight(
        id="h1",
        status="done",
        pressed_at="2026-11-26T10:00:00Z",
        press_position=61.0,
        start=16.0,
        end=76.0,
        podcast_title="The Slow Garden",
        episode_title=title,
        transcript="compost " * 200_000,  # 1.6 MB
        title=title,
        takeaways=tuple("A takeaway that goes on " * 100 for _ in range(10)),
    )
    side.bus.emit(HighlightChanged(side.book.add(highlight)))
    now = wait_for(lambda: mqtt_listener.payloads("/ha/now_playing"), 10, 0.05, "now playing")
    last = wait_for(lambda: mqtt_listener.payloads("/ha/latest"), 10, 0.05, "last highlight")
    events = wait_for(lambda: mqtt_listener.payloads("/ha/event"), 10, 0.05, "the event")
    assert len(title) > 400
    assert len(now[-1]["title"]) == 255 and len(last[-1]["title"]) == 255
    assert now[-1]["attributes"]["podcast"] == "The Slow Garden"
    attributes = json.dumps(last[-1]["attributes"])
    assert len(attributes.encode()) < 16 * 1024
    assert "compost" not in attributes and "transcript" not in last[-1]["attributes"]
    assert events[-1]["event_type"] == "done" and len(events[-1]["title"]) <= 255
    assert retained_now(side.link.address.port, "earmark/testbox/ha/latest")


def test_stop_ends_the_diagnostics_ticks_before_the_store_closes(
    start_side: Callable[..., Side],
    mqtt_listener: MqttListener,
    loop: asyncio.AbstractEventLoop,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(discovery, "REFRESH_SECONDS", 0.01)
    side = start_side()
    wait_for(lambda: side.reports >= 5, 30, 0.01, "the diagnostics ticking")
    asyncio.run_coroutine_threadsafe(_on_loop(side.ha.stop), loop).result(10)
    after_stop = side.reports
    time.sleep(0.2)  # twenty ticks' time: none may come
    assert side.reports == after_stop


async def _on_loop(call: Callable[[], None]) -> None:
    call()


def test_a_birth_message_sends_discovery_again(
    start_side: Callable[..., Side], mqtt_listener: MqttListener
) -> None:
    start_side()
    wait_for(lambda: len(announced(mqtt_listener)) == 1, 10, 0.05, "the device config")
    mqtt_listener.client.publish("homeassistant/status", b"online", qos=1)
    wait_for(lambda: len(announced(mqtt_listener)) == 2, 15, 0.05, "discovery sent again")


def test_ten_births_in_a_minute_send_discovery_a_bounded_number_of_times(
    start_side: Callable[..., Side], mqtt_listener: MqttListener
) -> None:
    side = start_side()
    wait_for(lambda: len(announced(mqtt_listener)) == 1, 10, 0.05, "the device config")
    for _ in range(10):
        mqtt_listener.client.publish("homeassistant/status", b"online", qos=1)
    wait_for(lambda: side.ha.births == 10, 60, 0.05, "the ten births heard")
    # the speaker's own count: the listener may not have received the last one yet
    wait_for(
        lambda: side.ha.waiting is False and side.ha.announced >= 2, 60, 0.05, "the re-send done"
    )
    sent_again = side.ha.announced - 1
    # births heard while one re-send waits add nothing; only a birth after it fired may
    assert 1 <= sent_again <= 2, sent_again
    wait_for(
        lambda: len(announced(mqtt_listener)) == side.ha.announced, 60, 0.05, "each one received"
    )


def test_an_earlier_device_ids_config_is_cleared(
    start_side: Callable[..., Side], mqtt_listener: MqttListener, tmp_path: Path
) -> None:
    old = device_topic("homeassistant", "oldbox")
    mqtt_listener.client.publish(old, b'{"dev": {}}', qos=1, retain=True).wait_for_publish(5)
    (tmp_path / "ha-device").write_text(old + "\n")
    start_side()
    wait_for(lambda: b"" in configs(mqtt_listener, old), 10, 0.05, "the old config cleared")
    wait_for(lambda: announced(mqtt_listener), 10, 0.05, "the new device config")
    assert (tmp_path / "ha-device").read_text().strip() == TOPIC


def test_turned_off_announces_nothing_and_clears_what_it_announced_before(
    start_side: Callable[..., Side], mqtt_listener: MqttListener, tmp_path: Path
) -> None:
    mqtt_listener.client.publish(TOPIC, b'{"dev": {}}', qos=1, retain=True).wait_for_publish(5)
    (tmp_path / "ha-device").write_text(TOPIC + "\n")
    side = start_side(enabled=False)
    wait_for(lambda: b"" in configs(mqtt_listener), 10, 0.05, "the config cleared")
    assert not (tmp_path / "ha-device").exists()
    assert retained_now(side.link.address.port, TOPIC) == []


def test_ha_remove_without_a_daemon_leaves_no_device_config(
    write_config: Callable[..., Path], broker: LocalBroker, mqtt_listener: MqttListener
) -> None:
    mqtt_listener.client.publish(TOPIC, b'{"dev": {}}', qos=1, retain=True).wait_for_publish(5)
    path = write_config({"mqtt": {"host": "127.0.0.1", "port": broker.port}})
    result = earmark(path, "ha", "remove")
    assert result.returncode == 0, result.stderr
    assert TOPIC in result.stdout
    assert b"" in configs(mqtt_listener)
    assert retained_now(broker.port, TOPIC) == []


def test_home_assistants_snip_button_makes_a_highlight_and_ha_remove_clears_the_device(
    garden_config: Callable[..., Path],
    broker: LocalBroker,
    mqtt_listener: MqttListener,
    tmp_path: Path,
) -> None:
    daemon = Daemon(garden_config({"transcription": {"lookahead": "off"}}), tmp_path / "d.log")
    try:
        daemon.wait_playing()
        device = wait_for(lambda: announced(mqtt_listener), 30, 0.1, "the device config")[-1]
        snip = device["cmps"]["snip"]
        # what HA publishes when the button is pressed
        mqtt_listener.client.publish(snip["cmd_t"], snip["pl_prs"].encode(), qos=int(device["qos"]))
        saved = wait_for(
            lambda: [e for e in mqtt_listener.payloads("/ha/event") if e["event_type"] == "saved"],
            60,
            0.1,
            "a highlight saved",
        )
        highlights = mqtt_listener.payloads("earmark/testbox/highlight")
        assert highlights and highlights[0]["id"] == saved[0]["id"]
        assert highlights[0]["input_source"] == "mqtt"
        result = earmark(daemon.config, "ha", "remove")
        assert result.returncode == 0, result.stderr
        wait_for(lambda: b"" in configs(mqtt_listener), 10, 0.1, "the config cleared")
        assert retained_now(broker.port, TOPIC) == []
    finally:
        assert daemon.terminate() == 0, daemon.log[-3000:]


def test_the_last_highlight_is_the_newest_one_the_listener_kept(
    start_side: Callable[..., Side], mqtt_listener: MqttListener
) -> None:
    side = start_side()
    wait_for(lambda: announced(mqtt_listener), 10, 0.05, "the device config")

    def saved(title: str, pressed_at: str) -> Highlight:
        highlight = Highlight(
            id=Highlight.new_id(),
            status="done",
            pressed_at=pressed_at,
            press_position=61.0,
            start=16.0,
            end=76.0,
            title=title,
        )
        return side.book.add(highlight)

    def shown() -> str:
        return mqtt_listener.payloads("/ha/latest")[-1]["title"]

    older = saved("Older", "2026-11-26T09:00:00Z")
    newer = saved("Newer", "2026-11-26T10:00:00Z")
    side.bus.emit(HighlightChanged(newer))
    wait_for(lambda: mqtt_listener.payloads("/ha/latest"), 10, 0.05, "the last highlight")
    assert shown() == "Newer"
    # starring the older one changes it, but the newest is still the one shown
    side.bus.emit(HighlightChanged(side.book.edit(older.id, {"starred": True})))
    side.bus.emit(HighlightChanged(side.book.edit(newer.id, {"deleted": True})))
    wait_for(lambda: shown() == "Older", 10, 0.05, "the one before the deleted one")
    seen = [p["title"] for p in mqtt_listener.payloads("/ha/latest")]
    assert seen == ["Newer", "Older"], seen
    side.bus.emit(HighlightChanged(side.book.edit(older.id, {"deleted": True})))
    wait_for(lambda: shown() == "No highlights", 10, 0.05, "nothing left to show")
