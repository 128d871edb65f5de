"""Follow the listener's Bluetooth headset: when it goes away mid-episode, play
on through ``player.fallback_audio_device`` if one is configured, else pause
(the position saved as every pause saves it), and at start autoplay loads the
episode paused (until the first look finds the headset, it counts as away);
when it is back, sound through it again and play on what earmark paused. A
pause the listener made, or a play, pause or new episode since, is theirs: it
stays as they left it."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from earmark.events import HeadsetAway, HeadsetConnected, Listener

if TYPE_CHECKING:
    from earmark.playback.controller import Playback

log = logging.getLogger(__name__)

AWAY = "headset away"


class FollowHeadset(Listener):
    def __init__(self, playback: Playback) -> None:
        self.playback = playback
        self.fallback = playback.settings.fallback_audio_device
        self.on_fallback = False
        if playback.settings.bluetooth_headset:
            # away until the watch's first look says otherwise: what autoplay starts
            # before that look loads paused, not a second into an output not there
            playback.hold(AWAY)

    def headset_away(self, event: HeadsetAway) -> None:
        if self.fallback is not None:
            if not self.on_fallback:
                self.playback.use_audio_device(self.fallback)
                self.on_fallback = True
                log.info(
                    "playing through the fallback reason=headset away address=%s device=%s",
                    event.address,
                    self.fallback,
                )
            self.playback.release(AWAY)  # held since start, before the first look
            return
        if self.playback.hold(AWAY):
            state = self.playback.snapshot()
            log.info(
                "paused reason=headset away address=%s episode=%s position=%.1f",
                event.address,
                state.episode_id,
                state.position,
            )
        elif self.playback.held == AWAY:
            log.info("playing waits for the headset address=%s", event.address)

    def headset_connected(self, event: HeadsetConnected) -> None:
        if self.on_fallback:
            self.playback.use_audio_device(None)
            self.on_fallback = False
            device = self.playback.settings.audio_device or "auto"
            log.info(
                "playing through the headset again address=%s device=%s", event.address, device
            )
        if self.playback.release(AWAY):
            log.info("playing on reason=headset back address=%s", event.address)
