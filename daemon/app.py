"""The composition root: build every component from config, start them in
order, stop them in reverse. The only module of the core that imports
``earmark.device``.

One asyncio loop owns the speaker's state. mpv, paho, gpiozero and evdev call
back on their own threads and hand over with ``loop.call_soon_threadsafe``;
heavy work (ffmpeg, ASR) runs on the job worker's thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import logging
import signal
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

from earmark import device, doctor
from earmark.actions import Action, InputEvent
from earmark.commands import CommandError, Commands
from earmark.config import Config
from earmark.control import ControlServer
from earmark.device.audio import choose_output
from earmark.errors import EarmarkError
from earmark.library.fileserver import FileServer
from earmark.library.publisher import PublisherTranscripts
from earmark.library.subscriptions import Subscriptions
from earmark.payloads import SCHEMA
from earmark.playback import Playback
from earmark.snip.capture import Capturer, NowPlaying
from earmark.snip.lookahead import KIND as LOOKAHEAD_KIND
from earmark.snip.lookahead import Listening, LookAhead
from earmark.snip.pipeline import SnipPipeline
from earmark.snip.worker import JobWorker, Runner
from earmark.store import outbox
from earmark.store.catalog import Catalog
from earmark.store.database import Database
from earmark.store.highlights import HighlightBook
from earmark.store.jobs import JobQueue
from earmark.sync.broker import BrokerError, LocalBroker, port_answers, speaks_mqtt
from earmark.sync.mqtt import BrokerAddress, MqttLink
from earmark.sync.relay import OutboxRelay
from earmark.takeaways import ExtractiveSummarizer
from earmark.transcribe.base import Transcriber
from earmark.transcribe.registry import build_transcriber

log = logging.getLogger("earmark")

DEMO_FEED_ID = "demo:earmark"


class Speaker:
    """The running speaker: everything wired, started and stopped in order."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.db = Database(config.database_path)
        self.catalog = Catalog(self.db)
        self.book = HighlightBook(self.db, config.device_id)
        self.jobs = JobQueue(self.db, config.jobs.max_attempts, config.jobs.backoff_seconds)
        self.capturer = Capturer(self.book, config.snip.before, config.snip.after)
        self._transcriber: Transcriber | None = None
        self._transcriber_lock = threading.Lock()
        self.pipeline = SnipPipeline(
            self.db,
            self.book,
            self.jobs,
            self.catalog,
            self.transcriber,
            ExtractiveSummarizer(),
            config.data_dir / "clips",
            snap_to_sentences=config.snip.snap_to_sentences,
            publisher_words=PublisherTranscripts(self.db, self.catalog).ensure,
        )
        self.lookahead = LookAhead(
            self.db,
            self.jobs,
            self.transcriber,
            self._listening,
            mode=config.transcription.lookahead,
            dump=self._dump_cache,
            scratch=config.data_dir / "tmp",
        )
        runners: dict[str, Runner] = {kind: self.pipeline.run for kind in self.pipeline.handlers}
        runners[LOOKAHEAD_KIND] = self.lookahead.run
        self.worker = JobWorker(self.jobs, self.book, runners, on_change=self._outbox_changed)
        self.broker: LocalBroker | None = None
        self.link = MqttLink(
            self._broker_address(),
            f"{config.mqtt.topic_prefix}/{config.device_id}",
            f"earmark-{config.device_id}",
            on_command=self._command_from_thread,
            on_acked=self._acked,
        )
        self.relay = OutboxRelay(self.db, self.link)
        self.subscriptions = Subscriptions(
            self.catalog, config.data_dir / "episodes", config.library.download
        )
        self.demo_server: FileServer | None = None
        self.control = ControlServer(config.socket_path, self.handle_control)
        self.commands = Commands(self)
        self.loop: asyncio.AbstractEventLoop | None = None
        self.stopping = asyncio.Event()
        self.playback: Playback | None = None
        self.inputs: device.Inputs | None = None
        self._tasks: list[asyncio.Task[None]] = []

    # -- wiring helpers ---------------------------------------------------------
    def _broker_address(self) -> BrokerAddress:
        m = self.config.mqtt
        host, port = (m.host, m.port) if m.host else ("127.0.0.1", m.local_port)
        return BrokerAddress(
            host,
            port,
            m.username,
            m.password,
            m.tls,
            str(m.ca_file) if m.ca_file else None,
            m.keepalive,
        )

    def transcriber(self) -> Transcriber:
        """Built on first use, on the worker thread: a bad model path fails the job
        (retried later), never the speaker."""
        with self._transcriber_lock:
            if self._transcriber is None:
                self._transcriber = build_transcriber(self.config.transcription)
            return self._transcriber

    def _listening(self) -> Listening:
        """What plays now, for the look-ahead (called on the worker thread)."""
        if self.playback is None:
            return Listening(None, None, 0.0, None, False)
        state = self.playback.snapshot()
        local = state.source if state.source and "://" not in state.source else None
        player = self.playback.player
        cached = tuple(player.cached()) if local is None and player is not None else ()
        return Listening(
            state.episode_id,
            local,
            state.position,
            state.duration,
            state.status == "playing",
            cached,
        )

    def _dump_cache(self, start: float, end: float, path: Path) -> bool:
        player = self.playback.player if self.playback is not None else None
        return player is not None and player.dump_cache(start, end, path)

    def _episode_started(self, episode_id: int) -> None:
        """Called on the player's thread when a new episode begins."""
        if self.lookahead.follow(episode_id):
            self.worker.notify()

    def _acked(self, mid: int) -> None:
        self.relay.acked(mid)

    def _outbox_changed(self) -> None:
        self.relay.notify()

    def _on_loop(self, callback: Any, *args: Any) -> None:
        if self.loop is not None and not self.loop.is_closed():
            self.loop.call_soon_threadsafe(callback, *args)

    # -- start and stop ---------------------------------------------------------
    async def start(self) -> None:
        self.loop = asyncio.get_running_loop()
        self._check_model()
        await self.control.start()
        self._start_broker()
        self.link.start()
        self.relay.start()
        self.worker.start()
        config = dataclasses.replace(self.config, player=choose_output(self.config.player))
        self.playback = Playback(
            config, self.catalog, self.link, self._on_loop, on_episode=self._episode_started
        )
        self.playback.start()
        self.inputs = device.build_inputs(self.config.inputs, self.on_input)
        self.inputs.start()
        loop = asyncio.get_running_loop()
        self._tasks = [
            loop.create_task(self._keep_light()),
            loop.create_task(self._prepare_library()),
        ]
        log.info(
            "earmark started device=%s data=%s control=%s",
            self.config.device_id,
            self.config.data_dir,
            self.config.socket_path,
        )

    def _check_model(self) -> None:
        try:
            doctor.check_transcriber(self.config.transcription)
        except EarmarkError as exc:
            log.error("transcription will fail until fixed: %s", exc)

    def _start_broker(self) -> None:
        m = self.config.mqtt
        if m.host is not None:
            return
        if port_answers("127.0.0.1", m.local_port):
            if speaks_mqtt("127.0.0.1", m.local_port):
                log.info("using the broker already on 127.0.0.1:%d", m.local_port)
            else:
                log.error(
                    "mqtt.local_port %d is in use by something that is not an MQTT "
                    "broker; set another port; snips wait in the outbox",
                    m.local_port,
                )
            return
        try:
            self.broker = LocalBroker(m.local_port).start()
            log.info("local mosquitto started port=%d", m.local_port)
        except BrokerError as exc:
            log.error("no local broker: %s; snips wait in the outbox", exc)

    async def _prepare_library(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            if self.config.library.demo:
                await loop.run_in_executor(None, self._serve_demo)
            await self._refresh_feeds()
        except Exception:
            log.exception("library preparation failed")
        if self.config.player.autoplay and self.playback is not None:
            self.playback.play_next_unfinished()
        while self.config.library.feeds:
            await asyncio.sleep(max(1.0, self.config.library.refresh_minutes * 60))
            await self._refresh_feeds()

    async def _refresh_feeds(self) -> None:
        """Fetch every subscribed feed (off the loop); a broken one is one log line."""
        loop = asyncio.get_running_loop()
        for url in self.config.library.feeds:
            try:
                await loop.run_in_executor(None, self.subscriptions.refresh, url)
            except EarmarkError as exc:
                log.error("feed skipped url=%s: %s", url, exc)
            except Exception:
                log.exception("feed refresh failed url=%s", url)

    def _serve_demo(self) -> None:
        from earmark.library.demo import build_demo

        folder = self.config.data_dir / "demo"
        folder.mkdir(parents=True, exist_ok=True)
        self.demo_server = FileServer(folder).start()
        feed = build_demo(folder, self.demo_server.base_url)
        self.subscriptions.refresh(self.demo_server.url(feed.name), stored_as=DEMO_FEED_ID)

    async def _keep_light(self) -> None:
        """Keep the status LED in step: error, no network, transcribing, playing, idle."""
        while True:
            if self.inputs is not None and self.inputs.light is not None:
                self.inputs.light.show(self._light_state())
            await asyncio.sleep(0.5)

    def _light_state(self) -> device.LightState:
        state = self.playback.snapshot() if self.playback else None
        if state is not None and state.status == "error":
            return device.LightState.ERROR
        if not self.link.connected:
            return device.LightState.NO_NETWORK
        if self.worker.busy:
            return device.LightState.TRANSCRIBING
        if state is not None and state.status == "playing":
            return device.LightState.PLAYING
        return device.LightState.IDLE

    async def stop(self) -> None:
        log.info("earmark stopping")
        for task in self._tasks:
            task.cancel()
        if self.inputs is not None:
            self.inputs.stop()
        if self.playback is not None:
            self.playback.stop()
        await self.control.stop()
        self.worker.stop()
        self.relay.stop(flush_seconds=2.0)
        self.link.stop()
        if self.demo_server is not None:
            self.demo_server.stop()
        if self.broker is not None:
            self.broker.close()
        with self._transcriber_lock:
            if self._transcriber is not None:
                self._transcriber.close()
        self.db.close()
        log.info("earmark stopped")

    # -- what the listener asks -------------------------------------------------
    def snip(self, source: str, pressed: float | None = None) -> dict[str, Any]:
        """Save the moment of the press (monotonic ``pressed``; default now)."""
        if self.playback is None:
            raise EarmarkError("the player is not ready yet")
        state = self.playback.snapshot()
        if not state.source:
            raise EarmarkError("nothing is playing, so there is no moment to save")
        if pressed is not None and state.status == "playing":
            # a gesture is known only after its double-press window: go back to the press
            late = max(0.0, time.monotonic() - pressed) * state.speed
            state = dataclasses.replace(state, position=max(0.0, state.position - late))
        episode = self.catalog.episode(state.episode_id) if state.episode_id else None
        playing = NowPlaying(
            state.source,
            state.position,
            state.duration,
            state.episode_id,
            episode.podcast_title if episode else "",
            episode.title if episode else Path(state.source).name,
        )
        try:
            highlight, new = self.capturer.capture(playing, source)
        except sqlite3.Error as exc:
            self.playback.earcon("error")
            log.error("snip not saved at %.1f s: the database refused it (%s)", state.position, exc)
            raise EarmarkError(
                f"the snip could not be saved: {exc}; free space in {self.config.data_dir}"
            ) from None
        self.worker.notify()
        self.relay.notify()
        self.playback.earcon("snip")
        if self.inputs is not None and self.inputs.light is not None:
            self.inputs.light.flash(device.LightState.SNIP_SAVED)
        return {
            "ok": True,
            "new": new,
            "id": highlight.id,
            "episode": highlight.episode_title,
            "start": highlight.start,
            "end": highlight.end,
        }

    def act(self, event: InputEvent) -> dict[str, Any]:
        """Carry out one listener action from any input."""
        if event.action is Action.SNIP:
            return self.snip(event.source, pressed=event.at)
        if self.playback is None:
            raise EarmarkError("the player is not ready yet")
        return {"ok": True, "message": self.playback.act(event.action)}

    async def handle_control(self, command: str, args: dict[str, Any]) -> dict[str, Any]:
        return self.commands.run(command, args, "cli")

    def status(self) -> dict[str, Any]:
        state = self.playback.snapshot() if self.playback else None
        return {
            "ok": True,
            "player": self.playback.describe() if self.playback else {},
            "playing": bool(state and state.source),
            "mqtt_connected": self.link.connected,
            "outbox_pending": outbox.pending_count(self.db),
            "highlights": self.db.query("SELECT count(*) FROM highlights")[0][0],
            "jobs_waiting": self.db.query(
                "SELECT count(*) FROM jobs WHERE status IN ('queued', 'running')"
            )[0][0],
        }

    # -- MQTT commands (paho's thread) -------------------------------------------
    def _command_from_thread(self, action: str, payload: bytes) -> None:
        self._on_loop(self._command, action, payload)

    def _command(self, name: str, payload: bytes) -> None:
        try:
            args = json.loads(payload) if payload.strip() else {}
            if not isinstance(args, dict):
                raise CommandError("the payload must be a JSON object")
            if args.pop("schema", SCHEMA) != SCHEMA:
                raise CommandError(f"schema is not {SCHEMA}")
            if name == "seek" and "position" in args:
                args["value"] = args.pop("position")
            result = self.commands.run(name, args, "mqtt")
        except (ValueError, EarmarkError) as exc:
            log.warning("mqtt command refused cmd=%s: %s", name, exc)
            result = {"ok": False, "error": str(exc)}
        self._publish_result(name, result)

    def _publish_result(self, name: str, result: dict[str, Any]) -> None:
        self.link.publish(
            "cmd/result", json.dumps({"schema": SCHEMA, "command": name, **result}).encode(), qos=1
        )

    # -- inputs from the box ----------------------------------------------------
    def on_input(self, event: InputEvent) -> None:
        """Called on an input adapter's thread."""
        self._on_loop(self._input, event)

    def _input(self, event: InputEvent) -> None:
        try:
            self.act(event)
        except EarmarkError as exc:
            log.warning("input %s from %s refused: %s", event.action, event.source, exc)


async def _serve(config: Config) -> int:
    speaker = Speaker(config)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, speaker.stopping.set)
    try:
        await speaker.start()
    except EarmarkError:
        with contextlib.suppress(Exception):
            await speaker.stop()
        raise
    await speaker.stopping.wait()
    await speaker.stop()
    return 0


