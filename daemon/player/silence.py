"""Skip silence without losing the episode's clock.

ffmpeg's ``silenceremove`` (5.1, as on Debian 12 and Raspberry Pi OS) rewrites
timestamps, so mpv's ``time-pos`` would drift behind the file and every snip
and resume point would land early. Instead mpv runs ``silencedetect`` (which
only reports, in file time, through ``af-metadata``) and the player hurries
through each reported silence by raising the speed, so positions stay true.
"""

from __future__ import annotations

from collections.abc import Mapping

# mpv filter label; the player observes ``af-metadata/<label>``
FILTER_LABEL = "skipsilence"


def silence_filter(threshold_db: float = -45.0, min_silence: float = 0.4) -> str:
    return f"@{FILTER_LABEL}:lavfi=[silencedetect=n={threshold_db}dB:d={min_silence}]"


class SilenceSkipper:
    """Turns silencedetect reports and positions into a speed factor."""

    def __init__(self, factor: float = 3.0, keep: float = 0.25) -> None:
        self.factor = factor
        # keep this much of each silence at normal speed, so speech does not run together
        self.keep = keep
        self._spans: list[list[float | None]] = []
        self._last_start: str | None = None
        self._last_end: str | None = None

    def reset(self) -> None:
        self._spans.clear()
        self._last_start = self._last_end = None

    def report(self, metadata: Mapping[str, str] | None) -> None:
        """Take one ``af-metadata`` value; it repeats old keys, so compare."""
        if not metadata:
            return
        start = metadata.get("lavfi.silence_start")
        end = metadata.get("lavfi.silence_end")
        if start is not None and start != self._last_start:
            self._last_start = start
            self._spans.append([float(start), None])
        if end is not None and end != self._last_end:
            self._last_end = end
            if self._spans and self._spans[-1][1] is None:
                self._spans[-1][1] = float(end)
        del self._spans[:-8]  # only the latest few can still lie ahead

    def factor_at(self, position: float) -> float:
        for start, end in self._spans:
            assert start is not None
            if start + self.keep <= position and (end is None or position < end - self.keep):
                return self.factor
        return 1.0
