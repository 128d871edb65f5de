"""The box's inputs as one object the composition root builds, starts and stops.

``build_inputs`` never raises for hardware trouble: a pin in use, a missing GPIO driver
or an unreadable input folder is one log line, and the rest of the inputs still work.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from earmark.actions import InputEvent
from earmark.config.inputs import InputsConfig
from earmark.device.buttons import ButtonBox
from earmark.device.evdev_io import OpenDevice, open_input_device
from earmark.device.gesture_clock import GestureClock
from earmark.device.gpio import GpioUnavailable, open_led, pin_factory
from earmark.device.headphones import HeadphoneKeys
from earmark.device.light import StatusLight

log = logging.getLogger(__name__)

Trace = Callable[[str], None]


class Inputs:
    def __init__(
        self,
        clock: GestureClock,
        buttons: ButtonBox | None,
        light: StatusLight | None,
        headphones: HeadphoneKeys | None,
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
    ``open_device`` and ``match_all`` are for tests and ``earmark inputs --watch``.
    """
    trace = trace or (lambda line: log.debug("%s", line))
    clock = GestureClock()
    buttons, light = _build_gpio(config, on_input, pin_factory, clock, trace)
    headphones = None
    if config.headphones.enabled:
        headphones = HeadphoneKeys(
            config.headphones,
            clock,
            on_input,
            trace,
            input_dir=input_dir,
            open_device=open_device,
            match_all=match_all,
        )
    return Inputs(clock, buttons, light, headphones)


def _build_gpio(
    config: InputsConfig,
    on_input: Callable[[InputEvent], None],
    factory: Any,
    clock: GestureClock,
    trace: Trace,
) -> tuple[ButtonBox | None, StatusLight | None]:
    if config.gpio == "none" or not (config.buttons or config.led.pin is not None):
        return None, None
    if factory is None:
        try:
            factory = pin_factory(config.gpio)
        except GpioUnavailable as exc:
            log.error("buttons and LED left out: %s", exc)
            return None, None
    buttons = ButtonBox(config.buttons, config.timing, factory, clock, on_input, trace)
    light = None
    if config.led.pin is not None:
        try:
            led = open_led(config.led.pin, config.led.active_high, factory)
        except GpioUnavailable as exc:
            log.error("status LED left out: %s", exc)
        else:
            light = StatusLight(led, config.led.brightness)
            trace(f"status LED on GPIO{config.led.pin}")
    return buttons, light
