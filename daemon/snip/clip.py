"""Cut the audio of a window into a small Opus clip with ffmpeg.

Works on a local file or an HTTP(S) stream (ffmpeg seeks with Range requests,
so only the window is fetched). The clip is written beside its final name and
renamed, so a crash or a full disk never leaves half a clip under that name.
"""

from __future__ import annotations

import errno
import subprocess
from pathlib import Path

from earmark.errors import ClipError


def cut(source: str, start: float, end: float, out: Path, timeout: float = 120.0) -> float:
    """Write the audio of [start, end] of ``source`` to ``out`` (Opus); returns its length."""
    if end <= start:
        raise ClipError(f"empty window {start:.1f}-{end:.1f} of {source}")
    if "://" not in source and not Path(source).exists():
        raise ClipError(f"episode file is gone: {source}")
    out.parent.mkdir(parents=True, exist_ok=True)
    part = out.with_name(out.name + ".part")
    cmd = [
        "ffmpeg",
        "-nostdin",
        "-loglevel",
        "error",
        "-y",
        "-ss",
        f"{start:.3f}",
        "-i",
        source,
        "-t",
        f"{end - start:.3f}",
        "-vn",
        "-map_metadata",
        "-1",
        "-map_chapters",
        "-1",
        "-ac",
        "1",
        "-c:a",
        "libopus",
        "-b:a",
        "32k",
        # the encoder's fastest setting: 4x quicker than its default (a second less
        # per minute of clip on a 2-core VM) for a clip about a third larger
        "-compression_level",
        "0",
        "-f",
        "ogg",
        str(part),
    ]
    try:
        result = subprocess.run(cmd, capture_output=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        part.unlink(missing_ok=True)
        raise ClipError(f"ffmpeg took longer than {timeout:.0f}s to cut {source}") from None
    if result.returncode != 0 or not part.exists() or part.stat().st_size == 0:
        part.unlink(missing_ok=True)
        message = result.stderr.decode(errors="replace").strip().splitlines()
        detail = message[-1] if message else f"exit code {result.returncode}"
        if "No space left" in detail:
            raise ClipError(f"disk full while writing clip {out}: free some space")
        raise ClipError(f"cannot cut {start:.1f}-{end:.1f} of {source}: {detail}")
    try:
        part.replace(out)
    except OSError as exc:
        part.unlink(missing_ok=True)
        if exc.errno == errno.ENOSPC:
            raise ClipError(f"disk full while writing clip {out}: free some space") from None
        raise ClipError(f"cannot store clip {out}: {exc.strerror}") from None
    return probe_duration(out)


def probe_duration(path: Path) -> float:
    result = subprocess.run(
        ["ffprobe", "-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0", str(path)],
        capture_output=True,
        text=True,
        timeout=30,
    )
    try:
        return round(float(result.stdout.strip()), 3)
    except ValueError:
        return 0.0
