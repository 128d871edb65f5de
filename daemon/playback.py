"""Playback as the listener knows it: which episode, where to resume, what's
next, and the retained ``state`` message. Glue between the mpv ``Player``, the
stored library and MQTT.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from earmark.actions import Action
from earmark.config import Config
from earmark.payloads import StatePayload
from earmark.player.mpv_player import Player
from earmark.player.state import Chapter, EpisodeEnd, PlayerEvents, PlayerState, Progress
from earmark.store.catalog import Catalog, StoredEpisode
from earmark.sync.mqtt import MqttLink

log = logging.getLogger(__name__)

OnLoop = Callable[..., None]


class Playback:
    def __init__(
        self,
        config: Config,
        catalog: Catalog,
        link: MqttLink,
        on_loop: OnLoop,
        on_episode: Callable[[int], None] = lambda episode_id: None,
    ) -> None:
        self.config = config
        self.settings = config.player
        self.catalog = catalog
        self.link = link
        self.on_loop = on_loop
        self.player: Player | None = None
        self.earcons: Any = None
        self.on_episode = on_episode
        self._episode_id: int | None = None

    def start(self) -> None:
        events = PlayerEvents(
            on_state=self._publish_state,
            on_position=self._save_position,
            on_end=lambda end: self.on_loop(self._ended, end),
            on_error=lambda line: log.warning("player: %s", line),
        )
        self.player = Player(self.settings, events, state_interval=1.0)

    def stop(self) -> None:
        if self.player is not None:
            self.player.stop()  # saves the position through on_position
            self.player.close()
            self.player = None

    # -- episodes ---------------------------------------------------------------
    def play_episode(self, episode: StoredEpisode, start: float | None = None) -> None:
        assert self.player is not None
        if start is None:
            start = self.catalog.position(episode.id)
            if episode.duration and start > episode.duration - self.settings.played_near_end:
                start = 0.0
        chapters = [Chapter(s, t) for s, t in episode.chapters]
        log.info(
            "playing episode=%r podcast=%r from=%.1f source=%s",
            episode.title,
            episode.podcast_title,
            start,
            episode.source,
        )
        self.player.play(episode.source, start, episode_id=episode.id, chapters=chapters)

    def play_next_unfinished(self) -> None:
        episode = self.catalog.last_played() or next(iter(self.catalog.episodes(True)), None)
        if episode is None:
            log.info("nothing to play: no unplayed episodes")
            return
        self.play_episode(episode)

    def _neighbour(self, step: int) -> StoredEpisode | None:
        episodes = self.catalog.episodes()
        current = self.snapshot().episode_id
        ids = [e.id for e in episodes]
        if current not in ids:
            return episodes[0] if episodes else None
        index = ids.index(current) + step
        return episodes[index] if 0 <= index < len(episodes) else None

    def _ended(self, end: EpisodeEnd) -> None:
        if end.reason == "error":
            self.earcon("error")
        if self.settings.autoplay:
            follower = self._neighbour(+1) if end.episode_id else None
            if follower is not None and not follower.played:
                self.play_episode(follower)
            else:
                self.play_next_unfinished()

    # -- the listener's actions -------------------------------------------------
    def act(self, action: Action) -> str:
        player = self.player
        if player is None:
            return "the player is not ready"
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
            episode = self._neighbour(+1 if action is Action.NEXT else -1)
            if episode is None:
                return "no other episode"
            self.play_episode(episode)
            return f"playing {episode.title}"
        return f"{action.value} is not a playback action"

    def seek(self, position: float) -> str:
        if self.player is None:
            return "the player is not ready"
        self.player.seek(position)
        return f"seek {position:.1f}"

    def snapshot(self) -> PlayerState:
        if self.player is None:
            from earmark.player.state import Status

            return PlayerState(Status.STOPPED)
        return self.player.snapshot()

    def earcon(self, name: str) -> None:
        if self.earcons is not None and self.settings.earcons:
            self.earcons.play(name)

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
        }

    # -- player callbacks (mpv's thread) ----------------------------------------
    def _save_position(self, progress: Progress) -> None:
        if progress.episode_id is None:
            return
        self.catalog.save_position(progress.episode_id, progress.position, progress.duration)
        if progress.played:
            self.catalog.mark_played(progress.episode_id)

    def _publish_state(self, state: PlayerState) -> None:
        # (re)start the look-ahead whenever an episode starts or resumes playing
        playing = state.episode_id if state.status == "playing" else None
        if playing != self._episode_id:
            self._episode_id = playing
            if playing is not None:
                self.on_episode(playing)
        episode = self.catalog.episode(state.episode_id) if state.episode_id else None
        payload = StatePayload(
            status=state.status.value,
            podcast=episode.podcast_title if episode else "",
            episode=episode.title if episode else "",
            episode_id=state.episode_id,
            position=round(state.position, 1),
            duration=state.duration,
            chapter=state.chapter_title,
            speed=state.speed,
            volume=state.volume,
        )
        self.link.publish("state", payload.to_json(), qos=0, retain=True)
