"""Logging: one line per event on stdout, which journald collects as it is."""

from __future__ import annotations

import logging
import sys


def setup(level: str = "info", verbosity: int = 0) -> None:
    chosen = logging.DEBUG if verbosity > 0 else getattr(logging, level.upper(), logging.INFO)
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(
        logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s", "%H:%M:%S")
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(chosen)
    for noisy in ("faster_whisper", "urllib3"):
        logging.getLogger(noisy).setLevel(max(chosen, logging.WARNING))
