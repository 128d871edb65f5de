"""Earcons: short feedback sounds mixed over the podcast.

They play on a second mpv instance (an :class:`~earmark.player.mpv_core.Overlay`),
so the podcast neither pauses nor moves; the sound server (or mpv's ALSA dmix)
mixes the two. The sounds are made with sox at first use and cached, so nothing
binary ships in the package.
"""

from __future__ import annotations

import enum
import logging
import subprocess
import threading
from pathlib import Path

from earmark.config.model import PlayerConfig
from earmark.player.mpv_core import Overlay

log = logging.getLogger(__name__)


class Earcon(enum.StrEnum):
    SNIP_SAVED = "snip-saved"
    ERROR = "error"
    STARTUP = "startup"


# (frequency Hz, seconds) per tone; each earcon stays under half a second
_TONES: dict[Earcon, tuple[tuple[int, float], ...]] = {
    Earcon.SNIP_SAVED: ((880, 0.08), (1320, 0.12)),  # rising: "got it"
    Earcon.ERROR: ((440, 0.12), (330, 0.2)),  # falling: "that failed"
    Earcon.STARTUP: ((660, 0.07), (880, 0.07), (1320, 0.12)),
}


def earcon_file(earcon: Earcon, cache_dir: Path) -> Path:
    """The earcon's WAV file, made with sox if it is not cached yet."""
    path = cache_dir / f"{earcon.value}.wav"
    if path.exists():
        return path
    cache_dir.mkdir(parents=True, exist_ok=True)
    effects: list[str] = []
    for i, (frequency, seconds) in enumerate(_TONES[earcon]):
        if i:
            effects.append(":")  # sox runs the next effect chain after this one
        effects += [
            "synth",
            f"{seconds}",
            "sine",
            str(frequency),
            "fade",
            "0",
            f"{seconds}",
            f"{seconds / 3:.3f}",
            "vol",
            "0.5",
        ]
    partial = path.with_suffix(".part.wav")
    subprocess.run(
        ["sox", "-n", "-r", "24000", "-c", "1", "-b", "16", str(partial), *effects],
        check=True,
        capture_output=True,
    )
    partial.replace(path)
    return path


class Earcons:
    """Plays earcons on their own mpv instance (made at first use)."""

    def __init__(self, config: PlayerConfig, cache_dir: Path) -> None:
        self._config = config
        self._cache_dir = cache_dir
        self._lock = threading.Lock()
        self._overlay: Overlay | None = None

    def play(self, earcon: Earcon) -> None:
        if not self._config.earcons:
            return
        try:
            path = earcon_file(earcon, self._cache_dir)
            with self._lock:
                if self._overlay is None:
                    self._overlay = Overlay(self._config, "earmark-earcons")
                self._overlay.play(path)
        except Exception as error:  # feedback is a nicety; never fail the action for it
            log.warning("earcon failed earcon=%s error=%s", earcon.value, error)

    def wait_played(self, timeout: float = 5.0) -> bool:
        """Wait for the last earcon to end (e.g. before closing); True if it
        played to its end, False if it failed, was cut off or none played."""
        with self._lock:
            overlay = self._overlay
        return overlay is not None and overlay.wait_played(timeout)

    def close(self) -> None:
        with self._lock:
            overlay, self._overlay = self._overlay, None
        if overlay is not None:
            overlay.close()
