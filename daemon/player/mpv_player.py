"""The podcast player: the one module that talks to mpv (python-mpv).

Threads: the caller's (normally the asyncio loop), mpv's event thread (all
property and end-of-file handling), the watchdog thread (rebuilds a dead or
hung mpv) and short retry timers. One lock guards the player's own state; no
callback is ever called with it held, and no mpv call made under it waits for
mpv's event thread, so nothing here can deadlock against a slow listener.

Loads supersede each other: every ``play`` replaces the current file and
remembers mpv's playlist entry id; end-of-file events of older entries are
ignored, so 100 presses of "next" in a second end on the last one.
"""

from __future__ import annotations

import concurrent.futures
import locale
import logging
import math
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import mpv

from earmark.config.model import PlayerConfig
from earmark.player.silence import FILTER_LABEL, SilenceSkipper, silence_filter
from earmark.player.state import (
    Chapter,
    ChapterLike,
    EpisodeEnd,
    PlayerEvents,
    PlayerState,
    Progress,
    Status,
    chapter_at,
    clean_chapters,
)

log = logging.getLogger(__name__)

MIN_SPEED, MAX_SPEED = 0.5, 3.0
_END_EOF, _END_STOP, _END_ERROR = "eof", "stop", "error"
# a stream that reports its end this far before its duration has dropped
_STREAM_DROP_MARGIN = 5.0
# "previous chapter" this far into a chapter restarts it instead
_RESTART_CHAPTER_AFTER = 3.0


