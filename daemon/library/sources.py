"""Where an episode's audio comes from: a file on the box, or a stream.

The one place that decides it, for the player (fast seeks, retries), the
look-ahead (read mpv's cache, never fetch twice) and the snip stages (ranged
fetch, or the kept clip).
"""

from __future__ import annotations

from urllib.parse import urlsplit


def is_stream(source: str) -> bool:
    """True for a URL mpv streams (http, https, ...); False for a file on the box
    (a path, or a file:// URL)."""
    return "://" in source and urlsplit(source).scheme not in ("", "file")
