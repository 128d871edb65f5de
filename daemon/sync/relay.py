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

Matched acknowledgements are collected and marked in one transaction (one
fsync) every ``ack_linger`` seconds or ``ack_batch`` rows, whichever comes
first. At most ``window`` rows (``window_bytes`` of payload, a clip is big)
wait for their PUBACK at once. Rows sent longer
ago than ``retention_days`` are deleted at start and every ``prune_every``
seconds, a few hundred per transaction.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from earmark.errors import EarmarkError
from earmark.store import outbox
from earmark.store.database import Database
from earmark.store.highlights import HighlightBook
from earmark.store.outbox import OutboxMessage
from earmark.sync.mqtt import MqttLink

log = logging.getLogger(__name__)


class OutboxRelay:
    def __init__(
        self,
        db: Database,
        link: MqttLink,
        poll_seconds: float = 1.0,
        *,
        retention_days: float = 7.0,
        prune_every: float = 3600.0,
        ack_batch: int = 100,
        ack_linger: float = 0.005,
        window: int = 1000,
        window_bytes: int = 4_000_000,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.db = db
        self.link = link
        self.poll_seconds = poll_seconds
        self.retention = timedelta(days=retention_days)
        self.prune_every = prune_every
        self.ack_batch = ack_batch
        self.ack_linger = ack_linger
        self.window = window
        self.window_bytes = window_bytes
        self.clock = clock
        self.prunes = 0  # prune rounds done (tests wait on it)
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._acks_came = threading.Condition(self._lock)
        # guarded by _lock: rows sent on this connection and waiting for their PUBACK
        # (mqtt message id -> outbox row id), rows whose PUBACK came, and the ids
        # acknowledged while a publish of ours had not yet returned its id
        self._inflight: dict[int, int] = {}
        self._acked_rows: list[int] = []
        self._publishing = False
        self._acked_while_publishing: set[int] = set()
        self._sizes: dict[int, int] = {}  # payload bytes of each row waiting (by row id)
        self._connection = 0  # the link's connection the in-flight rows were sent on
        self._thread = threading.Thread(target=self._run, name="outbox-relay", daemon=True)

    def acked(self, mid: int) -> None:
        """Called by the MQTT link on its thread for every PUBACK."""
        with self._lock:
            row_id = self._inflight.pop(mid, None)
            if row_id is not None:
                self._acked_rows.append(row_id)
                if len(self._acked_rows) >= self.ack_batch or not self._inflight:
                    self._acks_came.notify()
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
        try:
            self._mark_acked()  # what was acknowledged during the last round
        except EarmarkError as exc:  # a full disk: sent again next start, deduplicated by id
            log.warning("acknowledged outbox rows not marked sent at stop: %s", exc)

    def _run(self) -> None:
        next_prune = time.monotonic()  # at start, then every prune_every
        refused = False  # the store refused a write (a full disk): said once, not each round
        while not self._stop.is_set():
            try:
                if time.monotonic() >= next_prune:
                    next_prune = time.monotonic() + self.prune_every
                    self._prune()
                self._wait_for_acks()
                self._mark_acked()
                self._forget_lost_connection()
                if self.link.connected:
                    self._send()
                if refused:
                    log.info("outbox relay: the store takes writes again")
                    refused = False
            except EarmarkError as exc:
                if not refused:
                    log.error("outbox relay round failed: %s; retrying", exc)
                refused = True
                time.sleep(self.poll_seconds)
            except Exception:  # the relay must outlive any one bad row or broker hiccup
                log.exception("outbox relay round failed; retrying")
                time.sleep(self.poll_seconds)
            self._wake.wait(min(self.poll_seconds, max(0.0, next_prune - time.monotonic())))
            self._wake.clear()

    def _prune(self) -> None:
        deleted = outbox.prune_sent(self.db, self.clock() - self.retention)
        self.prunes += 1
        if deleted:
            log.info("outbox pruned rows=%d sent more than %s ago", deleted, self.retention)

    def _wait_for_acks(self) -> None:
        """Once acknowledgements come, let a few more join them (one fsync for all)."""
        with self._acks_came:
            if self._acked_rows and self._inflight:
                self._acks_came.wait_for(
                    lambda: len(self._acked_rows) >= self.ack_batch or not self._inflight,
                    self.ack_linger,
                )

    def _forget_lost_connection(self) -> None:
        """A PUBACK for a message sent on an earlier connection may never come:
        everything in flight is sent again on the new one."""
        connection = self.link.connections if self.link.connected else -1
        if connection == self._connection:
            return
        with self._lock:
            for row_id in self._inflight.values():
                self._sizes.pop(row_id, None)
            self._inflight.clear()
        self._connection = connection

    def _mark_acked(self, settled: list[int] | None = None) -> None:
        """Mark every row acknowledged so far (and ``settled``) in one transaction."""
        with self._lock:
            rows, self._acked_rows = self._acked_rows, []
        rows += settled or []
        try:
            outbox.mark_sent(self.db, rows)
        except BaseException:
            with self._lock:  # still acknowledged: marked by the next round
                self._acked_rows[:0] = rows
            raise
        with self._lock:
            for row_id in rows:
                self._sizes.pop(row_id, None)

    def _send(self) -> None:
        with self._lock:
            waiting = set(self._inflight.values()) | set(self._acked_rows)
            room_bytes = self.window_bytes - sum(self._sizes.values())
        room = self.window - len(waiting)
        if room <= 0 or room_bytes <= 0:
            return
        last = max(waiting, default=0)
        settled: list[int] = []  # rows done without a PUBACK to wait for
        for message in outbox.unsent(self.db, after_id=last, limit=room):
            payload = message.payload
            if message.payload_file:
                try:
                    payload = Path(message.payload_file).read_bytes()
                except OSError as exc:
                    log.warning("outbox row=%s file gone (%s); marking sent", message.id, exc)
                    settled.append(message.id)
                    continue
            mid = self._publish(message, payload or b"")
            if mid is None:
                break
            if message.qos == 0:
                settled.append(message.id)
            room_bytes -= len(payload or b"")
            if room_bytes <= 0:
                break  # the rest when these are acknowledged
        self._mark_acked(settled)

    def _publish(self, message: OutboxMessage, payload: bytes) -> int | None:
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
                    self._sizes[message.id] = len(payload)
                    if mid in early:
                        self._acked_rows.append(message.id)
                    else:
                        self._inflight[mid] = message.id
        return mid


class ResyncError(EarmarkError):
    """A resync asked for with a wrong ``since``."""


def since_utc(value: object) -> str | None:
    """``since`` as the store writes its times (UTC, milliseconds, ``Z``); None
    (not given) means every highlight."""
    if value is None:
        return None
    example = "such as 2026-11-26T08:00:00Z"
    try:
        when = datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        when = None
    if when is None:
        raise ResyncError(f"'since' must be an ISO-8601 time {example}, got {value!r}")
    if when.tzinfo is None:
        raise ResyncError(f"'since' must say its zone (Z for UTC), {example}, got {value!r}")
    return when.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def resync(book: HighlightBook, args: dict[str, Any]) -> dict[str, Any]:
    """Queue the current version of every highlight changed since ``args['since']``
    (default: all) through the outbox again, for a consumer that was away."""
    since = since_utc(args.get("since"))

    queued = outbox.requeue_highlights(book.db, since, book.published)
    log.info("resync queued highlights=%d since=%s", queued, since or "the start")
    what = "highlight" if queued == 1 else "highlights"
    after = f" changed since {since}" if since else ""
    return {"ok": True, "queued": queued, "message": f"{queued} {what}{after} queued again"}
