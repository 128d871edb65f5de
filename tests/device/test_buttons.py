"""The box's buttons through gpiozero's MockFactory: real gpiozero code, pressed by the test."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from gpiozero import Button
from gpiozero.pins.mock import MockFactory

from earmark.actions import Action
from earmark.config.inputs import ButtonConfig, InputsConfig
from earmark.device import Inputs

from ..support import wait_for
from .conftest import QUICK, Recorder, button_config

StartInputs = Callable[..., Inputs]


# a finger: down and up for three debounce times each (sleeping paces the stimulus; the
# tests wait for results on conditions)
FINGER = QUICK.debounce * 3


def tap(factory: MockFactory, pin: int = 17, chatter: int = 0) -> None:
    """Press and release; with ``chatter``, the contacts bounce each way (microseconds apart)."""
    for _ in range(chatter):
        factory.pin(pin).drive_low()
        factory.pin(pin).drive_high()
    factory.pin(pin).drive_low()
    time.sleep(FINGER)
    for _ in range(chatter):
        factory.pin(pin).drive_high()
        factory.pin(pin).drive_low()
    factory.pin(pin).drive_high()
    time.sleep(FINGER)


def settled(inputs: Inputs) -> bool:
    """No button has a gesture in progress."""
    assert inputs.buttons is not None
    return all(t.recogniser.due() is None for t in inputs.buttons._tracked)


def test_single_press_saves_a_snip(
    start_inputs: StartInputs, mock_factory: MockFactory, recorder: Recorder
) -> None:
    start_inputs(button_config())
    pressed_at = time.monotonic()
    tap(mock_factory)
    assert recorder.wait(1) == [Action.SNIP]
    event = recorder.events[0]
    assert event.source == "button GPIO17"
    assert pressed_at <= event.at <= pressed_at + 0.05  # the press time, not the report time


def test_double_press_is_play_pause_and_triple_is_skip_back(
    start_inputs: StartInputs, mock_factory: MockFactory, recorder: Recorder
) -> None:
    start_inputs(button_config())
    tap(mock_factory)
    tap(mock_factory)
    assert recorder.wait(1) == [Action.PLAY_PAUSE]
    tap(mock_factory)
    tap(mock_factory)
    tap(mock_factory)
    assert recorder.wait(2) == [Action.PLAY_PAUSE, Action.SKIP_BACK]


def test_long_press_is_reported_while_still_held(
    start_inputs: StartInputs, mock_factory: MockFactory, recorder: Recorder
) -> None:
    start_inputs(button_config())
    mock_factory.pin(17).drive_low()
    assert recorder.wait(1) == [Action.NEXT]
    mock_factory.pin(17).drive_high()


def test_button_held_far_beyond_the_hold_time_fires_once(
    start_inputs: StartInputs, mock_factory: MockFactory, recorder: Recorder
) -> None:
    start_inputs(button_config())
    mock_factory.pin(17).drive_low()
    recorder.wait(1)
    time.sleep(QUICK.hold * 4)  # keep holding (the fake-clock test holds for a minute)
    assert recorder.actions == [Action.NEXT]
    mock_factory.pin(17).drive_high()
    time.sleep(FINGER)
    tap(mock_factory)
    assert recorder.wait(2) == [Action.NEXT, Action.SNIP]


def test_chattering_button_gives_one_snip(
    start_inputs: StartInputs, mock_factory: MockFactory, recorder: Recorder
) -> None:
    inputs = start_inputs(button_config({"single": "snip", "double": "play_pause"}))
    tap(mock_factory, chatter=5)
    recorder.wait(1)
    wait_for(lambda: settled(inputs), 2, what="buttons settled")
    assert recorder.actions == [Action.SNIP]


def test_twenty_presses_in_a_second_are_twenty_snips(
    start_inputs: StartInputs, mock_factory: MockFactory, recorder: Recorder
) -> None:
    inputs = start_inputs(button_config({"single": "snip"}))
    for _ in range(20):
        mock_factory.pin(17).drive_low()
        mock_factory.pin(17).drive_high()  # chatter on the press
        mock_factory.pin(17).drive_low()
        time.sleep(0.025)  # pacing the finger, not waiting for a result
        mock_factory.pin(17).drive_high()
        time.sleep(0.025)
    assert recorder.wait(20) == [Action.SNIP] * 20
    wait_for(lambda: settled(inputs), 2, what="buttons settled")
    assert len(recorder.actions) == 20


def test_pull_down_button_is_pressed_by_driving_high(
    start_inputs: StartInputs, mock_factory: MockFactory, recorder: Recorder
) -> None:
    button = ButtonConfig(22, pull_up=False, gestures={"single": "play_pause"})
    start_inputs(button_config(buttons=(button,)))
    mock_factory.pin(22).drive_high()
    mock_factory.pin(22).drive_low()
    assert recorder.wait(1) == [Action.PLAY_PAUSE]


def test_pin_in_use_is_logged_and_the_other_buttons_still_work(
    start_inputs: StartInputs,
    mock_factory: MockFactory,
    recorder: Recorder,
    caplog: pytest.LogCaptureFixture,
) -> None:
    squatter = Button(17, pin_factory=mock_factory)  # another program's button
    buttons = (ButtonConfig(17), ButtonConfig(27, gestures={"single": "snip"}))
    with caplog.at_level(logging.ERROR):
        inputs = start_inputs(button_config(buttons=buttons))
    assert "button GPIO17 left out: GPIO17 is already in use" in caplog.text
    assert inputs.buttons is not None and inputs.buttons.labels == ["button GPIO27"]
    tap(mock_factory, 27)
    assert recorder.wait(1) == [Action.SNIP]
    squatter.close()


@pytest.mark.skipif(bool(list(Path("/dev").glob("gpiochip*"))), reason="this machine has GPIO")
def test_no_gpio_driver_is_logged_and_the_headphones_still_work(
    start_inputs: StartInputs, caplog: pytest.LogCaptureFixture
) -> None:
    config = InputsConfig(gpio="gpio", buttons=(ButtonConfig(17),))  # headphones on
    with caplog.at_level(logging.ERROR):
        inputs = start_inputs(config, pin_factory=None)
    assert "buttons left out: no GPIO pin driver works here" in caplog.text
    assert inputs.buttons is None and inputs.headphones is not None
