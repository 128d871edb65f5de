"""Where an episode's audio comes from: a file on the box, or a stream."""

from __future__ import annotations


def is_stream(source: str) -> bool:
    """True for a URL mpv streams (http, https, ...); False for a local file path."""
    return "://" in source
