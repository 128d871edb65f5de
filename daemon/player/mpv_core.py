"""mpv itself: the one module that imports python-mpv.

:class:`MpvCore` keeps one mpv instance for the podcast player and replaces it
when it dies or stops answering (its watchdog thread); :class:`Overlay` is a
plain instance for short sounds mixed over the podcast (earcons);
:func:`audio_devices` lists what mpv can play on.

Threads in :class:`MpvCore`: mpv's event thread calls the listener's
``on_file_loaded``, ``on_playback_restart``, ``on_end_file``, ``on_property``
and ``on_silence``; the watchdog thread calls ``on_rebuilt``; the closing
caller calls ``on_closing``. Each runs with the lock shared with the listener
held, only for the current instance (events still draining from a replaced
instance are dropped under that lock), and returns the calls to make once the
lock is released. No mpv call made under the lock waits for mpv's event
thread, so nothing here can deadlock against a slow listener.
"""

from __future__ import annotations

import concurrent.futures
import logging
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

import mpv

from earmark.config.choices import AudioOutput
from earmark.config.model import PlayerConfig
from earmark.player.mpv_options import audio_only_options

log = logging.getLogger(__name__)

# calls to make once the lock is released (the listener's callbacks)
Deferred = list[Callable[[], None]]

# the properties the player follows
OBSERVED = ("time-pos", "duration", "pause", "chapter-list")


def run_deferred(calls: Deferred) -> None:
    for call in calls:
        try:
            call()
        except Exception:  # a listener's bug must not stop playback
            log.exception("player listener failed")


class CoreListener(Protocol):
    """What :class:`MpvCore` reports; each method runs with the shared lock held."""

    def on_file_loaded(self) -> Deferred: ...

    def on_playback_restart(self) -> Deferred: ...

    def on_end_file(
        self, entry_id: int | None, reason: str | None, file_error: str | None
    ) -> Deferred: ...

    def on_property(self, name: str, value: Any) -> Deferred: ...

    def on_silence(self, value: Any) -> None: ...

    def on_rebuilt(self) -> Deferred: ...

    def on_closing(self) -> Deferred: ...


