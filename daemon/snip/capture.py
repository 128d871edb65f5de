"""Capture: turn a press into a durable highlight row, within milliseconds.

The window is position − before .. position + after, clamped to the episode.
A press inside the window of the previous snip of the same episode (or at its
press) extends that snip, or returns it when its window already holds all the
press asks for: never a twin. The listener may move a window later (``edit``
with start and end): :meth:`Capturer.moved` checks the one asked for.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from earmark.payloads import CommandError
from earmark.player.state import NowPlaying
from earmark.store import jobs
from earmark.store.highlights import FAILED, PENDING, Highlight, HighlightBook

log = logging.getLogger(__name__)


def window(
    position: float, duration: float | None, before: float, after: float
) -> tuple[float, float]:
    start = max(0.0, position - before)
    end = position + after
    if duration is not None and duration > 0:
        end = min(end, duration)
        start = min(start, max(0.0, duration - 0.1))
    return start, max(end, start)


class Capturer:
    def __init__(self, book: HighlightBook, before: float, after: float) -> None:
        self.book = book
        self.before = before
        self.after = after

    def capture(
        self, playing: NowPlaying, input_source: str, pressed_at: datetime | None = None
    ) -> tuple[Highlight, bool]:
        """Save the moment. Returns the highlight and whether it was a new one."""
        start, end = window(playing.position, playing.duration, self.before, self.after)
        previous = self.book.recent_for_source(playing.source, playing.position)
        if previous is not None and previous.start <= playing.position <= max(
            previous.end, previous.press_position
        ):
            if end <= previous.end + 0.05:
                # the press lands on a window that holds all it asks for (the player
                # stopped, or pressed twice quickly): no twin, no work again
                log.info("snip again id=%s window=%.1f-%.1f", previous.id, previous.start, end)
                return previous, False
            # the audio and words are done again for the longer window
            extended = self.book.extend(
                previous.id, end, jobs.JobKind.CLIP, "superseded by a longer window"
            )
            log.info(
                "snip extended id=%s window=%.1f-%.1f source=%s",
                extended.id,
                extended.start,
                extended.end,
                input_source,
            )
            return extended, False
        pressed = (pressed_at or datetime.now(UTC)).isoformat(timespec="milliseconds")
        highlight = Highlight(
            id=Highlight.new_id(),
            status=PENDING,
            pressed_at=pressed.replace("+00:00", "Z"),
            press_position=playing.position,
            start=start,
            end=end,
            episode_id=playing.episode_id,
            podcast_title=playing.podcast_title,
            episode_title=playing.episode_title,
            source_url=playing.source,
            input_source=input_source,
        )
        saved = self.book.add(highlight, jobs=[(jobs.JobKind.CLIP, jobs.SNIP_PRIORITY)])
        log.info(
            "snip saved id=%s episode=%r window=%.1f-%.1f source=%s",
            saved.id,
            saved.episode_title,
            start,
            end,
            input_source,
        )
        return saved, True

    def moved(
        self, highlight: Highlight, start: float | None, end: float | None, duration: float | None
    ) -> tuple[float, float]:
        """The window the listener asks for (an edge left None stays where it is),
        checked: it ends after it starts, is no longer than a press makes it
        (``before`` + ``after``) or than the highlight already is, and ends within
        the episode when its ``duration`` is known."""
        start = highlight.start if start is None else start
        end = highlight.end if end is None else end
        if end <= start:
            raise CommandError(
                f"the window must end after it starts (start {start:g} s, end {end:g} s)"
            )
        press = self.before + self.after
        own = highlight.end - highlight.start
        if end - start > max(press, own) + 0.001:
            longest = (
                f"{press:g} s (snip.before + snip.after)"
                if press >= own
                else f"{own:.1f} s, as long as this highlight already is"
            )
            raise CommandError(f"a window of {end - start:.1f} s is longer than {longest}")
        if duration is not None and end > duration + 0.001:
            raise CommandError(
                f"the window ends at {end:g} s, after the episode's end at {duration:.1f} s"
            )
        return start, end


__all__ = ["FAILED", "Capturer", "NowPlaying", "window"]
