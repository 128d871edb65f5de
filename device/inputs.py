"""The box's inputs as one object the composition root builds, starts and stops.

Like gpiozero's pin factory, config picks each adapter: ``inputs.gpio`` the pins of the
buttons and the LED, ``inputs.headphones.driver`` where key presses come from and
``inputs.led.driver`` what shows the status light; each is the real hardware, a fake
(:mod:`earmark.device.fakes`) or off. The registries below map each choice to its builder.

``build_inputs`` never raises for hardware trouble: a pin in use, a missing GPIO driver
or an unreadable input folder is one log line, and the rest of the inputs still work.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from earmark.actions import InputEvent
from earmark.config.inputs import (
    GpioMode,
    HeadphonesConfig,
    HeadphonesDriver,
    InputsConfig,
    LedConfig,
    LedDriver,
)
from earmark.device.buttons import ButtonBox
from earmark.device.evdev_io import OpenDevice, open_input_device
from earmark.device.fakes import FakeHeadphones, FakeLed
from earmark.device.gesture_clock import GestureClock
from earmark.device.gpio import GpioUnavailable, open_led, pin_factory
from earmark.device.headphones import HeadphoneKeys
from earmark.device.light import StatusLight

log = logging.getLogger(__name__)

Trace = Callable[[str], None]


class Headphones(Protocol):
    """Headphone keys, turned into actions from ``start`` until ``stop``."""

    @property
    def devices(self) -> list[str]: ...

    def start(self) -> None: ...

    def stop(self) -> None: ...


class Inputs:
    def __init__(
        self,
        clock: GestureClock,
        buttons: ButtonBox | None,
        light: StatusLight | None,
        headphones: Headphones | None,
    ) -> None:
        self.clock = clock
        self.buttons = buttons
        self.light = light
        self.headphones = headphones
        self._stopped = False

    def start(self) -> None:
        self.clock.start()
        if self.headphones is not None:
            self.headphones.start()

    def stop(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        if self.headphones is not None:
            self.headphones.stop()
        if self.buttons is not None:
            self.buttons.close()
        if self.light is not None:
            self.light.close()
        self.clock.stop()


@dataclass(frozen=True)
class _Wiring:
    """What every headphones builder may need besides its config."""

    clock: GestureClock
    on_input: Callable[[InputEvent], None]
    trace: Trace
    input_dir: Path
    open_device: OpenDevice
    match_all: bool


def _evdev_headphones(config: HeadphonesConfig, wiring: _Wiring) -> Headphones:
    return HeadphoneKeys(
        config,
        wiring.clock,
        wiring.on_input,
        wiring.trace,
        input_dir=wiring.input_dir,
        open_device=wiring.open_device,
        match_all=wiring.match_all,
    )


def _fake_headphones(config: HeadphonesConfig, wiring: _Wiring) -> Headphones:
    return FakeHeadphones(config, wiring.clock, wiring.on_input, wiring.trace)


def _no_headphones(config: HeadphonesConfig, wiring: _Wiring) -> None:
    return None


HEADPHONES: dict[HeadphonesDriver, Callable[[HeadphonesConfig, _Wiring], Headphones | None]] = {
    HeadphonesDriver.EVDEV: _evdev_headphones,
    HeadphonesDriver.FAKE: _fake_headphones,
    HeadphonesDriver.OFF: _no_headphones,
}


def _gpio_led(config: LedConfig, factory: Any, trace: Trace) -> Any:
    if config.pin is None or factory is None:
        return None
    try:
        led = open_led(config.pin, config.active_high, factory)
    except GpioUnavailable as exc:
        log.error("status LED left out: %s", exc)
        return None
    trace(f"status LED on GPIO{config.pin}")
    return led


def _fake_led(config: LedConfig, factory: Any, trace: Trace) -> Any:
    trace("status LED: a fake (inputs.led.driver: fake)")
    return FakeLed()


def _no_led(config: LedConfig, factory: Any, trace: Trace) -> None:
    return None


# each returns a dimmable LED (``.value`` 0..1 and ``.close()``) or None
LEDS: dict[LedDriver, Callable[[LedConfig, Any, Trace], Any]] = {
    LedDriver.GPIO: _gpio_led,
    LedDriver.FAKE: _fake_led,
    LedDriver.OFF: _no_led,
}


def build_inputs(
    config: InputsConfig,
    on_input: Callable[[InputEvent], None],
    *,
    pin_factory: Any = None,
    input_dir: Path = Path("/dev/input"),
    open_device: OpenDevice = open_input_device,
    trace: Trace | None = None,
    match_all: bool = False,
) -> Inputs:
    """The inputs ``config`` asks for, calling ``on_input`` (from input threads) per action.

    ``on_input`` must be quick and thread-safe (hand over to the event loop). ``trace``
    gets one line per device found and per key or button event (default: debug log);
    ``pin_factory``, ``open_device`` and ``match_all`` are for tests and ``earmark inputs
    --watch``.
    """
    trace = trace or (lambda line: log.debug("%s", line))
    clock = GestureClock()
    factory = _pins(config, pin_factory)
    buttons = None
    if factory is not None and config.buttons:
        buttons = ButtonBox(config.buttons, config.timing, factory, clock, on_input, trace)
    led = LEDS[config.led.driver](config.led, factory, trace)
    light = None if led is None else StatusLight(led, config.led.brightness)
    wiring = _Wiring(clock, on_input, trace, input_dir, open_device, match_all)
    headphones = HEADPHONES[config.headphones.driver](config.headphones, wiring)
    return Inputs(clock, buttons, light, headphones)


def _pins(config: InputsConfig, factory: Any) -> Any:
    """The pin factory, if anything is on the pins and one works (else None, logged)."""
    users = ["buttons"] if config.buttons else []
    if config.led.driver == LedDriver.GPIO and config.led.pin is not None:
        users.append("LED")
    if config.gpio == GpioMode.NONE or not users:
        return None
    if factory is not None:
        return factory
    try:
        return pin_factory(config.gpio)
    except GpioUnavailable as exc:
        log.error("%s left out: %s", " and ".join(users), exc)
        return None
