"""Process-wide settings for the daemon."""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util


def fewer_malloc_arenas(arenas: int = 2) -> None:
    """glibc gives each thread that allocates its own arena (up to 8 per core);
    with mpv's, paho's, the worker's and ctranslate2's threads that is tens of
    megabytes of RSS a Raspberry Pi does not have. Two arenas cost no speed here."""
    libc_name = ctypes.util.find_library("c")
    if libc_name is None:
        return
    m_arena_max = -8
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(libc_name).mallopt(m_arena_max, arenas)
