"""Commands over MQTT on the running daemon (real mosquitto, mpv, ffmpeg and
faster-whisper): the listener's edits and takeaways made again come back as new
versions of the highlight, and payloads no speaker should run are refused in one
line while it goes on playing."""

from __future__ import annotations

import json
from typing import Any

import pytest

from earmark.payloads import HighlightPayload
from tests.daemon_process import Daemon, earmark
from tests.support import MqttListener, wait_for
from tests.support import highlight_versions as versions

COMMANDS = "earmark/testbox/cmd"


@pytest.fixture
def daemon(garden_daemon: Daemon) -> Daemon:
    return garden_daemon


def latest(listener: MqttListener, highlight_id: str) -> HighlightPayload:
    return max(versions(listener, highlight_id), key=lambda h: h.version)


def answer(listener: MqttListener, request_id: str, timeout: float = 30) -> dict[str, Any]:
    def found() -> list[dict[str, Any]]:
        return [a for a in listener.payloads("cmd/result") if a.get("id") == request_id]

    return wait_for(found, timeout, 0.05, f"the answer to {request_id}")[0]


def send(listener: MqttListener, name: str, request_id: str, **args: Any) -> dict[str, Any]:
    payload = json.dumps({"id": request_id, **args}).encode()
    listener.client.publish(f"{COMMANDS}/{name}", payload, qos=1)
    return answer(listener, request_id)


def test_edits_and_takeaways_made_again_arrive_as_new_versions(
    daemon: Daemon, mqtt_listener: MqttListener
) -> None:
    daemon.wait_playing(min_position=20)
    snipped = earmark(daemon.config, "snip")
    assert snipped.returncode == 0, snipped.stderr
    highlight_id = snipped.stdout.split("id=")[1].split()[0]
    done = wait_for(
        lambda: [h for h in versions(mqtt_listener, highlight_id) if h.status == "done"],
        180,
        0.2,
        "the snip done",
    )[0]
    assert done.title and done.takeaways

    edited = send(
        mqtt_listener,
        "edit",
        "e1",
        highlight=highlight_id,
        title="  Compost needs air  ",
        note="try this in spring",
        starred=True,
        tags=["garden", "soil", "garden"],
    )
    assert edited["ok"] is True and edited["version"] == done.version + 1, edited
    mine = wait_for(
        lambda: [h for h in versions(mqtt_listener, highlight_id) if h.version == done.version + 1],
        10,
        0.05,
        "the edited version",
    )[0]
    assert (mine.title, mine.note, mine.starred, mine.tags) == (
        "Compost needs air",
        "try this in spring",
        True,
        ["garden", "soil"],
    )
    assert mine.transcript == done.transcript and mine.takeaways == done.takeaways

    # the same edit again changes nothing, so it makes no version
    again = send(mqtt_listener, "edit", "e2", highlight=highlight_id, starred=True)
    assert again["ok"] is True and again["version"] == mine.version

    regenerated = send(mqtt_listener, "regenerate", "r1", highlight=highlight_id)
    assert regenerated["ok"] is True and regenerated["queued"] == 1, regenerated
    remade = wait_for(
        lambda: [h for h in versions(mqtt_listener, highlight_id) if h.version > mine.version],
        120,
        0.2,
        "the takeaways made again",
    )[0]
    # made again from the same words; the listener's own title, note and star stay
    assert remade.status == "done" and remade.takeaways == done.takeaways
    assert (remade.title, remade.note, remade.starred) == (mine.title, mine.note, True)

    # a title given back to the summarizer is its own again after the next regenerate
    send(mqtt_listener, "edit", "e3", highlight=highlight_id, title=None)
    send(mqtt_listener, "regenerate", "r2", highlight=highlight_id)
    wait_for(
        lambda: latest(mqtt_listener, highlight_id).title == done.title,
        120,
        0.2,
        "the summarizer's title back",
    )

    deleted = send(mqtt_listener, "edit", "d1", highlight=highlight_id, deleted=True)
    wait_for(lambda: latest(mqtt_listener, highlight_id).deleted, 10, 0.05, "the delete")
    undone = send(mqtt_listener, "edit", "d2", highlight=highlight_id, deleted=False)
    assert undone["version"] == deleted["version"] + 1
    wait_for(lambda: not latest(mqtt_listener, highlight_id).deleted, 10, 0.05, "the undo")

    # every version arrived, none applied twice: at least once, in order, no gaps
    seen = sorted({h.version for h in versions(mqtt_listener, highlight_id)})
    assert seen == list(range(1, undone["version"] + 1)), seen

    for request_id, args, why in (
        ("b1", {"highlight": "no-such-id", "starred": True}, "no highlight 'no-such-id'"),
        ("b2", {"highlight": highlight_id}, "'edit' needs title, note"),
        ("b3", {"highlight": highlight_id, "starred": "yes"}, "'starred' must be true or false"),
        ("b4", {"highlight": highlight_id, "title": "x" * 201}, "longer than 200"),
        ("b5", {"highlight": highlight_id, "colour": "red"}, "takes no argument 'colour'"),
    ):
        refused = send(mqtt_listener, "edit", request_id, **args)
        assert refused["ok"] is False and why in refused["error"], refused
    both = send(mqtt_listener, "regenerate", "b6", highlight=highlight_id, all=True)
    assert both["ok"] is False and "either" in both["error"]
    assert latest(mqtt_listener, highlight_id).version == undone["version"]
    assert daemon.status()["player"]["status"] == "playing"  # type: ignore[index]


