"""What MQTT does when the speaker changes: listeners on the event seam."""

from __future__ import annotations

from collections.abc import Callable

from earmark.events import ExportsChanged, HighlightChanged, Listener, PlayerStateChanged
from earmark.payloads import ExportsPayload, StatePayload


class StatePublisher(Listener):
    """The retained ``state`` message, from every player state change; and the
    retained ``exports`` message, from every change of an export target."""

    def __init__(self, publish: Callable[..., object], device_id: str = "") -> None:
        self.publish = publish
        self.device_id = device_id

    def player_state_changed(self, event: PlayerStateChanged) -> None:
        state = event.state
        payload = StatePayload(
            status=state.status.value,
            podcast=event.podcast,
            episode=event.episode,
            episode_id=state.episode_id,
            position=round(state.position, 1),
            duration=state.duration,
            chapter=state.chapter_title,
            chapter_index=state.chapter_index,
            chapters=[{"start": c.start, "title": c.title} for c in state.chapters],
            speed=state.speed,
            volume=state.volume,
            queue_length=event.queue_length,
        )
        self.publish("state", payload.to_json(), qos=0, retain=True)

    def exports_changed(self, event: ExportsChanged) -> None:
        targets = [
            {"target": name, "items": items, "parked": parked}
            for name, items, parked in event.targets
        ]
        payload = ExportsPayload(self.device_id, targets)
        self.publish("exports", payload.to_json(), qos=1, retain=True)


class OutboxWake(Listener):
    """A committed highlight version has its outbox row: the relay sends it now."""

    def __init__(self, notify: Callable[[], None]) -> None:
        self.notify = notify

    def highlight_changed(self, event: HighlightChanged) -> None:
        self.notify()
