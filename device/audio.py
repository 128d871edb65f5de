"""Audio output selection: which mpv output the speaker uses.

``player.audio_output: auto`` lets mpv pick, which fails on a box with no
sound card and no sound server (a server, a container, a Pi whose DAC is not
set up yet). Rather than fail every episode, the speaker then plays through
the null output and says so in one line, so the rest of the loop still works.
"""

from __future__ import annotations

import dataclasses
import glob
import logging
import os
from pathlib import Path

from earmark.config.choices import AudioOutput
from earmark.config.model import PlayerConfig

log = logging.getLogger(__name__)


def sound_cards(cards: Path = Path("/proc/asound/cards")) -> list[str]:
    try:
        lines = cards.read_text().splitlines()
    except OSError:
        return []
    return [line.strip() for line in lines if line[:3].strip().isdigit()]


def sound_servers() -> list[str]:
    runtime = os.environ.get("XDG_RUNTIME_DIR", f"/run/user/{os.getuid()}")
    candidates = [
        f"{runtime}/pulse/native",
        f"{runtime}/pipewire-0",
        *glob.glob("/run/user/*/pipewire-0"),
    ]
    return [c for c in candidates if os.path.exists(c)]


def describe(config: PlayerConfig) -> str:
    """One line for ``earmark doctor``; raises nothing."""
    cards, servers = sound_cards(), sound_servers()
    found = f"{len(cards)} sound card(s), {len(servers)} sound server(s)"
    return (
        f"audio output {config.audio_output}"
        + (f" device {config.audio_device}" if config.audio_device else "")
        + f"; {found}"
    )


def choose_output(config: PlayerConfig) -> PlayerConfig:
    """The player config to use: ``auto`` becomes ``null`` when nothing can sound."""
    if config.audio_output != "auto" or sound_cards() or sound_servers():
        return config
    log.warning(
        "no sound card or sound server found; playing silently (set player.audio_output "
        "and audio_device, see `earmark doctor`)"
    )
    return dataclasses.replace(config, audio_output=AudioOutput.NULL)
