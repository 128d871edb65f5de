"""Earcons: short feedback sounds mixed over the podcast.

They play on a second mpv instance (an :class:`~earmark.player.mpv_core.Overlay`),
so the podcast neither pauses nor moves; the sound server (or mpv's ALSA dmix)
mixes the two. The sounds are made with sox at first use and cached, so nothing
binary ships in the package. :func:`play_once` is ``earmark doctor``'s test: one
earcon through the configured output, with the mpv command in a process of its own.
"""

from __future__ import annotations

import enum
import logging
import subprocess
import tempfile
import threading
import time
from pathlib import Path

from earmark.config.choices import AudioOutput
from earmark.config.model import PlayerConfig
from earmark.errors import EarmarkError
from earmark.player.mpv_core import Overlay
from earmark.player.mpv_options import command_line

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


def play_once(config: PlayerConfig, timeout: float, earcon: Earcon = Earcon.SNIP_SAVED) -> str:
    """Play ``earcon`` once through ``config``'s output and device with the ``mpv``
    command: what it played through, or an EarmarkError with what mpv said and
    what to do. A process of its own, so an output that hangs is killed at
    ``timeout`` instead of hanging the caller."""
    target = f"audio output {config.audio_output}" + (
        f" device {config.audio_device}" if config.audio_device else ""
    )
    with tempfile.TemporaryDirectory(prefix="earmark-earcon-") as folder:
        try:
            path = earcon_file(earcon, Path(folder))
        except (OSError, subprocess.CalledProcessError) as exc:
            raise EarmarkError(
                f"cannot make the earcon with sox ({exc}): apt-get install sox"
            ) from None
        started = time.monotonic()
        try:
            done = subprocess.run(
                [
                    "mpv",
                    *command_line(config, "earmark-doctor"),
                    "--msg-level=all=error,cplayer=info",
                    str(path),
                ],
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                errors="replace",
                timeout=timeout,
            )
        except subprocess.TimeoutExpired:
            raise EarmarkError(
                f"mpv had not played a half-second earcon through {target} after {timeout:g} s"
                " (killed): the output hangs; check the Bluetooth sink or sound server and run"
                " doctor again"
            ) from None
    seconds = time.monotonic() - started
    lines = [line.strip() for line in done.stdout.splitlines() if line.strip()]
    opened = next((line for line in lines if line.startswith("AO: ")), None)
    if done.returncode == 0 and opened is not None:
        silent = "; silent by choice" if config.audio_output == AudioOutput.NULL else ""
        return (
            f"played the {earcon.value} earcon through {target} ({opened}, {seconds:.1f} s){silent}"
        )
    raise EarmarkError(
        f"mpv could not play an earcon through {target} (exit {done.returncode}):"
        f" {_why(lines, done.stderr)}; {_advice(config)}"
    )


def _why(stdout: list[str], stderr: str) -> str:
    """mpv's own words for a failure: the output driver's line first (``[ao/alsa]
    Playback open error: ...``), then its summary; ALSA's library noise last."""
    driver = [line for line in stdout if line.startswith("[ao/")]
    summary = [line for line in stdout if line.startswith(("[ao]", "Could not open"))]
    said = driver[:1] + summary[:1]
    if not said:
        others = [line.strip() for line in stderr.splitlines() if line.strip()]
        said = (stdout or others or ["no message"])[-1:]
    return "; ".join(said)


def _advice(config: PlayerConfig) -> str:
    if config.audio_device:
        return (
            "check player.audio_device against what mpv lists (`mpv --audio-device=help`;"
            " a Bluetooth sink appears once the headset is connected)"
        )
    if config.audio_output != AudioOutput.AUTO:
        return (
            f"check that {config.audio_output} can sound here (a sound card, its sound server"
            " running) or set player.audio_device"
        )
    return "set player.audio_output and audio_device (check the DAC overlay or Bluetooth sink)"
