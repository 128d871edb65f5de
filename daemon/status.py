"""What the speaker is doing, for ``earmark status`` and ``cmd/status``: the
player, the broker link (learnt from events), and what waits on disk."""

from __future__ import annotations

from typing import Any

from earmark.events import BrokerConnected, BrokerDisconnected, Listener
from earmark.playback import Playback
from earmark.store import counts, outbox
from earmark.store.database import Database


class SpeakerStatus(Listener):
    def __init__(self, playback: Playback, db: Database) -> None:
        self.playback = playback
        self.db = db
        self.online = False

    def broker_connected(self, event: BrokerConnected) -> None:
        self.online = True

    def broker_disconnected(self, event: BrokerDisconnected) -> None:
        self.online = False

    def report(self) -> dict[str, Any]:
        state = self.playback.snapshot()
        return {
            "ok": True,
            "player": self.playback.describe(),
            "playing": bool(state.source),
            "mqtt_connected": self.online,
            "outbox_pending": outbox.pending_count(self.db),
            "highlights": counts.highlights(self.db),
            "jobs_waiting": counts.jobs_waiting(self.db),
            "exports": counts.exports(self.db),
        }
