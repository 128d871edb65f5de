"""`earmark inputs --watch`: devices, codes, names and actions, one line each."""

from __future__ import annotations

import threading
import time

from evdev import ecodes
from gpiozero.pins.mock import MockFactory

from earmark.config.inputs import (
    ButtonConfig,
    HeadphonesConfig,
    HeadphonesDriver,
    InputsConfig,
    PressTiming,
)
from earmark.device.watch import watch

from ..support import wait_for
from .conftest import FakeInputs


def test_watch_shows_devices_events_and_actions(
    fake_inputs: FakeInputs, mock_factory: MockFactory
) -> None:
    headset = fake_inputs.plug("WH-1000XM4 (AVRCP)", "event0")
    fake_inputs.plug("Logitech USB Receiver", "event1")
    lines: list[str] = []
    stop = threading.Event()
    quick = PressTiming(debounce=0.0, multi_press=0.1, hold=0.3)
    config = InputsConfig(
        gpio="mock",
        buttons=(ButtonConfig(17, gestures={"single": "snip"}),),
        headphones=HeadphonesConfig(driver=HeadphonesDriver.OFF, timing=quick, rescan_seconds=0.05),
    )
    thread = threading.Thread(
        target=watch,
        args=(config, lines.append, stop),
        kwargs={
            "pin_factory": mock_factory,
            "input_dir": fake_inputs.folder,
            "open_device": fake_inputs.open,
        },
    )
    thread.start()
    try:
        wait_for(lambda: any("Logitech" in line for line in lines), 3, what="devices listed")
        headset.tap(ecodes.KEY_NEXTSONG)
        headset.tap(240)
        mock_factory.pin(17).drive_low()
        time.sleep(0.05)  # the finger's press
        mock_factory.pin(17).drive_high()
        wait_for(lambda: sum(line.startswith("  = ") for line in lines) >= 2, 3, what="actions")
    finally:
        stop.set()
        thread.join(5)
    text = "\n".join(lines)
    assert "headset WH-1000XM4 (AVRCP) at" in text
    assert "KEY_NEXTSONG (163): single → snip, double → next" in text
    assert "headset WH-1000XM4 (AVRCP): KEY_NEXTSONG (163) down" in text
    assert "headset WH-1000XM4 (AVRCP): KEY_UNKNOWN (240) down → nothing" in text
    assert "headset Logitech USB Receiver at" in text and "keys do nothing" in text
    assert "button GPIO17: pressed" in text
    assert "  = snip (from headset WH-1000XM4 (AVRCP))" in text
    assert "  = snip (from button GPIO17)" in text
    assert not thread.is_alive()
