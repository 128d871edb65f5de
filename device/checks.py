"""The box's own checks for ``earmark doctor`` and ``earmark inputs --watch``.

The composition root injects them into the CLI's commands, so the core never
imports hardware code. What mpv can open is passed in (``audio_devices``): the
device adapters do not reach into the player.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable

from earmark.config import Config
from earmark.device.audio import describe, sound_cards, sound_servers
from earmark.device.permissions import permission_advice
from earmark.errors import EarmarkError

AudioDevices = Callable[[str], list[tuple[str, str]]]
Check = Callable[[Config], str]


def doctor_checks(audio_devices: AudioDevices) -> tuple[tuple[str, Check], ...]:
    def audio(cfg: Config) -> str:
        wanted = cfg.player.audio_device
        if wanted:
            known = [name for name, _ in audio_devices(cfg.player.audio_output)]
            if wanted not in known:
                raise EarmarkError(
                    f"player.audio_device '{wanted}' is not among the devices mpv can open: "
                    f"{', '.join(known)} (a Bluetooth sink appears once it is connected)"
                )
        if cfg.player.audio_output == "auto" and not (sound_cards() or sound_servers()):
            raise EarmarkError(
                f"{describe(cfg.player)}: nothing can sound; the speaker will play silently "
                "(check the DAC overlay / Bluetooth sink, or set player.audio_device)"
            )
        return describe(cfg.player)

    def inputs(cfg: Config) -> str:
        advice = permission_advice()
        if advice:
            raise EarmarkError("; ".join(advice))
        return "input devices and GPIO readable"

    def bluetooth(cfg: Config) -> str:
        from earmark.device.headphones_cli import check_headset

        return check_headset(cfg.player.bluetooth_headset)

    return (("audio", audio), ("inputs", inputs), ("bluetooth", bluetooth))


def watch_inputs(config: Config) -> int:
    """``earmark inputs --watch``: print devices and key events until Ctrl-C."""
    from earmark.device.watch import watch

    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    for line in permission_advice():
        print(f"note: {line}", flush=True)
    watcher = threading.Thread(target=watch, args=(config.inputs, _say, stop), daemon=True)
    watcher.start()
    while watcher.is_alive() and not stop.wait(0.2):
        pass
    stop.set()
    watcher.join(5)
    return 0


def _say(line: str) -> None:
    print(line, flush=True)
