"""The options of every mpv earmark opens: the player's, the earcons', the
device listing's and doctor's test earcon (the mpv command) start from the same
audio-only set.

Plain dictionaries of python-mpv keyword options; nothing here imports mpv.
"""

from __future__ import annotations

import locale
from typing import Any

from earmark.config.model import PlayerConfig
from earmark.player.silence import silence_filter


def audio_only_options(config: PlayerConfig, client_name: str) -> dict[str, Any]:
    """The options of every mpv earmark opens: audio only, none of the user's mpv
    config or key bindings, and the configured output and device."""
    # libmpv refuses to run (and can crash) under a locale with a decimal comma
    locale.setlocale(locale.LC_NUMERIC, "C")
    options: dict[str, Any] = {
        "vo": "null",
        "video": False,
        "ytdl": False,
        "idle": True,
        "config": False,
        "terminal": False,
        "audio_client_name": client_name,
    }
    if config.audio_output != "auto":
        options["ao"] = config.audio_output
    if config.audio_device:
        options["audio_device"] = config.audio_device
    return options


def command_line(config: PlayerConfig, client_name: str) -> list[str]:
    """The audio-only set as ``mpv`` command arguments, for a command that plays
    its file and exits (not idle) and reads no keys."""
    options = audio_only_options(config, client_name)
    options.update({"idle": False, "terminal": True, "input_terminal": False})
    return [f"--{key.replace('_', '-')}={_argument(value)}" for key, value in options.items()]


def _argument(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def podcast_options(
    config: PlayerConfig,
    *,
    volume: float,
    speed: float,
    readahead_seconds: float,
    cache_megabytes: int,
    skip_silence: bool,
) -> dict[str, Any]:
    """The podcast player's options: the audio-only set, the listener's volume
    and speed, a bounded stream cache and, if asked, the silence detector."""
    options = audio_only_options(config, "earmark")
    options.update(
        {
            "input_default_bindings": False,
            "volume": volume,
            "speed": speed,
            "cache": "auto",
            # a stream buffers this far ahead (mpv's default is an hour, which
            # would fetch a whole episode before a far seek)
            "cache_secs": readahead_seconds,
            "demuxer_max_bytes": f"{cache_megabytes}MiB",
            "demuxer_max_back_bytes": f"{cache_megabytes // 2}MiB",
        }
    )
    if config.untimed:
        options["ao_null_untimed"] = True
    if skip_silence:
        options["af"] = silence_filter()
    return options