def run(config: Config) -> int:
    _fewer_malloc_arenas()
    return asyncio.run(_serve(config))


def _fewer_malloc_arenas(arenas: int = 2) -> None:
    """glibc gives each thread that allocates its own arena (up to 8 per core);
    with mpv's, paho's, the worker's and ctranslate2's threads that is tens of
    megabytes of RSS a Raspberry Pi does not have. Two arenas cost no speed here."""
    import ctypes
    import ctypes.util

    libc_name = ctypes.util.find_library("c")
    if libc_name is None:
        return
    m_arena_max = -8
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(libc_name).mallopt(m_arena_max, arenas)


def watch_inputs(config: Config) -> int:
    """``earmark inputs --watch``: print devices and key events until Ctrl-C."""
    from earmark.device.watch import watch

    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    for line in device.permission_advice():
        print(f"note: {line}", flush=True)
    watcher = threading.Thread(target=watch, args=(config.inputs, _say, stop), daemon=True)
    watcher.start()
    while watcher.is_alive() and not stop.wait(0.2):
        pass
    stop.set()
    watcher.join(5)
    return 0


def _say(line: str) -> None:
    print(line, flush=True)


def doctor_checks() -> tuple[tuple[str, doctor.Check], ...]:
    """The hardware checks, which only the composition root may build."""

    def audio(cfg: Config) -> str:
        from earmark.device.audio import describe, sound_cards, sound_servers
        from earmark.player.mpv_player import audio_devices

        wanted = cfg.player.audio_device
        if wanted:
            known = [name for name, _ in audio_devices(cfg.player.audio_output)]
            if wanted not in known:
                raise EarmarkError(
                    f"player.audio_device '{wanted}' is not among the devices mpv can open: "
                    f"{', '.join(known)} (a Bluetooth sink appears once it is connected)"
                )
        if cfg.player.audio_output == "auto" and not (sound_cards() or sound_servers()):
            raise EarmarkError(
                f"{describe(cfg.player)}: nothing can sound; the speaker will play silently "
                "(check the DAC overlay / Bluetooth sink, or set player.audio_device)"
            )
        return describe(cfg.player)

    def inputs(cfg: Config) -> str:
        advice = device.permission_advice()
        if advice:
            raise EarmarkError("; ".join(advice))
        return "input devices and GPIO readable"

    return (("audio", audio), ("inputs", inputs))
