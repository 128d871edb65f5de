"""Headphone keys: real input_event bytes through FIFOs into the reader /dev/input uses."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable

import pytest
from evdev import ecodes

from earmark.actions import Action
from earmark.config.inputs import KeyConfig
from earmark.device import Inputs, build_inputs
from earmark.device.evdev_io import encode

from ..support import wait_for
from .conftest import FakeInputs, Recorder, headphones_config

StartInputs = Callable[..., Inputs]
HEADSET = "WH-1000XM4 (AVRCP)"
NEXT, PREVIOUS = ecodes.KEY_NEXTSONG, ecodes.KEY_PREVIOUSSONG
PLAY, PAUSE = ecodes.KEY_PLAYCD, ecodes.KEY_PAUSECD


def found(inputs: Inputs, count: int = 1) -> list[str]:
    headphones = inputs.headphones
    assert headphones is not None
    wait_for(lambda: len(headphones.devices) >= count, 3, what=f"{count} headset(s) found")
    return headphones.devices


def settled(inputs: Inputs) -> bool:
    return all(t.recogniser.due() is None for t in inputs.clock._inputs)


def test_next_key_saves_a_snip(
    start_inputs: StartInputs, fake_inputs: FakeInputs, recorder: Recorder
) -> None:
    headset = fake_inputs.plug(HEADSET)
    inputs = start_inputs(headphones_config())
    found(inputs)
    headset.tap(NEXT)
    assert recorder.wait(1) == [Action.SNIP]
    assert recorder.events[0].source == f"headset {HEADSET}"


def test_double_tap_of_next_is_the_real_next(
    start_inputs: StartInputs, fake_inputs: FakeInputs, recorder: Recorder
) -> None:
    headset = fake_inputs.plug(HEADSET)
    inputs = start_inputs(headphones_config())
    found(inputs)
    headset.tap(NEXT)
    headset.tap(NEXT)
    assert recorder.wait(1) == [Action.NEXT]


def test_double_tap_of_play_and_pause_saves_a_snip(
    start_inputs: StartInputs, fake_inputs: FakeInputs, recorder: Recorder
) -> None:
    headset = fake_inputs.plug(HEADSET)
    inputs = start_inputs(headphones_config())
    found(inputs)
    # headphones alternate PLAYCD and PAUSECD by their own idea of the state
    headset.tap(PLAY)
    headset.tap(PAUSE)
    assert recorder.wait(1) == [Action.SNIP]
    headset.tap(PLAY)
    assert recorder.wait(2) == [Action.SNIP, Action.PLAY_PAUSE]


def test_held_key_repeats_never_fire_twice(
    start_inputs: StartInputs, fake_inputs: FakeInputs, recorder: Recorder
) -> None:
    headset = fake_inputs.plug(HEADSET)
    inputs = start_inputs(
        headphones_config(keys=(KeyConfig(("KEY_NEXTSONG",), {"single": "snip"}),))
    )
    found(inputs)
    headset.key(NEXT, 1)
    for _ in range(30):
        headset.key(NEXT, 2)
    headset.key(NEXT, 0)
    recorder.wait(1)
    wait_for(lambda: settled(inputs), 2, what="keys settled")
    assert recorder.actions == [Action.SNIP]


def test_keys_can_be_given_by_number(
    start_inputs: StartInputs, fake_inputs: FakeInputs, recorder: Recorder
) -> None:
    headset = fake_inputs.plug(HEADSET)
    keys = (KeyConfig(("165",), {"single": "previous"}),)
    inputs = start_inputs(headphones_config(keys=keys))
    found(inputs)
    headset.tap(PREVIOUS)
    assert recorder.wait(1) == [Action.PREVIOUS]


def test_unknown_key_code_is_logged_once_and_ignored(
    start_inputs: StartInputs,
    fake_inputs: FakeInputs,
    recorder: Recorder,
    caplog: pytest.LogCaptureFixture,
) -> None:
    headset = fake_inputs.plug(HEADSET)
    inputs = start_inputs(headphones_config())
    found(inputs)
    with caplog.at_level(logging.INFO):
        headset.tap(999)
        headset.tap(999)
        headset.tap(NEXT)
        assert recorder.wait(1) == [Action.SNIP]
    lines = [r.getMessage() for r in caplog.records if "key 999" in r.getMessage()]
    assert lines == [
        f"headset {HEADSET}: key 999 (unknown) has no action; map it under inputs.headphones.keys"
    ]


def test_device_with_another_name_is_left_alone(
    start_inputs: StartInputs, fake_inputs: FakeInputs, recorder: Recorder
) -> None:
    keyboard_name = "AT Translated Set 2 keyboard"
    keyboard = fake_inputs.plug(keyboard_name, "event0")
    headset = fake_inputs.plug("Jabra Evolve2 Headset", "event1")
    inputs = start_inputs(headphones_config())
    assert found(inputs) == ["headset Jabra Evolve2 Headset"]
    keyboard.tap(NEXT)
    headset.tap(NEXT)
    recorder.wait(1)
    # a headset plugged later is found by a later rescan, which passes the keyboard again
    fake_inputs.plug(HEADSET, "event2")
    found(inputs, 2)
    wait_for(lambda: settled(inputs), 2, what="keys settled")
    # the keyboard's key did nothing: the one action came from the headset
    assert [(e.action, e.source) for e in recorder.events] == [
        (Action.SNIP, "headset Jabra Evolve2 Headset")
    ]
    # opened once to read its name, never grabbed, and not reopened by the rescans
    looked = [d for d in fake_inputs.opened if d.name == keyboard_name]
    assert [d.grabbed for d in looked] == [False]


def test_hot_plugged_headset_is_found_within_two_seconds(
    start_inputs: StartInputs, fake_inputs: FakeInputs, recorder: Recorder
) -> None:
    inputs = start_inputs(headphones_config(rescan_seconds=1.0))
    assert inputs.headphones is not None and inputs.headphones.devices == []
    headset = fake_inputs.plug(HEADSET, "event4")
    found(inputs)  # within 3 s at most; rescanned every second
    headset.tap(NEXT)
    assert recorder.wait(1) == [Action.SNIP]


def test_unplugged_headset_is_closed_quietly_and_comes_back(
    start_inputs: StartInputs,
    fake_inputs: FakeInputs,
    recorder: Recorder,
    caplog: pytest.LogCaptureFixture,
) -> None:
    headset = fake_inputs.plug(HEADSET)
    inputs = start_inputs(headphones_config())
    found(inputs)
    with caplog.at_level(logging.INFO):
        headset.unplug()
        wait_for(lambda: inputs.headphones.devices == [], 3, what="headset closed")
        again = fake_inputs.plug(HEADSET)
        found(inputs)
        again.tap(NEXT)
        assert recorder.wait(1) == [Action.SNIP]
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert f"headset {HEADSET} disconnected" in caplog.text


def test_device_gone_mid_read_is_not_fatal(
    start_inputs: StartInputs,
    fake_inputs: FakeInputs,
    recorder: Recorder,
    caplog: pytest.LogCaptureFixture,
) -> None:
    dying = fake_inputs.plug("Dying Headset", "event0")
    healthy = fake_inputs.plug(HEADSET, "event1")
    inputs = start_inputs(headphones_config())
    found(inputs, 2)
    dying.write(encode(ecodes.EV_KEY, NEXT, 1)[:10])  # half an event, then the end
    dying.close_writer()
    wait_for(lambda: inputs.headphones.devices == [f"headset {HEADSET}"], 3, what="closed")
    healthy.tap(NEXT)
    assert recorder.wait(1) == [Action.SNIP]
    assert "Traceback" not in caplog.text
    # the same node is not reopened every rescan while it lingers
    assert len([d for d in fake_inputs.opened if d.name == "Dying Headset"]) == 1


def test_node_that_cannot_be_opened_is_logged_once(
    start_inputs: StartInputs,
    fake_inputs: FakeInputs,
    recorder: Recorder,
    caplog: pytest.LogCaptureFixture,
) -> None:
    broken = fake_inputs.unopenable("event0")
    headset = fake_inputs.plug(HEADSET, "event1")
    with caplog.at_level(logging.WARNING):
        inputs = start_inputs(headphones_config())
        found(inputs)
        for _ in range(3):  # several rescans
            headset.tap(NEXT)
        recorder.wait(1)
    lines = [r.getMessage() for r in caplog.records if str(broken) in r.getMessage()]
    assert lines == [f"input {broken} cannot be opened (No such device or address)"]


def test_unreadable_node_says_how_to_fix_it(
    start_inputs: StartInputs, fake_inputs: FakeInputs, caplog: pytest.LogCaptureFixture
) -> None:
    fake_inputs.plug(HEADSET, "event0")
    fake_inputs.denied.add(fake_inputs.folder / "event0")
    with caplog.at_level(logging.WARNING):
        start_inputs(headphones_config())
        wait_for(lambda: "cannot be opened" in caplog.text, 3, what="the warning")
    assert "(Permission denied); cannot read" in caplog.text
    assert "99-earmark-input.rules" in caplog.text


def test_real_evdev_open_of_a_non_device_is_one_warning(
    start_inputs: StartInputs, fake_inputs: FakeInputs, caplog: pytest.LogCaptureFixture
) -> None:
    from earmark.device.evdev_io import open_input_device

    fake_inputs.plug(HEADSET, "event0")
    with caplog.at_level(logging.WARNING):
        start_inputs(headphones_config(), open_device=open_input_device)
        wait_for(lambda: "cannot be opened" in caplog.text, 3, what="the warning")
    assert "Inappropriate ioctl for device" in caplog.text


def test_flooding_device_is_throttled_then_heard_again(
    start_inputs: StartInputs,
    fake_inputs: FakeInputs,
    recorder: Recorder,
    caplog: pytest.LogCaptureFixture,
) -> None:
    headset = fake_inputs.plug(HEADSET)
    keys = (KeyConfig(("KEY_NEXTSONG",), {"single": "snip"}),)
    inputs = start_inputs(headphones_config(keys=keys, flood_limit=40))
    found(inputs)
    flood = (encode(ecodes.EV_KEY, NEXT, 1) + encode(ecodes.EV_KEY, NEXT, 0)) * 5000
    with caplog.at_level(logging.WARNING):
        headset.write(flood)  # blocks until the reader has drained the pipe
        wait_for(
            lambda: "sends more than 40 key events a second" in caplog.text,
            3,
            what="the flood warning",
        )
    assert len(recorder.actions) <= 20
    before = len(recorder.actions)

    def heard_again() -> bool:
        headset.tap(NEXT)
        return len(recorder.actions) > before

    # after the flood's second has passed, a tap is heard again
    wait_for(heard_again, 3, interval=0.2, what="the headset heard again")


def test_headset_is_grabbed_when_configured(
    start_inputs: StartInputs, fake_inputs: FakeInputs
) -> None:
    fake_inputs.plug(HEADSET)
    found(start_inputs(headphones_config(grab=True)))
    assert [d.grabbed for d in fake_inputs.opened] == [True]


def test_missing_input_folder_is_waited_for(
    fake_inputs: FakeInputs, recorder: Recorder, caplog: pytest.LogCaptureFixture
) -> None:
    folder = fake_inputs.folder / "later"
    inputs = build_inputs(
        headphones_config(), recorder, input_dir=folder, open_device=fake_inputs.open
    )
    with caplog.at_level(logging.INFO):
        inputs.start()
        try:
            wait_for(lambda: "no input devices yet" in caplog.text, 3, what="the note")
            os.mkdir(folder)
            fake_inputs.folder = folder
            fake_inputs.plug(HEADSET).tap(NEXT)
            found(inputs)
        finally:
            inputs.stop()
