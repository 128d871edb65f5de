"""The buttons on the box: each pin's edges go through a gesture recogniser to an action."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from earmark.actions import Action, InputEvent
from earmark.config.inputs import ButtonConfig, PressTiming
from earmark.device.gesture_clock import GestureClock, TrackedInput
from earmark.device.gestures import Gesture, GestureRecogniser, Recognised
from earmark.device.gpio import GpioUnavailable, open_button

log = logging.getLogger(__name__)

Trace = Callable[[str], None]


def describe_mapping(gestures: dict[Gesture, Action]) -> str:
    return ", ".join(f"{g} → {a}" for g, a in gestures.items()) or "no gestures mapped"


class ButtonBox:
    """All configured buttons; a button whose pin fails is logged and left out."""

    def __init__(
        self,
        buttons: tuple[ButtonConfig, ...],
        timing: PressTiming,
        factory: Any,
        clock: GestureClock,
        on_input: Callable[[InputEvent], None],
        trace: Trace,
    ) -> None:
        self._closers: list[Callable[[], None]] = []
        self._tracked: list[TrackedInput] = []
        self.labels: list[str] = []
        for button in buttons:
            self._add(button, timing, factory, clock, on_input, trace)

    def close(self) -> None:
        for close in self._closers:
            try:
                close()
            except Exception as exc:  # closing must go on for the other pins
                log.warning("closing a button failed: %s", exc)
        for tracked in self._tracked:
            tracked.untrack()
        self._closers.clear()
        self._tracked.clear()

    def _add(
        self,
        button: ButtonConfig,
        timing: PressTiming,
        factory: Any,
        clock: GestureClock,
        on_input: Callable[[InputEvent], None],
        trace: Trace,
    ) -> None:
        label = button.label
        gestures = {Gesture(g): Action(a) for g, a in button.gestures.items()}
        recogniser = GestureRecogniser(timing, set(gestures))

        def deliver(recognised: Recognised) -> None:
            action = gestures.get(recognised.gesture)
            trace(f"{label}: {recognised.gesture} → {action or 'nothing (not mapped)'}")
            if action is not None:
                on_input(InputEvent(action, label, recognised.at))

        tracked = clock.track(recogniser, deliver)

        def on_change(pressed: bool) -> None:
            now = clock.now()  # before tracing: the press time is what the snip uses
            trace(f"{label}: {'pressed' if pressed else 'released'}")
            tracked.edge(pressed, now)

        try:
            self._closers.append(open_button(button.pin, button.pull_up, factory, on_change))
        except GpioUnavailable as exc:
            tracked.untrack()
            log.error("%s left out: %s", label, exc)
            return
        self._tracked.append(tracked)
        self.labels.append(label)
        pull = "on" if button.pull_up else "off"
        trace(f"{label} (pull-up {pull}): {describe_mapping(gestures)}")
