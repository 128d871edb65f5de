"""The LED policy: which pattern the status LED shows, decided from the
speaker's events (a listener the composition root registers)."""

from __future__ import annotations

from earmark.device.light import LightState, StatusLight
from earmark.events import (
    BrokerConnected,
    BrokerDisconnected,
    JobFinished,
    JobStarted,
    Listener,
    PlayerStateChanged,
    SnipSaved,
)


class LightPolicy(Listener):
    """Most urgent first: error, no network, transcribing, playing, idle."""

    def __init__(self, light: StatusLight) -> None:
        self.light = light
        self.player_status = "stopped"
        self.online = False
        self.jobs_running = 0
        self._show()

    def player_state_changed(self, event: PlayerStateChanged) -> None:
        self.player_status = event.state.status.value
        self._show()

    def broker_connected(self, event: BrokerConnected) -> None:
        self.online = True
        self._show()

    def broker_disconnected(self, event: BrokerDisconnected) -> None:
        self.online = False
        self._show()

    def job_started(self, event: JobStarted) -> None:
        self.jobs_running += 1
        self._show()

    def job_finished(self, event: JobFinished) -> None:
        self.jobs_running = max(0, self.jobs_running - 1)
        self._show()

    def snip_saved(self, event: SnipSaved) -> None:
        self.light.flash(LightState.SNIP_SAVED)

    def state(self) -> LightState:
        if self.player_status == "error":
            return LightState.ERROR
        if not self.online:
            return LightState.NO_NETWORK
        if self.jobs_running:
            return LightState.TRANSCRIBING
        if self.player_status == "playing":
            return LightState.PLAYING
        return LightState.IDLE

    def _show(self) -> None:
        state = self.state()
        if state != self.light.state:
            self.light.show(state)
