"""The composition root: build every part from config, register the listeners,
start the parts in order and stop them in reverse. No use case lives here; it
is the only module of the core that imports ``earmark.device``.

One asyncio loop owns the speaker's state. mpv, paho, gpiozero and evdev call
back on their own threads and only hand over to the loop (``OnLoop``, the
event bus); heavy work (ffmpeg, ASR) runs on the job worker's thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import signal

from earmark import device, doctor, events
from earmark.actions import InputEvent
from earmark.commands import Commands
from earmark.config import Config
from earmark.control import ControlServer
from earmark.device.audio import choose_output
from earmark.device.checks import doctor_checks as device_checks
from earmark.device.checks import watch_inputs
from earmark.device.reconnect import headset_watch
from earmark.device.status_light import LightPolicy
from earmark.device.systemd import SystemdNotifier
from earmark.errors import EarmarkError
from earmark.export.service import Exports
from earmark.library.service import Library
from earmark.playback import Feedback, FollowHeadset, Playback, PlayWhenStocked
from earmark.player.mpv_player import audio_devices
from earmark.runtime import fewer_malloc_arenas
from earmark.single_instance import InstanceLock
from earmark.snip.capture import Capturer
from earmark.snip.listeners import WorkerWake
from earmark.snip.lookahead import KIND as LOOKAHEAD_KIND
from earmark.snip.lookahead import LookAhead
from earmark.snip.pipeline import SnipPipeline
from earmark.snip.service import SnipService
from earmark.snip.worker import JobWorker, Runner
from earmark.status import SpeakerStatus
from earmark.store.catalog import Catalog
from earmark.store.database import Database
from earmark.store.highlights import HighlightBook
from earmark.store.jobs import JobQueue
from earmark.sync.broker import LocalBroker
from earmark.sync.discovery import HomeAssistant
from earmark.sync.home_broker import broker_address, start_local_broker
from earmark.sync.listeners import OutboxWake, StatePublisher
from earmark.sync.mqtt import MqttLink
from earmark.sync.relay import OutboxRelay
from earmark.sync.remote import RemoteCommands
from earmark.takeaways import build_refiner, build_summarizer
from earmark.transcribe.registry import TranscriberOnDemand

log = logging.getLogger(__name__)

__all__ = ["Speaker", "doctor_checks", "run", "watch_inputs"]


class Speaker:
    """The running speaker: every part built from config, wired, started, stopped."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.bus = events.EventBus()
        self.on_loop = events.OnLoop()
        announce = self.bus.emit
        self.db = Database(config.database_path)
        self.catalog = Catalog(self.db)
        self.book = HighlightBook(
            self.db, config.device_id, on_change=lambda h: announce(events.HighlightChanged(h))
        )
        self.jobs = JobQueue(self.db, config.jobs.max_attempts, config.jobs.backoff_seconds)
        self.transcriber = TranscriberOnDemand(config.transcription)
        playing = dataclasses.replace(config, player=choose_output(config.player))
        self.playback = Playback(playing, self.catalog, self.on_loop, announce)
        playing_episode = lambda: self.playback.now_playing().episode_id  # noqa: E731
        self.library = Library(config, self.db, self.catalog, announce, playing_episode)
        self.pipeline = SnipPipeline(
            self.db,
            self.book,
            self.jobs,
            self.catalog,
            self.transcriber,
            build_summarizer(config.takeaways),
            config.data_dir / "clips",
            snap_to_sentences=config.snip.snap_to_sentences,
            publisher_words=self.library.transcripts.ensure,
            refiner=build_refiner(config.takeaways),
        )
        self.lookahead = LookAhead(
            self.db,
            self.jobs,
            self.transcriber,
            self.playback.now_playing,
            mode=config.transcription.lookahead,
            dump=self.playback.dump_cache,
            scratch=config.data_dir / "tmp",
        )
        self.exports = Exports.of(config, self.db, self.jobs, announce)
        runners: dict[str, Runner] = {LOOKAHEAD_KIND: self.lookahead.run, **self.exports.runners()}
        runners.update(self.pipeline.runners())
        self.worker = JobWorker(self.jobs, self.book, runners, announce=announce)
        self.exports.wake = self.worker.notify
        self.snips = SnipService(
            self.playback.now_playing,
            Capturer(self.book, config.snip.before, config.snip.after),
            announce,
            config.data_dir,
        )
        self.status = SpeakerStatus(self.playback, self.db)
        self.commands = Commands(
            self.playback,
            self.catalog,
            self.book,
            self.jobs,
            self.snips,
            self.library,
            self.status.report,
            self.worker.notify,
            remove_home_assistant=lambda: self.ha.remove(),
        )
        self.link = MqttLink(
            broker_address(config.mqtt),
            f"{config.mqtt.topic_prefix}/{config.device_id}",
            f"earmark-{config.device_id}",
            on_command=lambda *message: self.remote.received(*message),
            on_acked=lambda mid: self.relay.acked(mid),
            on_connected=lambda: announce(events.BrokerConnected()),
            on_disconnected=lambda reason: announce(events.BrokerDisconnected(reason)),
        )
        self.relay = OutboxRelay(self.db, self.link, retention_days=config.outbox.retention_days)
        self.remote = RemoteCommands(
            self.commands, lambda topic, payload: self.link.publish(topic, payload), self.on_loop
        )
        self.control = ControlServer(
            config.socket_path, lambda command, args: self.commands.answer(command, args, "cli")
        )
        self.ha = HomeAssistant(
            config, self.link, self.status.report, self.catalog, self.book, self.on_loop
        )
        self.broker: LocalBroker | None = None
        self.inputs: device.Inputs | None = None
        self.systemd = SystemdNotifier()
        self.stopping = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        for listener in (
            StatePublisher(self.link.publish, config.device_id),
            OutboxWake(self.relay.notify),
            self.ha,
            WorkerWake(self.worker, self.lookahead),
            Feedback(self.playback),
            PlayWhenStocked(self.playback),
            FollowHeadset(self.playback),
            self.status,
            self.systemd,
            self.exports,
        ):
            self.register(listener)

    def register(self, listener: events.Listener) -> None:
        """Let ``listener`` hear every event the speaker announces."""
        self.bus.register(listener)

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self.bus.attach(loop)
        self.on_loop.attach(loop)
        try:
            doctor.check_transcriber(self.config.transcription)
        except EarmarkError as exc:
            log.error("transcription will fail until fixed: %s", exc)
        await self.control.start()
        self.broker = start_local_broker(self.config.mqtt)
        self.link.start()
        self.relay.start()
        self.worker.start()
        self.exports.start()
        self.playback.start()
        self.inputs = device.build_inputs(self.config.inputs, self.on_input)
        if self.inputs.light is not None:
            self.register(LightPolicy(self.inputs.light))
        self.inputs.start()
        watch = headset_watch(self.config.player.bluetooth_headset, self.bus.emit)
        self._tasks = [
            loop.create_task(c) for c in (self.library.run(self.playback.autoplay_at_start), *watch)
        ]
        self.systemd.ready()
        log.info("earmark started device=%s data=%s", self.config.device_id, self.config.data_dir)

    async def stop(self) -> None:
        log.info("earmark stopping")
        self.systemd.stopping()
        for task in self._tasks:
            task.cancel()
        if self.inputs is not None:
            self.inputs.stop()
        self.playback.stop()
        await self.control.stop()
        self.worker.stop()
        self.relay.stop(flush_seconds=2.0)
        self.ha.stop()
        self.link.stop()
        self.library.stop()
        if self.broker is not None:
            self.broker.close()
        self.transcriber.close()
        self.bus.detach()
        self.db.close()
        log.info("earmark stopped")

    def on_input(self, event: InputEvent) -> None:
        """An input adapter's thread: hand over to the loop."""
        self.on_loop(self.commands.press, event)


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
    fewer_malloc_arenas()
    # before the store or the socket are touched: a refused second start changes nothing
    with InstanceLock(config.data_dir):
        return asyncio.run(_serve(config))


def doctor_checks() -> tuple[tuple[str, doctor.Check], ...]:
    """The hardware checks, which only the composition root may build."""
    return device_checks(audio_devices)