def is_stream(source: str) -> bool:
    return source.startswith(("http://", "https://"))


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
        self._watchdog_interval = watchdog_interval
        self._hang_timeout = hang_timeout
        self._stream_retries = stream_retries
        self._retry_backoff = retry_backoff
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
        self._last_error_line = ""
        self._closing = False
        self.restarts = 0
        self._wake = threading.Event()
        # set before the first instance exists: its events may arrive at once
        self._core: mpv.MPV | None = None
        self._core = self._new_core()
        self._watchdog = threading.Thread(target=self._watch, name="player-watchdog", daemon=True)
        self._watchdog.start()

    # --- what the listener asks -------------------------------------------------

    def play(
        self,
        source: str,
        start: float = 0.0,
        *,
        episode_id: int | None = None,
        end: float | None = None,
        chapters: Iterable[ChapterLike] | None = None,
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
        _run(out)

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
            self._mpv_call("stop", lambda core: core.command("stop"))
            out += self._state_changed()
        _run(out)

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
            self._mpv_call("seek", lambda core: core.command("seek", target, "absolute+exact"))
            out = self._progress()
        _run(out)

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
        _run(out)

    def set_volume(self, volume: float) -> None:
        clamped = _clamp_volume(volume)
        if clamped != volume:
            log.warning("volume %s is outside 0-100; using %.0f", volume, clamped)
        with self._lock:
            self._volume = clamped
            self._mpv_call("volume", lambda core: setattr(core, "volume", clamped))
            out = self._state_changed()
        _run(out)

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
                self._mpv_call("pause", lambda core: setattr(core, "pause", paused))
            out = self._state_changed()
        _run(out)

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
        state = self._mpv_call("cache state", lambda core: core.demuxer_cache_state)
        ranges = state.get("seekable-ranges", []) if isinstance(state, dict) else []
        return [(float(r["start"]), float(r["end"])) for r in ranges]

    def dump_cache(self, start: float, end: float, path: Path) -> bool:
        """Write [start, end] of what mpv has cached to ``path`` (a playable file);
        no network. False when mpv could not (the stretch is not cached)."""
        path.unlink(missing_ok=True)

        def dump(core: mpv.MPV) -> bool:
            core.command("dump-cache", start, end, str(path))
            return True

        done = self._mpv_call("dump-cache", dump)
        return done is True and path.exists() and path.stat().st_size > 0

    def close(self) -> None:
        with self._lock:
            self._closing = True
            out = self._leave_current()
            core, self._core = self._core, None
        self._wake.set()
        _run(out)
        if core is not None:
            _terminate(core)
        self._watchdog.join(timeout=self._hang_timeout + 1)

    def __enter__(self) -> Player:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- mpv instances ----------------------------------------------------------

    def _new_core(self) -> mpv.MPV:
        options = audio_only_options(self._config, "earmark")
        options.update(
            {
                "input_default_bindings": False,
                "volume": self._volume,
                "speed": self._speed,
                "cache": "auto",
                # a stream buffers this far ahead (mpv's default is an hour, which
                # would fetch a whole episode before a far seek)
                "cache_secs": self._readahead_seconds,
                "demuxer_max_bytes": f"{self._cache_megabytes}MiB",
                "demuxer_max_back_bytes": f"{self._cache_megabytes // 2}MiB",
            }
        )
        if self._config.untimed:
            options["ao_null_untimed"] = True
        if self._silence:
            options["af"] = silence_filter()
        core = mpv.MPV(log_handler=self._on_mpv_log, loglevel="error", **options)
        core.register_event_callback(lambda event: self._on_event(core, event))
        for name in ("time-pos", "duration", "pause", "chapter-list"):
            core.observe_property(name, lambda n, v: self._on_property(core, n, v))
        if self._silence:
            core.observe_property(
                f"af-metadata/{FILTER_LABEL}", lambda n, v: self._on_silence(core, v)
            )
        return core

    def _mpv_call(self, what: str, call: Callable[[mpv.MPV], object]) -> object:
        core = self._core
        if core is None or core.handle is None or core.core_shutdown:
            log.warning("mpv %s skipped reason=mpv is restarting", what)
            self._wake.set()
            return None
        try:
            return call(core)
        except Exception as error:  # a failed mpv call must not take the player down
            log.warning("mpv %s failed error=%s", what, error)
            return None

    def _start_load(self) -> None:
        """Ask mpv to load ``self._load`` from its start, replacing what plays."""
        load = self._load
        assert load is not None
        stream = is_stream(load.source)
        options = [f"start={load.start:.3f}", f"pause={'yes' if load.paused else 'no'}"]
        if load.end is not None:
            options.append(f"end={load.end:.3f}")
        load.file_error, self._last_error_line = "", ""
        self._status = Status.LOADING
        self._applied_speed = None

        def loadfile(core: mpv.MPV) -> object:
            # far seeks in HTTP streams jump by byte offset instead of reading up to
            # them; local files keep exact seeking
            core["demuxer-lavf-o"] = "fflags=+fastseek" if stream else ""
            args: list[object] = [load.source, "replace"]
            if getattr(core, "mpv_version_tuple", (0, 0, 0)) >= (0, 38, 0):
                args.append("-1")
            return core.command("loadfile", *args, ",".join(options))

        reply = self._mpv_call("loadfile", loadfile)
        load.entry_id = reply.get("playlist_entry_id") if isinstance(reply, dict) else None
        log.info("episode loading source=%s start=%.1f", load.source, load.start)

    def _rebuild(self, reason: str) -> None:
        with self._lock:
            if self._closing:
                return
            old = self._core
            log.error("mpv restarted reason=%s", reason)
            self.restarts += 1
            try:
                self._core = self._new_core()
            except Exception as error:  # try again on the next watchdog round
                log.error("mpv could not start error=%s", error)
                self._core = None
                return
            load = self._load
            if (
                load is not None
                and self._status != Status.ERROR
                and (self._status != Status.STOPPED)
            ):
                load.start = self._position
                self._start_load()
                log.info("episode resumed source=%s position=%.1f", load.source, load.start)
            out = self._state_changed()
        if old is not None:
            # a hung mpv may never finish terminating; let a spare thread wait for it
            threading.Thread(target=_terminate, args=(old,), name="mpv-reaper", daemon=True).start()
        _run(out)

    def _watch(self) -> None:
        while True:
            self._wake.wait(self._watchdog_interval)
            self._wake.clear()
            with self._lock:
                if self._closing:
                    return
                core = self._core
            if core is None or core.handle is None or core.core_shutdown:
                self._rebuild("mpv core shut down")
                continue
            # replies come through mpv's event thread, so this also notices
            # a listener callback that blocks it
            try:
                core.command_async("expand-text", "ok").result(timeout=self._hang_timeout)
            except concurrent.futures.TimeoutError:
                self._rebuild(f"mpv did not answer for {self._hang_timeout:.0f}s")
            except Exception as error:
                self._rebuild(f"mpv liveness check failed: {error}")

    # --- mpv's event thread -----------------------------------------------------

    def _on_mpv_log(self, level: str, prefix: str, text: str) -> None:
        self._last_error_line = f"{prefix}: {str(text).strip()}"

    def _on_event(self, core: mpv.MPV, event: mpv.MpvEvent) -> None:
        eid = event.event_id.value
        if eid not in (
            mpv.MpvEventID.FILE_LOADED,
            mpv.MpvEventID.END_FILE,
            mpv.MpvEventID.PLAYBACK_RESTART,
            mpv.MpvEventID.SHUTDOWN,
        ):
            return
        with self._lock:
            if core is not self._core:
                return  # a replaced instance still draining its queue
            load = self._load
            out: list[Callable[[], None]] = []
            if eid == mpv.MpvEventID.SHUTDOWN:
                if not self._closing:
                    self._wake.set()
                return
            if eid == mpv.MpvEventID.FILE_LOADED and load is not None:
                self._status = Status.PAUSED if load.paused else Status.PLAYING
                if load.pending_seek is not None:
                    target, load.pending_seek = load.pending_seek, None
                    self._mpv_call("seek", lambda c: c.command("seek", target, "absolute+exact"))
                out = self._state_changed(force=True)
            elif eid == mpv.MpvEventID.PLAYBACK_RESTART:
                out = self._state_changed(force=True)
            elif eid == mpv.MpvEventID.END_FILE and load is not None:
                out = self._on_end_file(load, event.as_dict(decoder=mpv.lazy_decoder))
        _run(out)

    def _on_end_file(self, load: _Load, data: dict[str, Any]) -> list[Callable[[], None]]:
        if data.get("playlist_entry_id") != load.entry_id:
            return []  # the end of an episode that was already replaced
        reason = data.get("reason")
        if reason == _END_EOF:
            dropped = (
                is_stream(load.source)
                and load.end is None
                and self._duration
                and self._position < self._duration - _STREAM_DROP_MARGIN
            )
            if dropped:
                return self._retry_or_fail(load, "the stream ended early")
            if load.end is None and self._duration is not None:
                self._position = self._duration
            load.played = load.played or load.end is None
            self._status = Status.STOPPED
            log.info("episode ended source=%s position=%.1f", load.source, self._position)
            end = EpisodeEnd(load.source, load.episode_id, "eof", self._position, load.played)
            return [*self._progress(), *self._state_changed(), lambda: self._events.on_end(end)]
        if reason == _END_ERROR:
            load.file_error = str(data.get("file_error") or "unknown error")
            return self._retry_or_fail(load, load.file_error)
        return []  # stopped or replaced on purpose

    def _retry_or_fail(self, load: _Load, why: str) -> list[Callable[[], None]]:
        load.failures += 1
        if is_stream(load.source) and load.failures <= self._stream_retries:
            delay = self._retry_backoff * 2 ** (load.failures - 1)
            log.warning(
                "stream retry source=%s attempt=%d in=%.1fs reason=%s",
                load.source,
                load.failures,
                delay,
                why,
            )
            self._status = Status.LOADING
            load.retry = threading.Timer(delay, self._retry, args=(load,))
            load.retry.daemon = True
            load.retry.start()
            return self._state_changed()
        message = f"cannot play {load.source}: {why}"
        if self._last_error_line:
            message += f" ({self._last_error_line})"
        if load.failures > 1:
            message += f" after {load.failures} attempts"
        log.error("episode failed source=%s reason=%s", load.source, why)
        self._status, self._error = Status.ERROR, message
        end = EpisodeEnd(load.source, load.episode_id, "error", self._position, load.played)
        return [
            *self._progress(),
            *self._state_changed(),
            lambda: self._events.on_error(message),
            lambda: self._events.on_end(end),
        ]

    def _retry(self, load: _Load) -> None:
        with self._lock:
            if self._closing or self._load is not load:
                return
            load.start = self._position
            self._start_load()
            out = self._state_changed()
        _run(out)

    def _on_property(self, core: mpv.MPV, name: str, value: Any) -> None:
        with self._lock:
            if core is not self._core or self._load is None:
                return
            load = self._load
            out: list[Callable[[], None]] = []
            if name == "time-pos" and value is not None and self._status != Status.LOADING:
                self._position = max(0.0, float(value))
                if load.failures and self._position > load.start + 10:
                    load.failures = 0  # it plays again; a later drop gets fresh retries
                out = self._on_tick(load)
            elif name == "duration" and value:
                self._duration = float(value)
                if load.chapters is not None:
                    self._chapters = clean_chapters(load.chapters, self._duration)
                out = self._state_changed()
            elif name == "pause" and value is not None:
                # load.paused stays what the listener asked for: events of a burst of
                # toggles arrive late, and the last one matches the last request
                if self._status in (Status.PLAYING, Status.PAUSED):
                    self._status = Status.PAUSED if value else Status.PLAYING
                out = self._state_changed() + (self._progress() if value else [])
            elif name == "chapter-list" and load.chapters is None and value is not None:
                # mp3 encoder delay puts the first chapter a few ms before zero
                found = [
                    Chapter(max(0.0, float(c.get("time", 0.0))), str(c.get("title") or ""))
                    for c in value
                ]
                self._chapters = clean_chapters(found, self._duration)
                out = self._state_changed()
        _run(out)

    def _on_tick(self, load: _Load) -> list[Callable[[], None]]:
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

    def _on_silence(self, core: mpv.MPV, value: Any) -> None:
        with self._lock:
            if core is self._core and self._silence:
                self._silence.report(value)

    # --- state and callbacks (called with the lock held) -----------------------

    def _apply_speed(self) -> None:
        speed = self._speed * self._silence_factor
        if speed != self._applied_speed:
            self._applied_speed = speed
            self._mpv_call("speed", lambda core: setattr(core, "speed", speed))

    def _leave_current(self) -> list[Callable[[], None]]:
        """Save where the current episode was left, before it is replaced."""
        load = self._load
        if load is None:
            return []
        if load.retry is not None:
            load.retry.cancel()
        if self._status in (Status.PLAYING, Status.PAUSED):
            return self._progress()
        return []

    def _progress(self) -> list[Callable[[], None]]:
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
        )

    def _state_changed(self, force: bool = False) -> list[Callable[[], None]]:
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


def _run(calls: list[Callable[[], None]]) -> None:
    for call in calls:
        try:
            call()
        except Exception:  # a listener's bug must not stop playback
            log.exception("player listener failed")


def _terminate(core: mpv.MPV) -> None:
    try:
        core.terminate()
    except Exception as error:  # already gone: nothing left to free
        log.debug("mpv terminate error=%s", error)


def _clamp_speed(speed: float) -> float:
    if not math.isfinite(speed):
        return 1.0
    return min(MAX_SPEED, max(MIN_SPEED, float(speed)))


def _clamp_volume(volume: float) -> float:
    if not math.isfinite(volume):
        return 100.0
    return min(100.0, max(0.0, float(volume)))


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


def audio_devices(audio_output: str = "auto") -> list[tuple[str, str]]:
    """The (name, description) of every audio device mpv can open for
    ``audio_output``, as ``--audio-device`` takes them (for ``earmark doctor``)."""
    core = mpv.MPV(**audio_only_options(PlayerConfig(audio_output=audio_output), "earmark"))
    try:
        return [(d["name"], d.get("description", "")) for d in core.audio_device_list or []]
    finally:
        core.terminate()
