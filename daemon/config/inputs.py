"""Configuration of the box's inputs and LED (the adapters live in earmark.device).

A *gesture* is how a button or key was pressed: ``single``, ``double``, ``triple`` (taps
in quick succession) or ``long`` (held). Each button and each group of headphone keys maps
gestures to actions (the values of :class:`earmark.actions.Action`).

Like gpiozero's pin factory, config picks for each adapter the real hardware or a fake:
``gpio`` (buttons and LED pins), ``headphones.driver`` and ``led.driver``.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from earmark.actions import Action
from earmark.config.checks import OptionError, above, at_least, between, choose

GESTURES = ("single", "double", "triple", "long")
# the BCM numbers of the GPIOs on the Pi's 40-pin header
PINS = (0, 27)


class GpioMode(enum.StrEnum):
    """The pin factory of the buttons and the LED."""

    GPIO = "gpio"  # real pins
    MOCK = "mock"  # gpiozero's MockFactory: no pins (tests, desktops)
    NONE = "none"  # no buttons and no LED


class HeadphonesDriver(enum.StrEnum):
    """Where headphone key presses come from."""

    EVDEV = "evdev"  # the kernel's input devices (/dev/input), hot-plugged
    FAKE = "fake"  # a stand-in that tests and desktops press
    OFF = "off"


class LedDriver(enum.StrEnum):
    """What shows the status light."""

    GPIO = "gpio"  # an LED on led.pin, through the pin factory ``inputs.gpio`` picks
    FAKE = "fake"  # a stand-in that needs no pin
    OFF = "off"


def _check_gestures(where: str, gestures: dict[str, str]) -> None:
    for gesture, action in gestures.items():
        if gesture not in GESTURES:
            raise ValueError(f"{where}: gesture '{gesture}' is not one of {', '.join(GESTURES)}")
        if action not in {a.value for a in Action}:
            known = ", ".join(a.value for a in Action)
            raise ValueError(f"{where}: action '{action}' is not one of {known}")


@dataclass(frozen=True)
class PressTiming:
    # edges closer than this to the previous one are contact bounce, not presses
    debounce: float = 0.02
    # the longest gap between the taps of a double or triple press; a single press
    # is reported once this has passed without another tap
    multi_press: float = 0.4
    # held at least this long = a long press (reported while still held)
    hold: float = 0.8

    def __post_init__(self) -> None:
        at_least("debounce", self.debounce, 0)
        above("multi_press", self.multi_press, 0)
        above("hold", self.hold, 0)
        # a bounce lockout as long as the gesture windows would swallow real taps
        if self.debounce * 2 >= min(self.multi_press, self.hold):
            raise OptionError("debounce", "must be under half of multi_press and hold")


@dataclass(frozen=True)
class ButtonConfig:
    pin: int = 17
    # True: the button connects the pin to ground (the Pi's internal pull-up holds it high)
    pull_up: bool = True
    # shown in logs and `earmark inputs --watch`; "" = "button GPIO<pin>"
    name: str = ""
    # the natural one-button box: tap to save what was just said, two taps to pause,
    # three to hear the last seconds again, hold to move on to the next episode
    gestures: dict[str, str] = field(
        default_factory=lambda: {
            "single": "snip",
            "double": "play_pause",
            "triple": "skip_back",
            "long": "next",
        }
    )

    def __post_init__(self) -> None:
        between("pin", self.pin, *PINS)
        _check_gestures(f"button on GPIO{self.pin}", self.gestures)

    @property
    def label(self) -> str:
        return self.name or f"button GPIO{self.pin}"


@dataclass(frozen=True)
class LedConfig:
    driver: LedDriver = LedDriver.GPIO
    # None: no LED on the pins (driver gpio)
    pin: int | None = None
    active_high: bool = True
    # the brightest the LED gets (0..1); dim it for a bedroom
    brightness: float = 1.0

    def __post_init__(self) -> None:
        choose(self, "driver", LedDriver)
        if self.pin is not None:
            between("pin", self.pin, *PINS)
        above("brightness", self.brightness, 0)
        if self.brightness > 1:
            raise OptionError("brightness", f"must be at most 1, got {self.brightness}")


@dataclass(frozen=True)
class KeyConfig:
    # key codes as names ("KEY_NEXTSONG") or numbers (163); several codes share one
    # gesture, so alternating KEY_PLAYCD / KEY_PAUSECD taps still count as a double tap
    codes: tuple[str, ...] = ()
    gestures: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.codes:
            raise ValueError("headphones.keys: each entry needs at least one code")
        _check_gestures(f"keys {'/'.join(self.codes)}", self.gestures)


def _default_keys() -> tuple[KeyConfig, ...]:
    # "tap your headphones": the next-track key saves a snip; a double tap of
    # play/pause saves one too (for headphones without a next key); the real
    # next / previous stay one gesture away.
    return (
        KeyConfig(("KEY_NEXTSONG",), {"single": "snip", "double": "next"}),
        KeyConfig(
            ("KEY_PLAYCD", "KEY_PAUSECD", "KEY_PLAYPAUSE", "KEY_MEDIA"),
            {"single": "play_pause", "double": "snip"},
        ),
        KeyConfig(("KEY_PREVIOUSSONG",), {"single": "skip_back", "double": "previous"}),
        KeyConfig(("KEY_STOPCD",), {"single": "pause"}),
        KeyConfig(("KEY_REWIND",), {"single": "skip_back"}),
        KeyConfig(("KEY_FASTFORWARD",), {"single": "skip_forward"}),
    )


@dataclass(frozen=True)
class HeadphonesConfig:
    driver: HeadphonesDriver = HeadphonesDriver.EVDEV
    # shell-style patterns matched against input device names, ignoring case; BlueZ
    # names the key device of Bluetooth headphones "<headset name> (AVRCP)"
    name_patterns: tuple[str, ...] = ("*(AVRCP)*", "*headset*", "*headphone*")
    # take the keys for earmark alone (EVIOCGRAB): no other program sees them
    grab: bool = False
    keys: tuple[KeyConfig, ...] = field(default_factory=_default_keys)
    # headphones never bounce; taps are reported on the key events themselves
    timing: PressTiming = field(default_factory=lambda: PressTiming(debounce=0.0, hold=1.0))
    # how often the input folder is looked at for newly connected headphones
    rescan_seconds: float = 1.0
    # more key presses and releases than this in one second = a broken or stuck
    # device; it is ignored for the rest of that second
    flood_limit: int = 60

    def __post_init__(self) -> None:
        choose(self, "driver", HeadphonesDriver)
        between("rescan_seconds", self.rescan_seconds, 0.05, 2.0)
        at_least("flood_limit", self.flood_limit, 2)


@dataclass(frozen=True)
class InputsConfig:
    gpio: GpioMode = GpioMode.NONE
    buttons: tuple[ButtonConfig, ...] = field(default_factory=lambda: (ButtonConfig(),))
    timing: PressTiming = field(default_factory=PressTiming)
    led: LedConfig = field(default_factory=LedConfig)
    headphones: HeadphonesConfig = field(default_factory=HeadphonesConfig)

    def __post_init__(self) -> None:
        choose(self, "gpio", GpioMode)
        pins = [b.pin for b in self.buttons]
        if self.led.pin is not None and self.led.driver == LedDriver.GPIO:
            pins.append(self.led.pin)
        doubled = sorted({p for p in pins if pins.count(p) > 1})
        if doubled:
            raise ValueError(f"GPIO{doubled[0]} is used twice in inputs (buttons and led)")
