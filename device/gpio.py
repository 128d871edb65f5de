"""The one module that speaks gpiozero: pin factories, buttons and a dimmable LED.

gpiozero's devices talk to a *pin factory*; "gpio" uses gpiozero's default (lgpio on a
Pi), "mock" its MockFactory with PWM-capable pins, so the same code runs on a desktop
and in tests.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Callable
from typing import Any

from gpiozero import PWMLED, Button, Device
from gpiozero.pins.mock import MockFactory, MockPWMPin

from earmark.errors import EarmarkError

log = logging.getLogger(__name__)


class GpioUnavailable(EarmarkError):
    """The pins cannot be used; the message is one line a listener can act on."""


def pin_factory(mode: str) -> Any:
    """The factory for ``mode`` ("gpio" or "mock")."""
    if mode == "mock":
        return MockFactory(pin_class=MockPWMPin)
    with warnings.catch_warnings(record=True) as fallbacks:
        warnings.simplefilter("always")
        try:
            factory = Device.pin_factory or Device._default_pin_factory()
        except Exception as exc:
            tried = "; ".join(str(w.message) for w in fallbacks)
            raise GpioUnavailable(
                f"no GPIO pin driver works here ({exc}; {tried}); on a Raspberry Pi install "
                "python3-lgpio, elsewhere set inputs.gpio to 'mock' or 'none'"
            ) from None
    for w in fallbacks:
        log.debug("gpio: %s", w.message)
    return factory


def open_button(
    pin: int, pull_up: bool, factory: Any, on_change: Callable[[bool], None]
) -> Callable[[], None]:
    """Watch a button; ``on_change(pressed)`` on each edge. Returns the close function."""
    try:
        # gpiozero's own bounce_time is off: the gesture recogniser debounces, the same
        # way on every pin factory (MockFactory ignores bounce_time anyway)
        button = Button(pin, pull_up=pull_up, bounce_time=None, pin_factory=factory)
    except Exception as exc:
        raise GpioUnavailable(_pin_problem(pin, exc)) from None
    button.when_pressed = lambda: on_change(True)
    button.when_released = lambda: on_change(False)
    return button.close


def open_led(pin: int, active_high: bool, factory: Any) -> Any:
    """A PWM LED (``.value`` 0..1) on ``pin``."""
    try:
        return PWMLED(pin, active_high=active_high, pin_factory=factory)
    except Exception as exc:
        raise GpioUnavailable(_pin_problem(pin, exc)) from None


def _pin_problem(pin: int, exc: Exception) -> str:
    reason = str(exc) or type(exc).__name__
    if "in use" in reason or "busy" in reason.lower():
        return f"GPIO{pin} is already in use ({reason}); stop the other program or pick another pin"
    return f"GPIO{pin} cannot be used ({reason}); check the pin number and `earmark inputs --check`"
