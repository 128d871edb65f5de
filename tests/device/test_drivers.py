"""Config picks each adapter, like gpiozero's pin factory: real, fake or off.

The fakes run the real code behind them: fake headphones feed input_event bytes through
the reader that reads /dev/input, and a fake LED is driven by the same StatusLight.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from evdev import ecodes
from gpiozero import LED
from gpiozero.pins.mock import MockFactory

from earmark.actions import Action
from earmark.config.inputs import (
    HeadphonesConfig,
    HeadphonesDriver,
    InputsConfig,
    LedConfig,
    LedDriver,
    PressTiming,
)
from earmark.device import Inputs, LightState, StatusLight
from earmark.device.fakes import FakeHeadphones, FakeLed

from ..support import wait_for
from .conftest import FakeInputs, Recorder

StartInputs = Callable[..., Inputs]


def fake_headphones(start_inputs: StartInputs) -> FakeHeadphones:
    timing = PressTiming(debounce=0.0, multi_press=0.12, hold=0.3)
    headphones = HeadphonesConfig(driver=HeadphonesDriver.FAKE, timing=timing)
    inputs = start_inputs(InputsConfig(gpio="none", headphones=headphones))
    assert isinstance(inputs.headphones, FakeHeadphones)
    return inputs.headphones


def fake_light(start_inputs: StartInputs, brightness: float = 1.0) -> tuple[StatusLight, FakeLed]:
    led = LedConfig(driver=LedDriver.FAKE, brightness=brightness)
    off = HeadphonesConfig(driver=HeadphonesDriver.OFF)
    light = start_inputs(InputsConfig(gpio="none", led=led, headphones=off)).light
    assert light is not None and isinstance(light.led, FakeLed)
    return light, light.led


def test_a_fake_headphone_press_reaches_on_input_as_the_mapped_action(
    start_inputs: StartInputs, recorder: Recorder
) -> None:
    fake_headphones(start_inputs).press(ecodes.KEY_NEXTSONG)
    assert recorder.wait(1) == [Action.SNIP]
    assert recorder.events[0].source == "headset fake headphones (AVRCP)"


def test_fake_headphones_take_key_names_and_double_taps(
    start_inputs: StartInputs, recorder: Recorder
) -> None:
    headphones = fake_headphones(start_inputs)
    headphones.press("KEY_PLAYCD")
    headphones.press("KEY_PAUSECD")
    assert recorder.wait(1) == [Action.SNIP]


def test_fake_headphones_hold_a_key_down(start_inputs: StartInputs, recorder: Recorder) -> None:
    headphones = fake_headphones(start_inputs)
    headphones.down(ecodes.KEY_PREVIOUSSONG)
    headphones.up(ecodes.KEY_PREVIOUSSONG)
    assert recorder.wait(1) == [Action.SKIP_BACK]


def test_fake_headphones_leave_the_real_input_folder_alone(
    start_inputs: StartInputs, fake_inputs: FakeInputs, recorder: Recorder
) -> None:
    real = fake_inputs.plug("WH-1000XM4 (AVRCP)")
    headphones = fake_headphones(start_inputs)
    wait_for(lambda: bool(headphones.devices), 3, what="the fake headset found")
    real.tap(ecodes.KEY_NEXTSONG)
    headphones.press(ecodes.KEY_STOPCD)
    assert recorder.wait(1) == [Action.PAUSE]
    assert headphones.devices == ["headset fake headphones (AVRCP)"]
    assert fake_inputs.opened == []


def test_a_fake_led_records_the_status_light_pattern(start_inputs: StartInputs) -> None:
    light, led = fake_light(start_inputs)
    light.show(LightState.IDLE)
    wait_for(lambda: led.value == pytest.approx(0.08), 2, what="dim glow")
    start = len(led.values)
    light.flash(LightState.SNIP_SAVED)
    wait_for(lambda: len(led.values) >= start + 7, 2, what="three blinks and back")
    since = led.values[start:]
    blink = since.index(1.0)  # an idle step may come before the flash cuts in
    assert since[blink : blink + 6] == [1.0, 0.0] * 3
    assert since[blink + 6] == pytest.approx(0.08)


def test_a_fake_led_is_capped_by_brightness(start_inputs: StartInputs) -> None:
    light, led = fake_light(start_inputs, brightness=0.5)
    start = len(led.values)
    light.show(LightState.ERROR)
    wait_for(lambda: led.values[start:].count(0.5) >= 2, 2, what="half-bright blinks")
    assert max(led.values[start:]) == 0.5


def test_a_fake_led_is_closed_with_the_inputs(start_inputs: StartInputs) -> None:
    light, led = fake_light(start_inputs)
    light.close()
    assert led.closed


def test_off_builds_neither_headphones_nor_led(
    start_inputs: StartInputs, mock_factory: MockFactory
) -> None:
    config = InputsConfig(
        gpio="mock",
        buttons=(),
        led=LedConfig(driver=LedDriver.OFF, pin=18),
        headphones=HeadphonesConfig(driver=HeadphonesDriver.OFF),
    )
    inputs = start_inputs(config)
    assert inputs.headphones is None and inputs.light is None
    LED(18, pin_factory=mock_factory).close()  # the pin was left free


def test_a_gpio_led_without_pins_is_not_built(start_inputs: StartInputs) -> None:
    config = InputsConfig(gpio="none", led=LedConfig(driver=LedDriver.GPIO, pin=18))
    assert start_inputs(config).light is None
