"""Configuration of the box's inputs and LED (the adapters live in earmark.device)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class ButtonConfig:
    pin: int = 17
    pull_up: bool = True
    # gesture -> action name (see earmark.actions.Action)
    gestures: dict[str, str] = field(
        default_factory=lambda: {"single": "snip", "double": "play_pause", "long": "next"}
    )


@dataclass(frozen=True)
class LedConfig:
    pin: int | None = None


@dataclass(frozen=True)
class HeadphonesConfig:
    enabled: bool = True
    name_patterns: tuple[str, ...] = ("*(AVRCP)*",)
    grab: bool = False
    # key code name or number -> action name
    keys: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class InputsConfig:
    # "gpio" drives real pins, "mock" uses gpiozero's MockFactory (tests, desktops), "none" disables
    gpio: str = "none"
    buttons: tuple[ButtonConfig, ...] = ()
    led: LedConfig = field(default_factory=LedConfig)
    headphones: HeadphonesConfig = field(default_factory=HeadphonesConfig)
