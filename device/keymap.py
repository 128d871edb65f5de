"""Headphone key bindings from config, resolved to kernel key codes once at start."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from earmark.actions import Action
from earmark.config.inputs import KeyConfig
from earmark.device.evdev_io import key_code, key_name
from earmark.device.gestures import Gesture

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class KeyGroup:
    """Keys that count as one for gestures (e.g. KEY_PLAYCD and KEY_PAUSECD)."""

    codes: tuple[int, ...]
    gestures: dict[Gesture, Action]

    @property
    def label(self) -> str:
        return "/".join(f"{key_name(c)} ({c})" for c in self.codes)

    def describe(self) -> str:
        mapped = ", ".join(f"{g} → {a}" for g, a in self.gestures.items())
        return f"{self.label}: {mapped or 'no gestures mapped'}"


def resolve_keys(keys: tuple[KeyConfig, ...]) -> list[KeyGroup]:
    """Bindings by code; a bad name or a code bound twice is logged and skipped."""
    groups: list[KeyGroup] = []
    taken: set[int] = set()
    for key in keys:
        codes: list[int] = []
        for text in key.codes:
            try:
                code = key_code(text)
            except ValueError as exc:
                log.error("inputs.headphones.keys: %s; that key is left unmapped", exc)
                continue
            if code in taken or code in codes:
                log.warning("inputs.headphones.keys: %s is mapped twice; the first wins", text)
                continue
            codes.append(code)
        if codes:
            taken.update(codes)
            gestures = {Gesture(g): Action(a) for g, a in key.gestures.items()}
            groups.append(KeyGroup(tuple(codes), gestures))
    return groups
