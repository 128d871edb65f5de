"""Adapters to the box's hardware: each turns hardware into core Actions and has a fake.

The names below are loaded on first use, so that a CLI command which merely
registers a device subcommand (``earmark headphones``) does not load gpiozero
and evdev for every ``earmark`` call."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from earmark.device.inputs import Inputs, build_inputs
    from earmark.device.light import LightState, StatusLight
    from earmark.device.permissions import permission_advice

_WHERE = {
    "Inputs": "earmark.device.inputs",
    "build_inputs": "earmark.device.inputs",
    "LightState": "earmark.device.light",
    "StatusLight": "earmark.device.light",
    "permission_advice": "earmark.device.permissions",
}

__all__ = ["Inputs", "LightState", "StatusLight", "build_inputs", "permission_advice"]


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'earmark.device' has no attribute '{name}'")
    return getattr(importlib.import_module(module), name)
