"""What MQTT does when the speaker changes: listeners on the event seam."""

from __future__ import annotations

from collections.abc import Callable

from earmark.events import (
    BrokerConnected,
    ExportsChanged,
    HighlightChanged,
    Listener,
    PlayerStateChanged,
)
from earmark.payloads import ExportsPayload, StatePayload

# the state changes many times a second while playing (the next one mends a loss);
# a change of an export target may be the last for days
RETAINED_QOS = {"state": 0, "exports": 1}


class StatePublisher(Listener):
    """The retained ``state`` message, from every player state change; and the
    retained ``exports`` message, from every change of an export target.

    The link drops what is published while it is away (at start, before the
    first connection, and during an outage), and a broker without persistence
    forgets retained messages when it restarts: the last of each is sent again
    on every connection, so a paused speaker or a parked export is not shown
    stale until its next change."""

    def __init__(self, publish: Callable[..., object], device_id: str = "") -> None:
        self.publish = publish
        self.device_id = device_id
        self._last: dict[str, bytes] = {}  # relative topic -> the latest retained payload

    def broker_connected(self, event: BrokerConnected) -> None:
        for topic, payload in self._last.items():
            self._retain(topic, payload)

    def _retain(self, topic: str, payload: bytes) -> None:
        self._last[topic] = payload
        self.publish(topic, payload, qos=RETAINED_QOS[topic], retain=True)

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
        self._retain("state", payload.to_json())

    def exports_changed(self, event: ExportsChanged) -> None:
        targets = [
            {"target": name, "items": items, "parked": parked}
            for name, items, parked in event.targets
        ]
        payload = ExportsPayload(self.device_id, targets)
        self._retain("exports", payload.to_json())


class OutboxWake(Listener):
    """A committed highlight version has its outbox row: the relay sends it now."""

    def __init__(self, notify: Callable[[], None]) -> None:
        self.notify = notify

    def highlight_changed(self, event: HighlightChanged) -> None:
        self.notify()
