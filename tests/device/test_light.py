"""The status LED on a mock PWM pin: each state looks different, flashes go back."""

from __future__ import annotations

import logging
from collections.abc import Callable

import pytest
from gpiozero import LED
from gpiozero.pins.mock import MockFactory

from earmark.config.inputs import InputsConfig, LedConfig
from earmark.device import Inputs, LightState, StatusLight
from earmark.device.light import PATTERNS

from ..support import wait_for

StartInputs = Callable[..., Inputs]


def light_on(start_inputs: StartInputs, brightness: float = 1.0) -> StatusLight:
    config = InputsConfig(gpio="mock", buttons=(), led=LedConfig(pin=18, brightness=brightness))
    light = start_inputs(config).light
    assert light is not None
    return light


def values_since(factory: MockFactory, start: int) -> list[float]:
    return [float(s.state) for s in factory.pin(18).states[start:]]


def test_every_state_has_a_pattern_of_its_own() -> None:
    assert set(PATTERNS) == set(LightState)
    assert len(set(PATTERNS.values())) == len(LightState)


def test_idle_is_a_steady_dim_glow(start_inputs: StartInputs, mock_factory: MockFactory) -> None:
    light = light_on(start_inputs)
    light.show(LightState.IDLE)
    wait_for(lambda: mock_factory.pin(18).state == pytest.approx(0.08), 2, what="dim glow")


def test_error_blinks_fully_on_and_off(
    start_inputs: StartInputs, mock_factory: MockFactory
) -> None:
    light = light_on(start_inputs)
    start = len(mock_factory.pin(18).states)
    light.show(LightState.ERROR)
    wait_for(lambda: values_since(mock_factory, start).count(1.0) >= 3, 2, what="blinks")
    assert 0.0 in values_since(mock_factory, start)


def test_snip_flash_goes_back_to_the_shown_state(
    start_inputs: StartInputs, mock_factory: MockFactory
) -> None:
    light = light_on(start_inputs)
    light.show(LightState.IDLE)
    wait_for(lambda: mock_factory.pin(18).state == pytest.approx(0.08), 2, what="dim glow")
    start = len(mock_factory.pin(18).states)
    light.flash(LightState.SNIP_SAVED)
    wait_for(lambda: values_since(mock_factory, start).count(1.0) == 3, 2, what="three blinks")
    wait_for(lambda: mock_factory.pin(18).state == pytest.approx(0.08), 2, what="back to idle")
    assert light.state is LightState.IDLE


def test_brightness_caps_the_led(start_inputs: StartInputs, mock_factory: MockFactory) -> None:
    light = light_on(start_inputs, brightness=0.5)
    start = len(mock_factory.pin(18).states)
    light.show(LightState.ERROR)
    wait_for(lambda: 0.5 in values_since(mock_factory, start), 2, what="a half-bright blink")
    assert max(values_since(mock_factory, start)) == 0.5


def test_led_pin_in_use_is_logged_and_the_speaker_goes_on(
    start_inputs: StartInputs, mock_factory: MockFactory, caplog: pytest.LogCaptureFixture
) -> None:
    squatter = LED(18, pin_factory=mock_factory)
    with caplog.at_level(logging.ERROR):
        inputs = start_inputs(InputsConfig(gpio="mock", led=LedConfig(pin=18)))
    assert inputs.light is None
    assert inputs.buttons is not None and inputs.buttons.labels == ["button GPIO17"]
    assert "status LED left out: GPIO18 is already in use" in caplog.text
    squatter.close()
