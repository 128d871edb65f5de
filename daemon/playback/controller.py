"""Playback as the listener knows it: which episode, where to resume, what is
up next, the sleep timer, highlight reels and earcons. Glue between the mpv
``Player`` and the stored library; it announces what happens on the event bus
and knows nothing of MQTT.

The player calls back on mpv's event thread; every callback here only hands
over to the loop (``on_loop``), where positions are saved, the catalog is read
and events are emitted.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from collections.abc import Callable, Collection
from pathlib import Path
from typing import Any

from earmark.actions import Action
from earmark.config import Config
from earmark.errors import EarmarkError
from earmark.events import (
    EpisodeFinished,
    EpisodeStarted,
    Event,
    PlayerStateChanged,
    PositionSaved,
)
from earmark.library.sources import is_stream
from earmark.playback.queue import QueueItem, UpNext
from earmark.playback.reel import HighlightReel, HighlightWindow
from earmark.playback.sleep_timer import SleepTimer
from earmark.player.earcons import Earcon, Earcons
from earmark.player.mpv_player import Player
from earmark.player.state import (
    Chapter,
    EpisodeEnd,
    NowPlaying,
    PlayerEvents,
    PlayerState,
    Progress,
    Status,
)
from earmark.store.catalog import Catalog, StoredEpisode, UpNextTable
from earmark.store.highlights import FAILED, Highlight

log = logging.getLogger(__name__)

OnLoop = Callable[..., None]
EARCONS = {"snip": Earcon.SNIP_SAVED, "error": Earcon.ERROR, "startup": Earcon.STARTUP}
# `listen` answers once its episode plays or cannot (a stream is tried a few times);
# an episode still loading after this is answered as starting
LISTEN_WAIT = 30.0
# what the listener does to play, pause or stop: a pause earmark made is theirs then
PLAY_OR_PAUSE = frozenset(
    {Action.PLAY, Action.PAUSE, Action.PLAY_PAUSE, Action.STOP, Action.NEXT, Action.PREVIOUS}
)


class Playback:
    def __init__(
        self,
        config: Config,
        catalog: Catalog,
        on_loop: OnLoop,
        announce: Callable[[Event], None],
    ) -> None:
        self.config = config
        self.settings = config.player
        self.catalog = catalog
        self.on_loop = on_loop
        self.announce = announce
        self.player: Player | None = None
        self.earcons: Earcons | None = None
        self.reel: HighlightReel | None = None
        self.sleep = SleepTimer(lambda: self.on_loop(self._fall_asleep))
        self._saved_queue = UpNextTable(catalog.db)
        ids, current = self._saved_queue.load()
        items = [QueueItem(e.id, e.source) for e in map(catalog.episode, ids) if e]
        self.queue = UpNext(items, current, continue_with=self._newest_unplayed)
        self._episode_id: int | None = None
        # why nothing plays, when the library has nothing unplayed (for `status`)
        self.nothing_to_play: str | None = None
        # the source a `listen` waits for, and why the player gave it up, if it did
        self._listening: str | None = None
        self._listen_failed: str | None = None
        # why earmark paused what plays (not the listener: the headset went away);
        # anything the listener plays, pauses or chooses since makes it theirs
        self.held: str | None = None

    def start(self) -> None:
        events = PlayerEvents(
            on_state=lambda state: self.on_loop(self._state_changed, state),
            on_position=lambda progress: self.on_loop(self._save_position, progress),
            on_end=lambda end: self.on_loop(self._ended, end),
            on_error=lambda line: log.warning("player: %s", line),
        )
        self.player = Player(self.settings, events, state_interval=1.0)
        if self.settings.earcons:
            self.earcons = Earcons(self.settings, self.config.data_dir / "earcons")
            self.earcon("startup")

    def stop(self) -> None:
        self.sleep.cancel()
        self.nothing_to_play = None  # a feed stored while stopping starts nothing
        if self.player is not None:
            self.player.stop()  # saves the position through on_position
            self.player.close()
            self.player = None
        if self.earcons is not None:
            self.earcons.close()
            self.earcons = None  # a snip saved while stopping opens no new mpv for its earcon

    # -- episodes and the queue -------------------------------------------------
    def play_episode(
        self, episode: StoredEpisode, start: float | None = None, paused_for: str | None = None
    ) -> None:
        """Play ``episode`` from ``start`` (default: where the listener left it);
        with ``paused_for``, load it paused, held for that reason (``release``)."""
        player = self._ready()
        self.reel = None
        self.held = paused_for
        self.nothing_to_play = None
        if start is None:
            start = self.catalog.position(episode.id)
            if episode.duration and start > episode.duration - self.settings.played_near_end:
                start = 0.0
        if not self.queue.select(episode.id):
            self.queue.add(QueueItem(episode.id, episode.source), index=self._current_slot())
            self.queue.select(episode.id)
        speed = self.catalog.podcast_speed(episode.podcast_id) or self.settings.speed
        player.set_speed(speed)
        log.info(
            "%s episode=%r podcast=%r from=%.1f source=%s",
            f"loaded paused reason={paused_for}" if paused_for else "playing",
            episode.title,
            episode.podcast_title,
            start,
            episode.source,
        )
        player.play(
            episode.source,
            start,
            episode_id=episode.id,
            chapters=[Chapter(s, t) for s, t in episode.chapters],
            paused=paused_for is not None,
        )
        self._save_queue()

    def autoplay_at_start(self) -> None:
        """The library is ready: play on where the listener was, if autoplay is on;
        held (say, the headset is not there yet): loaded paused until released."""
        if self.settings.autoplay:
            self.play_next_unfinished(paused_for=self.held)

    def play_next_unfinished(self, paused_for: str | None = None) -> None:
        """At start: the queue's current episode, else the last one listened to,
        else the newest unplayed. With everything played, say so and wait for `play`."""
        episode = self._unfinished()
        if episode is None:
            self.nothing_to_play = self._why_nothing()
            log.warning("nothing to play: %s", self.nothing_to_play)
            return
        self.play_episode(episode, paused_for=paused_for)

    def _unfinished(self) -> StoredEpisode | None:
        current = self.queue.current
        episode = self.catalog.episode(current.episode_id) if current else None
        if episode is None or episode.played:
            episode = self.catalog.last_played() or next(iter(self.catalog.episodes(True)), None)
        return episode

    def _why_nothing(self) -> str:
        if not self.catalog.episodes():
            return "the library is empty; add a feed (library.feeds) or turn library.demo on"
        return "every episode has been played; `earmark play` starts the most recent one again"

    def _play_something(self) -> None:
        """`play` with nothing loaded: the next unfinished episode, else the most
        recent one again; with an empty library, say why."""
        episode = self._unfinished() or self.catalog.last_played(finished_too=True)
        if episode is None:
            episodes = self.catalog.episodes()
            episode = episodes[0] if episodes else None
        if episode is None:
            raise EarmarkError(f"nothing to play: {self._why_nothing()}")
        self.nothing_to_play = None
        self.play_episode(episode)

    def _newest_unplayed(self, queued: Collection[int]) -> QueueItem | None:
        if not self.settings.autoplay:
            return None
        for episode in self.catalog.episodes(unplayed_only=True):
            if episode.id not in queued:
                return QueueItem(episode.id, episode.source)
        return None

    def _step(self, forward: bool) -> str:
        item = self.queue.next() if forward else self.queue.previous()
        episode = self.catalog.episode(item.episode_id) if item else None
        if episode is None:
            return "nothing " + ("up next" if forward else "before this")
        self.play_episode(episode)
        return f"playing {episode.title}"

    def _current_slot(self) -> int | None:
        index = self.queue.current_index
        return None if index is None else index + 1

    def _save_queue(self) -> None:
        self._saved_queue.save([i.episode_id for i in self.queue.items], self.queue.current_index)

    def enqueue(self, episode_id: int, index: int | None = None) -> str:
        episode = self.catalog.episode(episode_id)
        if episode is None:
            raise EarmarkError(f"no episode {episode_id} (see `earmark episodes`)")
        self.queue.add(QueueItem(episode.id, episode.source), index)
        self._save_queue()
        return f"queued {episode.title}"

    def dequeue(self, episode_id: int) -> str:
        if not self.queue.remove(episode_id):
            raise EarmarkError(f"episode {episode_id} is not in the queue")
        self._save_queue()
        return f"removed episode {episode_id}"

    def move(self, episode_id: int, index: int) -> str:
        if not self.queue.move(episode_id, index):
            raise EarmarkError(f"episode {episode_id} is not in the queue")
        self._save_queue()
        return f"moved episode {episode_id} to {index}"

    def up_next(self) -> list[dict[str, Any]]:
        listing = []
        for index, item in enumerate(self.queue.items):
            episode = self.catalog.episode(item.episode_id)
            listing.append(
                {
                    "episode_id": item.episode_id,
                    "title": episode.title if episode else "?",
                    "current": index == self.queue.current_index,
                }
            )
        return listing

    def _ended(self, end: EpisodeEnd) -> None:
        if end.reason == "error" and end.source == self._listening and self.player is not None:
            self._listen_failed = self.player.snapshot().error or f"cannot play {end.source}"
        if self.reel is not None and self.reel.handle_end(end):
            return
        self.announce(EpisodeFinished(end.episode_id, end.reason))
        if self.sleep.episode_ended():
            log.info("sleep timer: stopped at the end of the episode")
            return
        if self.settings.autoplay:
            self._step(forward=True)
            self._save_queue()

    # -- highlight reels --------------------------------------------------------
    def play_highlights(self, highlights: list[Highlight]) -> str:
        player = self._ready()
        self.held = None
        windows = []
        for h in sorted(highlights, key=lambda h: h.pressed_at):
            episode = self.catalog.episode(h.episode_id) if h.episode_id else None
            if h.status != FAILED:
                source = episode.source if episode else h.source_url
                windows.append(HighlightWindow(source, h.start, h.end, h.episode_id))
        if not windows:
            raise EarmarkError("no highlights to play yet")
        self.reel = HighlightReel(player, windows)
        self.reel.start()
        return f"playing {len(windows)} highlights"

    def continue_from_here(self) -> str:
        window = self.reel.continue_from_here() if self.reel else None
        self.reel = None
        if window is None or window.episode_id is None:
            raise EarmarkError("no highlight is playing")
        episode = self.catalog.episode(window.episode_id)
        if episode is not None:
            self.play_episode(episode, start=window.start)
        return f"continuing from {window.start:.0f}s"

    async def listen(self, highlight: Highlight) -> str:
        """Continue on the speaker: the highlight's episode from the highlight's
        start, on past its end; answers once it plays, or with why it cannot."""
        episode = self._playable(highlight)
        player = self._ready()
        self._listening, self._listen_failed = episode.source, None
        try:
            self.play_episode(episode, start=highlight.start)
            deadline = time.monotonic() + LISTEN_WAIT
            while time.monotonic() < deadline:
                state = player.snapshot()
                ours = state.source == episode.source
                if ours and state.status == Status.ERROR:
                    self._listen_failed = state.error or f"cannot play {episode.source}"
                if self._listen_failed:  # autoplay may have gone on to the next one
                    raise EarmarkError(
                        f"highlight {highlight.id}: {self._listen_failed};"
                        " check the network, or `earmark refresh` its podcast"
                    )
                if not ours or state.status != Status.LOADING:
                    break  # it plays, or the listener has moved on already
                await asyncio.sleep(0.1)
            else:
                return f"starting {episode.title} at {highlight.start:.0f}s (still loading)"
        finally:
            self._listening = None
        return f"playing {episode.title} from {highlight.start:.0f}s"

    def _playable(self, highlight: Highlight) -> StoredEpisode:
        """The highlight's episode, from its download if that is still there, else
        from its stream; EarmarkError when neither can be had."""
        episode = self.catalog.episode(highlight.episode_id) if highlight.episode_id else None
        if episode is None:  # another speaker's highlight, or its episode was removed here
            episode = self.catalog.episode_named(
                highlight.source_url, highlight.podcast_title, highlight.episode_title
            )
        if episode is None:
            named = f" {highlight.episode_title!r} of {highlight.podcast_title!r}"
            raise EarmarkError(
                f"highlight {highlight.id}: no episode{named if highlight.episode_title else ''}"
                f" in this speaker's library ({highlight.source_url or 'no source'});"
                " subscribe to its podcast here, or play its clip"
            )
        if episode.local_path and not Path(episode.local_path).exists():
            episode = dataclasses.replace(episode, local_path=None)  # the download went
        source = episode.source
        if not source or (not is_stream(source) and not Path(_file(source)).exists()):
            raise EarmarkError(
                f"episode {episode.title!r} of highlight {highlight.id} has no file or"
                f" stream to play ({source or 'none'}); refresh its podcast"
            )
        return episode

    # -- the listener's actions -------------------------------------------------
    def act(self, action: Action) -> str:
        player = self._ready()
        if action in PLAY_OR_PAUSE:
            self.held = None
        if action in (Action.PLAY, Action.PLAY_PAUSE) and not player.snapshot().source:
            self._play_something()
            return action.value
        simple: dict[Action, Callable[[], None]] = {
            Action.PLAY: player.resume,
            Action.PAUSE: player.pause,
            Action.PLAY_PAUSE: player.toggle,
            Action.STOP: player.stop,
            Action.SKIP_BACK: lambda: player.skip(-self.settings.skip_back),
            Action.SKIP_FORWARD: lambda: player.skip(self.settings.skip_forward),
            Action.NEXT_CHAPTER: player.next_chapter,
            Action.PREVIOUS_CHAPTER: player.previous_chapter,
            Action.VOLUME_UP: lambda: player.set_volume(player.snapshot().volume + 5),
            Action.VOLUME_DOWN: lambda: player.set_volume(player.snapshot().volume - 5),
        }
        if action in simple:
            simple[action]()
            return action.value
        if action in (Action.NEXT, Action.PREVIOUS):
            if self.reel is not None and action is Action.NEXT:
                self.reel.skip()
                return "next highlight"
            return self._step(forward=action is Action.NEXT)
        return f"{action.value} is not a playback action"

    def seek(self, position: float) -> str:
        self._ready().seek(position)
        return f"seek {position:.1f}"

    def set_speed(self, speed: float) -> str:
        """Set the speed, and remember it as this podcast's default."""
        player = self._ready()
        player.set_speed(speed)
        state = player.snapshot()  # the speed as clamped by the player
        episode = self.catalog.episode(state.episode_id) if state.episode_id else None
        if episode is not None:
            self.catalog.set_podcast_speed(episode.podcast_id, state.speed)
        return f"speed {state.speed:.2f}"

    def set_volume(self, volume: float) -> str:
        player = self._ready()
        player.set_volume(volume)
        return f"volume {player.snapshot().volume:.0f}"

    def sleep_after(self, minutes: float | None) -> str:
        """Sleep after ``minutes``; None = at the end of the episode; 0 = cancel."""
        if minutes is None:
            self.sleep.at_end_of_episode()
            return "sleeping at the end of this episode"
        if minutes <= 0:
            self.sleep.cancel()
            return "sleep timer off"
        self.sleep.after(minutes * 60)
        return f"sleeping in {minutes:g} minutes"

    def _fall_asleep(self) -> None:
        log.info("sleep timer: pausing")
        self.held = None
        if self.player is not None:
            self.player.pause()

    # -- where it sounds ---------------------------------------------------------
    def hold(self, why: str) -> bool:
        """Pause what plays (or loads) for ``why``, which is not the listener's doing;
        True if something was playing. Before anything was loaded, what autoplay
        starts is loaded paused instead. ``release(why)`` plays it on."""
        status = self.snapshot().status if self.player is not None else Status.STOPPED
        if status == Status.STOPPED:
            self.held = self.held or why
            return False
        if self.player is None or status not in (Status.PLAYING, Status.LOADING):
            return False
        self.player.pause()  # saves the position, as every pause does
        self.held = why
        return True

    def release(self, why: str) -> bool:
        """Play on what ``hold(why)`` paused, unless the listener has played, paused or
        chosen something since; True if it plays on."""
        if self.held != why:
            return False
        self.held = None
        if self.player is None or self.snapshot().status == Status.STOPPED:
            return False  # held before anything was loaded: autoplay plays as it would
        self.player.resume()
        return True

    def use_audio_device(self, device: str | None) -> None:
        """Sound through ``device`` from now on, earcons too (None: the configured one)."""
        if self.player is None:
            return  # stopped: a headset coming or going while the speaker stops changes nothing
        self.player.use_audio_device(device)
        if self.earcons is not None:
            self.earcons.close()  # the next earcon opens its mpv on ``device``
            settings = self.settings
            if device:
                settings = dataclasses.replace(
                    settings, audio_device=device, fallback_audio_device=None
                )
            self.earcons = Earcons(settings, self.config.data_dir / "earcons")

    def _ready(self) -> Player:
        if self.player is None:
            raise EarmarkError("the player is not ready yet")
        return self.player

    def now_playing(self) -> NowPlaying:
        """What the listener hears now (nothing before the player is ready), for the
        snip capture and the look-ahead; reads the catalog, so never on mpv's thread."""
        state = self.snapshot()
        if not state.source:
            return NowPlaying("", 0.0, None)
        episode = self.catalog.episode(state.episode_id) if state.episode_id else None
        return NowPlaying(
            state.source,
            state.position,
            state.duration,
            state.episode_id,
            episode.podcast_title if episode else "",
            episode.title if episode else Path(state.source).name,
            playing=state.status == Status.PLAYING,
            speed=state.speed,
            cached=self.cached() if is_stream(state.source) else (),
        )

    def snapshot(self) -> PlayerState:
        return self.player.snapshot() if self.player else PlayerState(Status.STOPPED)

    def cached(self) -> tuple[tuple[float, float], ...]:
        """The stretches of a stream that mpv's demuxer cache holds."""
        return tuple(self.player.cached()) if self.player is not None else ()

    def dump_cache(self, start: float, end: float, path: Path) -> bool:
        return self.player is not None and self.player.dump_cache(start, end, path)

    def earcon(self, name: str) -> None:
        if self.earcons is not None:
            self.earcons.play(EARCONS[name])

    def describe(self) -> dict[str, Any]:
        state = self.snapshot()
        episode = self.catalog.episode(state.episode_id) if state.episode_id else None
        return {
            "status": state.status.value,
            "episode": episode.title if episode else None,
            "podcast": episode.podcast_title if episode else None,
            "position": state.position,
            "duration": state.duration,
            "chapter": state.chapter_title,
            "speed": state.speed,
            "volume": state.volume,
            "queue_length": self._queue_length(),
            "sleep_in": self.sleep.remaining,
            "highlight_reel": self.reel is not None,
            "error": state.error,
            "nothing_to_play": self.nothing_to_play,
            "paused_for": self.held if state.status == Status.PAUSED else None,
            "audio_device": self.player.audio_device() if self.player else None,
        }

    def _queue_length(self) -> int:
        index = self.queue.current_index
        return len(self.queue.items) - (0 if index is None else index + 1)

    # -- player callbacks, handed over to the loop --------------------------------
    def _save_position(self, progress: Progress) -> None:
        if progress.episode_id is None or self.reel is not None:
            return  # a highlight reel must not move the resume point
        if self.catalog.save_position(
            progress.episode_id, progress.position, progress.duration, progress.played
        ):
            self.announce(PositionSaved(progress.episode_id, progress.position, progress.played))

    def _state_changed(self, state: PlayerState) -> None:
        # the look-ahead (re)starts whenever an episode starts or resumes playing
        playing = state.episode_id if state.status == Status.PLAYING else None
        if playing != self._episode_id:
            self._episode_id = playing
            if playing is not None:
                self.announce(EpisodeStarted(playing))
        episode = self.catalog.episode(state.episode_id) if state.episode_id else None
        self.announce(
            PlayerStateChanged(
                state,
                podcast=episode.podcast_title if episode else "",
                episode=episode.title if episode else "",
                queue_length=self._queue_length(),
            )
        )


def _file(source: str) -> str:
    """The path of a local ``source`` (a path, or a file:// URL)."""
    return source.removeprefix("file://")
