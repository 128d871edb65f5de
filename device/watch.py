"""``earmark inputs --watch``: show every input device and event, so a listener learns
which codes their headphones send and what each does under the current config."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from earmark.actions import InputEvent
from earmark.config.inputs import HeadphonesDriver, InputsConfig
from earmark.device.evdev_io import OpenDevice, open_input_device
from earmark.device.inputs import build_inputs
from earmark.device.permissions import permission_advice


def watch(
    config: InputsConfig,
    out: Callable[[str], None],
    stop: threading.Event,
    *,
    pin_factory: Any = None,
    input_dir: Path = Path("/dev/input"),
    open_device: OpenDevice = open_input_device,
) -> None:
    """Print devices and events through ``out`` until ``stop`` is set."""
    lock = threading.Lock()

    def say(line: str) -> None:
        # events arrive on several threads; keep each line whole
        with lock:
            out(line)

    def acted(event: InputEvent) -> None:
        say(f"  = {event.action} (from {event.source})")

    # real headphones are watched even when the config has them off or fake, and never
    # grabbed, so that a listener can learn their codes; a running daemon that grabs
    # them hides their keys from this
    headphones = dataclasses.replace(config.headphones, driver=HeadphonesDriver.EVDEV, grab=False)
    config = dataclasses.replace(config, headphones=headphones)
    say(
        f"watching {input_dir} and the GPIO buttons (inputs.gpio: {config.gpio}); "
        "press a key or button, Ctrl-C to stop"
    )
    for advice in permission_advice(input_dir):
        say(advice)
    inputs = build_inputs(
        config,
        acted,
        pin_factory=pin_factory,
        input_dir=input_dir,
        open_device=open_device,
        trace=say,
        match_all=True,
    )
    inputs.start()
    try:
        stop.wait()
    finally:
        inputs.stop()
