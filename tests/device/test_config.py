"""The inputs part of the config file: defaults, YAML, and mistakes named clearly."""

from __future__ import annotations

import logging

import pytest

from earmark.config import load_text
from earmark.config.inputs import (
    ButtonConfig,
    HeadphonesDriver,
    InputsConfig,
    KeyConfig,
    LedDriver,
)
from earmark.config.model import Config
from earmark.device.keymap import resolve_keys
from earmark.errors import ConfigError

YAML = """
inputs:
  gpio: mock
  timing: {debounce: 0.01, multi_press: 0.3, hold: 1.5}
  buttons:
    - pin: 5
      gestures: {single: snip, long: play_pause}
    - {pin: 6, pull_up: false, name: big red button}
  led: {pin: 12, brightness: 0.4}
  headphones:
    name_patterns: ["*(AVRCP)*", "Jabra*"]
    grab: true
    keys:
      - codes: [KEY_NEXTSONG, 164]
        gestures: {single: snip}
"""


def test_defaults_are_a_one_button_box_and_tap_your_headphones() -> None:
    config = InputsConfig()
    assert config.gpio == "none"
    assert config.buttons[0].gestures == {
        "single": "snip",
        "double": "play_pause",
        "triple": "skip_back",
        "long": "next",
    }
    next_key = config.headphones.keys[0]
    assert next_key.codes == ("KEY_NEXTSONG",)
    assert next_key.gestures == {"single": "snip", "double": "next"}


def test_inputs_load_from_yaml() -> None:
    inputs = load_text(YAML, Config).inputs
    assert inputs.gpio == "mock"
    assert inputs.timing.hold == 1.5
    assert inputs.buttons[0] == ButtonConfig(5, gestures={"single": "snip", "long": "play_pause"})
    assert inputs.buttons[1].label == "big red button"
    assert inputs.led.brightness == 0.4
    assert inputs.headphones.keys == (KeyConfig(("KEY_NEXTSONG", "164"), {"single": "snip"}),)


@pytest.mark.parametrize(
    ("yaml", "message"),
    [
        ("inputs: {buttons: [{gestures: {quadruple: snip}}]}", "gesture 'quadruple' is not one"),
        ("inputs: {buttons: [{gestures: {single: dance}}]}", "action 'dance' is not one of"),
        ("inputs: {gpio: pigpio}", "'pigpio' is not one of: gpio, mock, none"),
        ("inputs: {buttons: [{pin: 4}], led: {pin: 4}}", "GPIO4 is used twice"),
        ("inputs: {timing: {debounce: 0.3}}", "debounce': must be under half of multi_press"),
        ("inputs: {headphones: {keys: [{gestures: {single: snip}}]}}", "at least one code"),
    ],
)
def test_mistakes_are_one_line_config_errors(yaml: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as error:
        load_text(yaml, Config)
    assert "\n" not in str(error.value)


def test_bad_key_name_is_logged_and_the_rest_still_map(caplog: pytest.LogCaptureFixture) -> None:
    keys = (KeyConfig(("KEY_NEXTSNOG", "KEY_NEXTSONG"), {"single": "snip"}),)
    with caplog.at_level(logging.ERROR):
        groups = resolve_keys(keys)
    assert groups[0].codes == (163,)
    assert "'KEY_NEXTSNOG' is not a key name like KEY_NEXTSONG" in caplog.text


def test_headphones_and_led_are_real_by_default() -> None:
    config = InputsConfig()
    assert config.headphones.driver is HeadphonesDriver.EVDEV
    assert config.led.driver is LedDriver.GPIO


def test_headphones_and_led_can_be_fakes_or_off() -> None:
    inputs = load_text("inputs: {headphones: {driver: fake}, led: {driver: off}}", Config).inputs
    assert inputs.headphones.driver is HeadphonesDriver.FAKE
    assert inputs.led.driver is LedDriver.OFF
    inputs = load_text("inputs: {headphones: {driver: off}, led: {driver: fake}}", Config).inputs
    assert inputs.headphones.driver is HeadphonesDriver.OFF
    assert inputs.led.driver is LedDriver.FAKE


def test_the_old_headphones_switch_is_an_unknown_option() -> None:
    with pytest.raises(ConfigError) as error:
        load_text("inputs:\n  headphones:\n    enabled: false\n", Config, "box.yaml")
    assert (error.value.line, error.value.key) == (3, "inputs.headphones.enabled")


@pytest.mark.parametrize(
    ("yaml", "key", "allowed"),
    [
        (
            "inputs:\n  headphones:\n    driver: bluez\n",
            "inputs.headphones.driver",
            "evdev, fake, off",
        ),
        ("inputs:\n  led:\n    driver: pwm\n", "inputs.led.driver", "gpio, fake, off"),
    ],
)
def test_a_typo_in_a_driver_names_line_key_and_the_allowed_values(
    yaml: str, key: str, allowed: str
) -> None:
    with pytest.raises(ConfigError) as error:
        load_text(yaml, Config, "box.yaml")
    assert (error.value.line, error.value.key) == (3, key)
    assert f"is not one of: {allowed}" in str(error.value)
