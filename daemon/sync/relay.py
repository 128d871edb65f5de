"""The outbox relay: publish unsent outbox rows, mark each sent on its PUBACK.

Nothing is deleted before the broker has it. After a reconnect everything not
yet acknowledged is sent again, so consumers de-duplicate by id and version.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from pathlib import Path

from earmark.store import outbox
from earmark.store.database import Database
from earmark.sync.mqtt import MqttLink

log = logging.getLogger(__name__)


class OutboxRelay:
    def __init__(self, db: Database, link: MqttLink, poll_seconds: float = 1.0) -> None:
        self.db = db
        self.link = link
        self.poll_seconds = poll_seconds
        self._acks: queue.SimpleQueue[int] = queue.SimpleQueue()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._inflight: dict[int, int] = {}  # mqtt message id -> outbox row id
        self._early_acks: set[int] = set()
        self._thread = threading.Thread(target=self._run, name="outbox-relay", daemon=True)

    def acked(self, mid: int) -> None:
        """Called by the MQTT link on its thread for every PUBACK."""
        self._acks.put(mid)
        self._wake.set()

    def notify(self) -> None:
        """Something new is in the outbox."""
        self._wake.set()

    def start(self) -> None:
        self._thread.start()

    def stop(self, flush_seconds: float = 2.0) -> None:
        """Give what is queued a short chance to leave, then stop."""
        deadline = time.monotonic() + flush_seconds
        while (
            self.link.connected
            and time.monotonic() < deadline
            and (self._inflight or outbox.pending_count(self.db))
        ):
            self._wake.set()
            time.sleep(0.05)
        self._stop.set()
        self._wake.set()
        self._thread.join(5)

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self.poll_seconds)
            self._wake.clear()
            try:
                self._settle_acks()
                if self.link.connected:
                    self._send()
                else:
                    self._inflight.clear()  # resent after reconnect
                    self._early_acks.clear()
            except Exception:  # the relay must outlive any one bad row or broker hiccup
                log.exception("outbox relay round failed; retrying")
                time.sleep(self.poll_seconds)

    def _settle_acks(self) -> None:
        while True:
            try:
                mid = self._acks.get_nowait()
            except queue.Empty:
                break
            self._early_acks.add(mid)
        for mid in list(self._early_acks):
            row_id = self._inflight.pop(mid, None)
            if row_id is not None:
                outbox.mark_sent(self.db, row_id)
                self._early_acks.discard(mid)

    def _send(self) -> None:
        waiting = set(self._inflight.values())
        last = max(waiting, default=0)
        for message in outbox.unsent(self.db, after_id=last, limit=50):
            payload = message.payload
            if message.payload_file:
                try:
                    payload = Path(message.payload_file).read_bytes()
                except OSError as exc:
                    log.warning("outbox row=%s file gone (%s); marking sent", message.id, exc)
                    outbox.mark_sent(self.db, message.id)
                    continue
            mid = self.link.publish(message.topic, payload or b"", message.qos, message.retain)
            if mid is None:
                return
            if message.qos == 0:
                outbox.mark_sent(self.db, message.id)
            else:
                self._inflight[mid] = message.id
        self._settle_acks()