def test_a_ten_megabyte_command_is_refused_in_one_line(
    daemon: Daemon, mqtt_listener: MqttListener
) -> None:
    huge = json.dumps({"value": 50, "pad": "x" * 10_000_000}).encode()
    mqtt_listener.client.publish(f"{COMMANDS}/volume", huge, qos=1)
    send(mqtt_listener, "status", "after")  # answered in order: the huge one was seen first
    refused = [a for a in mqtt_listener.payloads("cmd/result") if a.get("command") == "volume"]
    assert len(refused) == 1 and refused[0]["ok"] is False
    assert "10,000,0" in refused[0]["error"] and "at most 65,536" in refused[0]["error"]
    lines = [line for line in daemon.log.splitlines() if "the payload is 10,000,0" in line]
    assert len(lines) == 1, lines
    status = daemon.status()
    assert status is not None and status["player"]["status"] == "playing"
    assert status["player"]["volume"] != 50


def test_a_thousand_commands_in_a_second_are_each_answered_and_the_speaker_plays_on(
    daemon: Daemon, mqtt_listener: MqttListener
) -> None:
    for n in range(1000):
        payload = json.dumps({"id": f"v{n}", "value": n % 101}).encode()
        mqtt_listener.client.publish(f"{COMMANDS}/volume", payload, qos=1)

    def answers() -> dict[str, dict[str, Any]]:
        found = mqtt_listener.payloads("cmd/result")
        return {a["id"]: a for a in found if str(a.get("id", "")).startswith("v")}

    answered = wait_for(lambda: len(answers()) == 1000 and answers(), 120, 0.1, "1000 answers")
    accepted = [n for n in range(1000) if answered[f"v{n}"]["ok"]]
    refused = [answered[f"v{n}"] for n in range(1000) if not answered[f"v{n}"]["ok"]]
    # the burst allowance runs some, the rest are refused with the reason, none lost
    assert accepted and refused, (len(accepted), len(refused))
    assert all("too many 'volume' commands" in a["error"] for a in refused)
    lines = [line for line in daemon.log.splitlines() if "too many 'volume'" in line]
    assert len(lines) == len(refused)
    status = daemon.status()
    assert status is not None and status["player"]["status"] == "playing"
    # commands run in the order they came: the last one run set the volume
    assert status["player"]["volume"] == pytest.approx(accepted[-1] % 101)