class MpvCore:
    """One mpv instance at a time, rebuilt by a watchdog if it dies or hangs.

    ``options`` is asked again for every new instance (so a rebuilt one keeps
    the speed and volume of the moment); ``silence_label`` names the
    silencedetect filter whose ``af-metadata`` to follow, if any.
    """

    def __init__(
        self,
        options: Callable[[], dict[str, Any]],
        listener: CoreListener,
        lock: threading.RLock,
        *,
        silence_label: str | None = None,
        watchdog_interval: float = 1.0,
        hang_timeout: float = 5.0,
    ) -> None:
        self._options = options
        self._listener = listener
        self._lock = lock
        self._silence_label = silence_label
        self._watchdog_interval = watchdog_interval
        self._hang_timeout = hang_timeout
        self._closing = False
        self._last_error_line = ""
        self.restarts = 0
        self._wake = threading.Event()
        # set before the first instance exists: its events may arrive at once
        self._instance: mpv.MPV | None = None
        self._instance = self._new_instance()
        self._watchdog = threading.Thread(target=self._watch, name="player-watchdog", daemon=True)
        self._watchdog.start()

    @property
    def closing(self) -> bool:
        return self._closing

    @property
    def last_error_line(self) -> str:
        """mpv's last error log line since the last load ("" if none)."""
        return self._last_error_line

    # --- calls into mpv (never wait for mpv's event thread) ---------------------

    def command(self, name: str, *args: object) -> object:
        """Run an mpv command; None when mpv failed it or is being rebuilt."""
        return self._call(name, lambda instance: instance.command(name, *args))

    def set(self, name: str, value: object) -> None:
        self._call(name, lambda instance: setattr(instance, name, value))

    def get(self, name: str) -> object:
        """A property's value now; None when mpv failed it or is being rebuilt."""
        return self._call(name, lambda instance: getattr(instance, name))

    def loadfile(self, source: str, options: list[str], *, fast_seek: bool) -> int | None:
        """Replace what plays with ``source``; mpv's playlist entry id of it."""
        self._last_error_line = ""

        def loadfile(instance: mpv.MPV) -> object:
            # far seeks in HTTP streams jump by byte offset instead of reading up to
            # them; local files keep exact seeking
            instance["demuxer-lavf-o"] = "fflags=+fastseek" if fast_seek else ""
            args: list[object] = [source, "replace"]
            if getattr(instance, "mpv_version_tuple", (0, 0, 0)) >= (0, 38, 0):
                args.append("-1")
            return instance.command("loadfile", *args, ",".join(options))

        reply = self._call("loadfile", loadfile)
        return reply.get("playlist_entry_id") if isinstance(reply, dict) else None

    def cache_ranges(self) -> list[tuple[float, float]]:
        """The stretches (seconds) that the demuxer cache holds now."""
        state = self._call("cache state", lambda instance: instance.demuxer_cache_state)
        ranges = state.get("seekable-ranges", []) if isinstance(state, dict) else []
        return [(float(r["start"]), float(r["end"])) for r in ranges]

    def dump_cache(self, start: float, end: float, path: Path) -> bool:
        """Ask mpv to write [start, end] of its cache to ``path``; False if it failed."""

        def dump(instance: mpv.MPV) -> bool:
            instance.command("dump-cache", start, end, str(path))
            return True

        return self._call("dump-cache", dump) is True

    def close(self) -> None:
        """Stop rebuilding and free mpv; the listener's ``on_closing`` runs first."""
        with self._lock:
            self._closing = True
            out = self._listener.on_closing()
            instance, self._instance = self._instance, None
        self._wake.set()
        run_deferred(out)
        if instance is not None:
            _terminate(instance)
        self._watchdog.join(timeout=self._hang_timeout + 1)

    def _call(self, what: str, call: Callable[[mpv.MPV], object]) -> object:
        instance = self._instance
        if instance is None or instance.handle is None or instance.core_shutdown:
            log.warning("mpv %s skipped reason=mpv is restarting", what)
            self._wake.set()
            return None
        try:
            return call(instance)
        except Exception as error:  # a failed mpv call must not take the player down
            log.warning("mpv %s failed error=%s", what, error)
            return None

    # --- instances and the watchdog ------------------------------------------

    def _new_instance(self) -> mpv.MPV:
        instance = mpv.MPV(log_handler=self._on_log, loglevel="error", **self._options())
        instance.register_event_callback(lambda event: self._on_event(instance, event))
        for name in OBSERVED:
            instance.observe_property(name, lambda n, v: self._on_property(instance, n, v))
        if self._silence_label:
            instance.observe_property(
                f"af-metadata/{self._silence_label}", lambda n, v: self._on_silence(instance, v)
            )
        return instance

    def _rebuild(self, reason: str) -> None:
        with self._lock:
            if self._closing:
                return
            old = self._instance
            log.error("mpv restarted reason=%s", reason)
            self.restarts += 1
            try:
                self._instance = self._new_instance()
            except Exception as error:  # try again on the next watchdog round
                log.error("mpv could not start error=%s", error)
                self._instance = None
                return
            out = self._listener.on_rebuilt()
        if old is not None:
            # a hung mpv may never finish terminating; let a spare thread wait for it
            threading.Thread(target=_terminate, args=(old,), name="mpv-reaper", daemon=True).start()
        run_deferred(out)

    def _watch(self) -> None:
        while True:
            self._wake.wait(self._watchdog_interval)
            self._wake.clear()
            with self._lock:
                if self._closing:
                    return
                instance = self._instance
            if instance is None or instance.handle is None or instance.core_shutdown:
                self._rebuild("mpv core shut down")
                continue
            # replies come through mpv's event thread, so this also notices
            # a listener callback that blocks it
            try:
                instance.command_async("expand-text", "ok").result(timeout=self._hang_timeout)
            except concurrent.futures.TimeoutError:
                self._rebuild(f"mpv did not answer for {self._hang_timeout:.0f}s")
            except Exception as error:
                self._rebuild(f"mpv liveness check failed: {error}")

    # --- mpv's event thread -----------------------------------------------------

    def _on_log(self, level: str, prefix: str, text: str) -> None:
        self._last_error_line = f"{prefix}: {str(text).strip()}"

    def _on_event(self, instance: mpv.MPV, event: mpv.MpvEvent) -> None:
        eid = event.event_id.value
        if eid not in (
            mpv.MpvEventID.FILE_LOADED,
            mpv.MpvEventID.END_FILE,
            mpv.MpvEventID.PLAYBACK_RESTART,
            mpv.MpvEventID.SHUTDOWN,
        ):
            return
        with self._lock:
            if instance is not self._instance:
                return  # a replaced instance still draining its queue
            out: Deferred = []
            if eid == mpv.MpvEventID.SHUTDOWN:
                if not self._closing:
                    self._wake.set()
                return
            if eid == mpv.MpvEventID.FILE_LOADED:
                out = self._listener.on_file_loaded()
            elif eid == mpv.MpvEventID.PLAYBACK_RESTART:
                out = self._listener.on_playback_restart()
            elif eid == mpv.MpvEventID.END_FILE:
                data = event.as_dict(decoder=mpv.lazy_decoder)
                error = data.get("file_error")
                out = self._listener.on_end_file(
                    data.get("playlist_entry_id"),
                    data.get("reason"),
                    str(error) if error else None,
                )
        run_deferred(out)

    def _on_property(self, instance: mpv.MPV, name: str, value: Any) -> None:
        with self._lock:
            if instance is not self._instance:
                return
            out = self._listener.on_property(name, value)
        run_deferred(out)

    def _on_silence(self, instance: mpv.MPV, value: Any) -> None:
        with self._lock:
            if instance is self._instance:
                self._listener.on_silence(value)


