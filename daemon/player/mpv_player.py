"""The podcast player: the public :class:`Player` API on one mpv core.

mpv itself lives in :mod:`earmark.player.mpv_core` (the instance, its watchdog
and rebuilds), its options in :mod:`earmark.player.mpv_options` and the retry
policy for streams in :mod:`earmark.player.streams`; this module keeps the
listener's view: what plays, where, and what to tell the rest of earmark.

Threads: the caller's (normally the asyncio loop), mpv's event thread (all
property and end-of-file handling), the watchdog thread (rebuilds a dead or
hung mpv) and short retry timers. One lock, shared with the core, guards the
player's state; no callback is ever called with it held.

Which thread calls the :class:`PlayerEvents` callbacks:

- ``on_state``: mpv's event thread (file loaded, playback restarted, position
  ticks, duration, pause, chapters, end and errors), the caller's thread
  (``play``, ``stop``, ``pause``/``resume``/``toggle``, ``seek``, ``set_speed``,
  ``set_volume``), the watchdog thread (after a rebuild) and a retry timer
  thread (a stream tried again).
- ``on_position``: mpv's event thread (every ``position_save_interval``, near
  the end, on pause, at the end and on errors) and the caller's thread
  (``play``, ``stop``, ``seek`` and ``close`` save where the episode was left).
- ``on_end`` and ``on_error``: only mpv's event thread.

So the consumer must hand every callback over (``loop.call_soon_threadsafe``)
and never block in one; nothing in this package does SQLite, network or other
heavy work on mpv's thread: the handlers only update in-memory state, and the
mpv calls they make (a pending seek, the speed of the silence skipper) do not
wait for mpv's event thread.

Loads supersede each other: every ``play`` replaces the current file and
remembers mpv's playlist entry id; end-of-file events of older entries are
ignored, so 100 presses of "next" in a second end on the last one.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from earmark.config.model import PlayerConfig
from earmark.payloads import MAX_SPEED, MIN_SPEED
from earmark.player.mpv_core import Deferred, MpvCore, audio_devices, run_deferred
from earmark.player.mpv_options import audio_only_options, podcast_options
from earmark.player.silence import FILTER_LABEL, SilenceSkipper
from earmark.player.state import (
    Chapter,
    EpisodeEnd,
    PlayerEvents,
    PlayerState,
    Progress,
    Status,
    chapter_at,
    clean_chapters,
)
from earmark.player.streams import (
    StreamRetries,
    dropped_early,
    failure_message,
    is_stream,
)

# names other modules import from here
__all__ = [
    "MAX_SPEED",
    "MIN_SPEED",
    "Player",
    "audio_devices",
    "audio_only_options",
    "is_stream",
]

log = logging.getLogger(__name__)


_END_EOF, _END_STOP, _END_ERROR = "eof", "stop", "error"
# "previous chapter" this far into a chapter restarts it instead
_RESTART_CHAPTER_AFTER = 3.0


@dataclass
class _Load:
    """One request to play: what, from where, and how it went so far."""

    source: str
    episode_id: int | None
    start: float
    end: float | None
    chapters: tuple[Chapter, ...] | None
    paused: bool
    entry_id: int | None = None
    failures: int = 0
    played: bool = False
    pending_seek: float | None = None
    file_error: str = ""
    retry: threading.Timer | None = field(default=None, repr=False)


class Player:
    """One podcast at a time on one mpv instance that is rebuilt if it dies."""

    def __init__(
        self,
        config: PlayerConfig,
        events: PlayerEvents | None = None,
        *,
        state_interval: float = 1.0,
        watchdog_interval: float = 1.0,
        hang_timeout: float = 5.0,
        stream_retries: int = 3,
        retry_backoff: float = 1.0,
        cache_megabytes: int = 32,
        readahead_seconds: float = 120.0,
    ) -> None:
        self._config = config
        self._events = events or PlayerEvents()
        self._state_interval = state_interval
        self._retries = StreamRetries(stream_retries, retry_backoff)
        self._cache_megabytes = cache_megabytes
        self._readahead_seconds = readahead_seconds
        self._lock = threading.RLock()
        self._status = Status.STOPPED
        self._load: _Load | None = None
        self._position = 0.0
        self._duration: float | None = None
        self._chapters: tuple[Chapter, ...] = ()
        self._speed = _clamp_speed(config.speed)
        self._volume = _clamp_volume(config.volume)
        self._error: str | None = None
        self._last_state: PlayerState | None = None
        self._last_state_at = 0.0
        self._last_saved_at = 0.0
        self._silence = SilenceSkipper() if config.skip_silence else None
        self._silence_factor = 1.0
        self._applied_speed: float | None = self._speed
        # the output device in use instead of the configured one (None: the configured)
        self._device: str | None = None
        # held while the core starts, so its first events wait for ``self._core``
        with self._lock:
            self._core = MpvCore(
                self._mpv_options,
                self,
                self._lock,
                silence_label=FILTER_LABEL if self._silence else None,
                watchdog_interval=watchdog_interval,
                hang_timeout=hang_timeout,
            )

    @property
    def restarts(self) -> int:
        """How often mpv was rebuilt after it died or hung."""
        return self._core.restarts

    # --- what the listener asks -------------------------------------------------

    def play(
        self,
        source: str,
        start: float = 0.0,
        *,
        episode_id: int | None = None,
        end: float | None = None,
        chapters: Iterable[Chapter] | None = None,
        paused: bool = False,
    ) -> None:
        """Play ``source`` (a path or an http(s) URL) from ``start`` seconds,
        up to ``end`` if given. Replaces whatever plays; never blocks on loading."""
        start = max(0.0, start) if math.isfinite(start) else 0.0
        explicit = clean_chapters(chapters) if chapters is not None else None
        with self._lock:
            out = self._leave_current()
            self._load = _Load(source, episode_id, start, end, explicit, paused)
            self._position, self._duration, self._error = start, None, None
            self._chapters = explicit or ()
            if self._silence:
                self._silence.reset()
            self._start_load()
            out += self._state_changed()
        run_deferred(out)

    def stop(self) -> None:
        with self._lock:
            out = self._leave_current()
            self._load = None
            self._status, self._position, self._duration, self._chapters = (
                Status.STOPPED,
                0.0,
                None,
                (),
            )
            self._core.command("stop")
            out += self._state_changed()
        run_deferred(out)

    def pause(self) -> None:
        self._set_paused(True)

    def resume(self) -> None:
        self._set_paused(False)

    def toggle(self) -> None:
        with self._lock:
            paused = self._load.paused if self._load else True
        self._set_paused(not paused)

    def seek(self, position: float) -> None:
        """Jump to ``position`` seconds, kept inside [0, duration]; the end finishes it."""
        if not math.isfinite(position):
            log.warning("seek ignored position=%s reason=not a number", position)
            return
        with self._lock:
            load = self._load
            if load is None:
                return
            target = max(0.0, position)
            if self._duration is not None:
                target = min(target, self._duration)
            if load.end is not None:
                target = min(target, load.end)
            self._position = target
            if self._status == Status.LOADING:
                load.pending_seek = target
                return
            self._core.command("seek", target, "absolute+exact")
            out = self._progress()
        run_deferred(out)

    def skip(self, delta: float) -> None:
        with self._lock:
            position = self._position
        self.seek(position + delta)

    def set_speed(self, speed: float) -> None:
        clamped = _clamp_speed(speed)
        if clamped != speed:
            log.warning(
                "speed %s is outside %.1f-%.1f; using %.2f", speed, MIN_SPEED, MAX_SPEED, clamped
            )
        with self._lock:
            self._speed = clamped
            self._apply_speed()
            out = self._state_changed()
        run_deferred(out)

    def set_volume(self, volume: float) -> None:
        clamped = _clamp_volume(volume)
        if clamped != volume:
            log.warning("volume %s is outside 0-100; using %.0f", volume, clamped)
        with self._lock:
            self._volume = clamped
            self._core.set("volume", clamped)
            out = self._state_changed()
        run_deferred(out)

    def use_audio_device(self, device: str | None) -> None:
        """Sound through ``device`` from now on (None: the configured one), also after
        mpv is rebuilt; what plays goes on, paused or not, where it was."""
        with self._lock:
            self._device = device
            self._core.set("audio_device", device or self._config.audio_device or "auto")

    def audio_device(self) -> str | None:
        """The device mpv sounds through now, as mpv says (None if it cannot say)."""
        device = self._core.get("audio_device")
        return str(device) if device else None

    def _set_paused(self, paused: bool) -> None:
        with self._lock:
            load = self._load
            if load is None:
                return
            if self._status == Status.ERROR and not paused:
                # the listener asks again: give a failed stream a fresh set of retries
                load.failures, load.start, load.paused = 0, self._position, False
                self._start_load()
            else:
                load.paused = paused
                if self._status in (Status.PLAYING, Status.PAUSED):
                    self._status = Status.PAUSED if paused else Status.PLAYING
                # the pause observer reports the position once mpv has paused
                self._core.set("pause", paused)
            out = self._state_changed()
        run_deferred(out)

    def next_chapter(self) -> None:
        with self._lock:
            later = [c for c in self._chapters if c.start > self._position + 0.5]
        if later:
            self.seek(later[0].start)
        else:
            log.info("next chapter ignored reason=no later chapter")

    def previous_chapter(self) -> None:
        with self._lock:
            chapters, position = self._chapters, self._position
        index = chapter_at(chapters, position)
        if index is None:
            self.seek(0.0)
        elif index == 0 or position - chapters[index].start > _RESTART_CHAPTER_AFTER:
            self.seek(chapters[index].start)
        else:
            self.seek(chapters[index - 1].start)

    def snapshot(self) -> PlayerState:
        """The state now, from what mpv last reported (never waits for mpv)."""
        with self._lock:
            return self._snapshot()

    def cached(self) -> list[tuple[float, float]]:
        """The stretches of a stream that mpv's demuxer cache holds now (seconds)."""
        return self._core.cache_ranges()

    def dump_cache(self, start: float, end: float, path: Path) -> bool:
        """Write [start, end] of what mpv has cached to ``path`` (a playable file);
        no network. False when mpv could not (the stretch is not cached)."""
        path.unlink(missing_ok=True)
        done = self._core.dump_cache(start, end, path)
        return done and path.exists() and path.stat().st_size > 0

    def close(self) -> None:
        self._core.close()

    def __enter__(self) -> Player:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- loading ----------------------------------------------------------------

    def _mpv_options(self) -> dict[str, Any]:
        options = podcast_options(
            self._config,
            volume=self._volume,
            speed=self._speed,
            readahead_seconds=self._readahead_seconds,
            cache_megabytes=self._cache_megabytes,
            skip_silence=self._silence is not None,
        )
        if self._device:
            options["audio_device"] = self._device
        return options

    def _start_load(self) -> None:
        """Ask mpv to load ``self._load`` from its start, replacing what plays."""
        load = self._load
        assert load is not None
        options = [f"start={load.start:.3f}", f"pause={'yes' if load.paused else 'no'}"]
        if load.end is not None:
            options.append(f"end={load.end:.3f}")
        load.file_error = ""
        self._status = Status.LOADING
        self._applied_speed = None
        load.entry_id = self._core.loadfile(load.source, options, fast_seek=is_stream(load.source))
        log.info("episode loading source=%s start=%.1f", load.source, load.start)

    def _retry(self, load: _Load) -> None:
        """A retry timer fired: load the stream again from where it stopped."""
        with self._lock:
            if self._core.closing or self._load is not load:
                return
            load.start = self._position
            self._start_load()
            out = self._state_changed()
        run_deferred(out)

    # --- what the core reports (with the lock held; see mpv_core) -------------

    def on_rebuilt(self) -> Deferred:
        load = self._load
        if load is not None and self._status != Status.ERROR and (self._status != Status.STOPPED):
            load.start = self._position
            self._start_load()
            log.info("episode resumed source=%s position=%.1f", load.source, load.start)
        return self._state_changed()

    def on_closing(self) -> Deferred:
        return self._leave_current()

    def on_file_loaded(self) -> Deferred:
        load = self._load
        if load is None:
            return []
        self._status = Status.PAUSED if load.paused else Status.PLAYING
        if load.pending_seek is not None:
            target, load.pending_seek = load.pending_seek, None
            self._core.command("seek", target, "absolute+exact")
        return self._state_changed(force=True)

    def on_playback_restart(self) -> Deferred:
        return self._state_changed(force=True)

    def on_end_file(
        self, entry_id: int | None, reason: str | None, file_error: str | None
    ) -> Deferred:
        load = self._load
        if load is None or entry_id != load.entry_id:
            return []  # the end of an episode that was already replaced
        if reason == _END_EOF:
            if dropped_early(load.source, load.end, self._duration, self._position):
                return self._retry_or_fail(load, "the stream ended early")
            if load.end is None and self._duration is not None:
                self._position = self._duration
            load.played = load.played or load.end is None
            self._status = Status.STOPPED
            log.info("episode ended source=%s position=%.1f", load.source, self._position)
            end = EpisodeEnd(load.source, load.episode_id, "eof", self._position, load.played)
            return [*self._progress(), *self._state_changed(), lambda: self._events.on_end(end)]
        if reason == _END_ERROR:
            load.file_error = file_error or "unknown error"
            return self._retry_or_fail(load, load.file_error)
        return []  # stopped or replaced on purpose

    def on_property(self, name: str, value: Any) -> Deferred:
        load = self._load
        if load is None:
            return []
        if name == "time-pos" and value is not None and self._status != Status.LOADING:
            self._position = max(0.0, float(value))
            if load.failures and self._position > load.start + 10:
                load.failures = 0  # it plays again; a later drop gets fresh retries
            return self._on_tick(load)
        if name == "duration" and value:
            self._duration = float(value)
            if load.chapters is not None:
                self._chapters = clean_chapters(load.chapters, self._duration)
            return self._state_changed()
        if name == "pause" and value is not None:
            # load.paused stays what the listener asked for: events of a burst of
            # toggles arrive late, and the last one matches the last request
            if self._status in (Status.PLAYING, Status.PAUSED):
                self._status = Status.PAUSED if value else Status.PLAYING
            return self._state_changed() + (self._progress() if value else [])
        if name == "chapter-list" and load.chapters is None and value is not None:
            # mp3 encoder delay puts the first chapter a few ms before zero
            found = [
                Chapter(max(0.0, float(c.get("time", 0.0))), str(c.get("title") or ""))
                for c in value
            ]
            self._chapters = clean_chapters(found, self._duration)
            return self._state_changed()
        return []

    def on_silence(self, value: Any) -> None:
        if self._silence:
            self._silence.report(value)

    def _retry_or_fail(self, load: _Load, why: str) -> Deferred:
        load.failures += 1
        load.retry = self._retries.schedule(
            load.source, load.failures, why, lambda: self._retry(load)
        )
        if load.retry is not None:
            self._status = Status.LOADING
            return self._state_changed()
        message = failure_message(load.source, why, self._core.last_error_line, load.failures)
        log.error("episode failed source=%s reason=%s", load.source, why)
        self._status, self._error = Status.ERROR, message
        end = EpisodeEnd(load.source, load.episode_id, "error", self._position, load.played)
        return [
            *self._progress(),
            *self._state_changed(),
            lambda: self._events.on_error(message),
            lambda: self._events.on_end(end),
        ]

    def _on_tick(self, load: _Load) -> Deferred:
        out = []
        near_end = self._duration is not None and (
            self._position >= self._duration - self._config.played_near_end
        )
        if near_end and not load.played and load.end is None:
            load.played = True
            out += self._progress()
        elif time.monotonic() - self._last_saved_at >= self._config.position_save_interval:
            out += self._progress()
        if self._silence:
            self._silence_factor = self._silence.factor_at(self._position)
            self._apply_speed()
        return out + self._state_changed()

    # --- state and callbacks (called with the lock held) -----------------------

    def _apply_speed(self) -> None:
        speed = self._speed * self._silence_factor
        if speed != self._applied_speed:
            self._applied_speed = speed
            self._core.set("speed", speed)

    def _leave_current(self) -> Deferred:
        """Save where the current episode was left, before it is replaced."""
        load = self._load
        if load is None:
            return []
        if load.retry is not None:
            load.retry.cancel()
        if self._status in (Status.PLAYING, Status.PAUSED):
            return self._progress()
        return []

    def _progress(self) -> Deferred:
        load = self._load
        if load is None:
            return []
        self._last_saved_at = time.monotonic()
        report = Progress(load.source, load.episode_id, self._position, self._duration, load.played)
        return [lambda: self._events.on_position(report)]

    def _snapshot(self) -> PlayerState:
        load = self._load
        index = chapter_at(self._chapters, self._position)
        return PlayerState(
            status=self._status,
            source=load.source if load else None,
            episode_id=load.episode_id if load else None,
            position=round(self._position, 3),
            duration=self._duration,
            chapter_index=index,
            chapter_title=self._chapters[index].title if index is not None else None,
            speed=self._speed,
            volume=self._volume,
            error=self._error,
            chapters=self._chapters,
        )

    def _state_changed(self, force: bool = False) -> Deferred:
        state = self._snapshot()
        last = self._last_state
        now = time.monotonic()
        if last is not None and not force:
            if state == last:
                return []
            if replace(last, position=state.position) == state and (
                now - self._last_state_at < self._state_interval
            ):
                return []
        self._last_state, self._last_state_at = state, now
        return [lambda: self._events.on_state(state)]


def _clamp_speed(speed: float) -> float:
    if not math.isfinite(speed):
        return 1.0
    return min(MAX_SPEED, max(MIN_SPEED, float(speed)))


def _clamp_volume(volume: float) -> float:
    if not math.isfinite(volume):
        return 100.0
    return min(100.0, max(0.0, float(volume)))
