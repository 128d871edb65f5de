"""The outbox relay: publish unsent outbox rows, mark each sent on its PUBACK.

Nothing is deleted before the broker has it. After a reconnect everything not
yet acknowledged is sent again, so consumers de-duplicate by id and version.

A row is marked sent only on the PUBACK of its own message. The link reports
the acknowledgement of every message it sends (the once-a-second ``state``,
``cmd/result``, ``status``), and message ids wrap at 65 535, so the relay
keeps no acknowledgement it cannot match to a message of its own: it learns
the id of each publish under its lock, and an acknowledgement that arrives
while a publish is still returning (paho may call back first) is held only
until that publish returns.
"""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path

from earmark.store import outbox
from earmark.store.database import Database
from earmark.store.outbox import OutboxMessage
from earmark.sync.mqtt import MqttLink

log = logging.getLogger(__name__)


class OutboxRelay:
    def __init__(self, db: Database, link: MqttLink, poll_seconds: float = 1.0) -> None:
        self.db = db
        self.link = link
        self.poll_seconds = poll_seconds
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._lock = threading.Lock()
        # guarded by _lock: rows sent on this connection and waiting for their PUBACK
        # (mqtt message id -> outbox row id), rows whose PUBACK came, and the ids
        # acknowledged while a publish of ours had not yet returned its id
        self._inflight: dict[int, int] = {}
        self._acked_rows: list[int] = []
        self._publishing = False
        self._acked_while_publishing: set[int] = set()
        self._connection = 0  # the link's connection the in-flight rows were sent on
        self._thread = threading.Thread(target=self._run, name="outbox-relay", daemon=True)

    def acked(self, mid: int) -> None:
        """Called by the MQTT link on its thread for every PUBACK."""
        with self._lock:
            row_id = self._inflight.pop(mid, None)
            if row_id is not None:
                self._acked_rows.append(row_id)
            elif self._publishing:
                self._acked_while_publishing.add(mid)
                return  # matched (or dropped) when the publish returns
            else:
                return  # not one of ours
        self._wake.set()

    def notify(self) -> None:
        """Something new is in the outbox."""
        self._wake.set()

    @property
    def awaiting_ack(self) -> int:
        """Rows published and not yet marked sent."""
        with self._lock:
            return len(self._inflight) + len(self._acked_rows)

    def start(self) -> None:
        self._thread.start()

    def stop(self, flush_seconds: float = 2.0) -> None:
        """Give what is queued a short chance to leave, then stop."""
        deadline = time.monotonic() + flush_seconds
        while (
            self.link.connected
            and time.monotonic() < deadline
            and (self.awaiting_ack or outbox.pending_count(self.db))
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
                self._mark_acked()
                self._forget_lost_connection()
                if self.link.connected:
                    self._send()
            except Exception:  # the relay must outlive any one bad row or broker hiccup
                log.exception("outbox relay round failed; retrying")
                time.sleep(self.poll_seconds)

    def _forget_lost_connection(self) -> None:
        """A PUBACK for a message sent on an earlier connection may never come:
        everything in flight is sent again on the new one."""
        connection = self.link.connections if self.link.connected else -1
        if connection == self._connection:
            return
        with self._lock:
            self._inflight.clear()
        self._connection = connection

    def _mark_acked(self) -> None:
        with self._lock:
            rows, self._acked_rows = self._acked_rows, []
        for row_id in rows:
            outbox.mark_sent(self.db, row_id)

    def _send(self) -> None:
        with self._lock:
            waiting = set(self._inflight.values()) | set(self._acked_rows)
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
            if not self._publish(message, payload or b""):
                break
        self._mark_acked()

    def _publish(self, message: OutboxMessage, payload: bytes) -> bool:
        """Send one row and learn its message id before any PUBACK is matched."""
        with self._lock:
            self._publishing = True
        mid = None
        try:
            mid = self.link.publish(message.topic, payload, message.qos, message.retain)
        finally:
            with self._lock:
                self._publishing = False
                early = self._acked_while_publishing
                self._acked_while_publishing = set()
                if mid is not None and message.qos > 0:
                    if mid in early:
                        self._acked_rows.append(message.id)
                    else:
                        self._inflight[mid] = message.id
        if mid is None:
            return False
        if message.qos == 0:
            outbox.mark_sent(self.db, message.id)
        return True