class Overlay:
    """Short sounds played on an mpv instance of their own (made at first use,
    remade if it died), so the sound server mixes them over the podcast,
    which neither pauses nor moves."""

    def __init__(self, config: PlayerConfig, client_name: str) -> None:
        self._config = config
        self._client_name = client_name
        self._instance: mpv.MPV | None = None
        self._ends = threading.Condition()
        # mpv's playlist entry id of the last sound asked for, and how each sound ended
        self._last_entry: int | None = None
        self._ended: dict[int, str] = {}

    def play(self, path: Path) -> None:
        """Play ``path`` now, cutting off a sound that still plays."""
        instance = self._ready()
        reply = instance.command("loadfile", str(path), "replace")
        with self._ends:
            entry = reply.get("playlist_entry_id") if isinstance(reply, dict) else None
            self._last_entry = entry
            self._ended = {k: v for k, v in self._ended.items() if entry is None or k >= entry}

    def wait_played(self, timeout: float) -> bool:
        """Wait for the last sound to end; True if it played to its end."""
        with self._ends:
            ended = self._ends.wait_for(
                lambda: self._last_entry is not None and self._last_entry in self._ended, timeout
            )
            return bool(ended) and self._ended.get(self._last_entry or 0) == "eof"

    def close(self) -> None:
        instance, self._instance = self._instance, None
        if instance is not None:
            instance.terminate()

    def _ready(self) -> mpv.MPV:
        instance = self._instance
        if instance is not None and instance.handle is not None and not instance.core_shutdown:
            return instance
        with self._ends:
            self._last_entry, self._ended = None, {}
        instance = mpv.MPV(**audio_only_options(self._config, self._client_name))
        instance.register_event_callback(lambda event: self._on_event(instance, event))
        self._instance = instance
        return instance

    def _on_event(self, instance: mpv.MPV, event: mpv.MpvEvent) -> None:
        if event.event_id.value != mpv.MpvEventID.END_FILE:
            return
        data = event.as_dict(decoder=mpv.lazy_decoder)
        with self._ends:
            if instance is self._instance and isinstance(data.get("playlist_entry_id"), int):
                self._ended[data["playlist_entry_id"]] = str(data.get("reason"))
                self._ends.notify_all()


def audio_devices(audio_output: str = AudioOutput.AUTO) -> list[tuple[str, str]]:
    """The (name, description) of every audio device mpv can open for
    ``audio_output``, as ``--audio-device`` takes them (for ``earmark doctor``)."""
    core = mpv.MPV(
        **audio_only_options(PlayerConfig(audio_output=AudioOutput(audio_output)), "earmark")
    )
    try:
        return [(d["name"], d.get("description", "")) for d in core.audio_device_list or []]
    finally:
        core.terminate()


def library_version() -> str:
    """The libmpv the speaker plays with, as mpv names itself ("mpv 0.35.1")."""
    core = mpv.MPV(**audio_only_options(PlayerConfig(audio_output=AudioOutput.NULL), "earmark"))
    try:
        return str(core.mpv_version)
    finally:
        core.terminate()


def _terminate(instance: mpv.MPV) -> None:
    try:
        instance.terminate()
    except Exception as error:  # already gone: nothing left to free
        log.debug("mpv terminate error=%s", error)
