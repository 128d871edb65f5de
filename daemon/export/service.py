"""Exports as a listener and a job: when a highlight is done, and again
whenever it changes, each configured target gets a durable job; the job writes
the highlight there and records the id it got in the same transaction as its
own completion.

- A crash between the write and the record runs the job again; every target
  finds its item by the highlight's stable key, so there is still one item.
- At start, what a crash or a newly configured target left behind is queued.
- A refused token parks the target with one log line (``earmark doctor`` and
  ``status`` say so) until its settings change; its jobs wait, none is lost.
- 429 waits what the server asked; other failures retry with backoff and
  never touch the highlight, which is saved whatever happens to its export.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from earmark.config.model import Config, ExportsConfig
from earmark.events import Event, ExportsChanged, HighlightChanged, Listener
from earmark.export.base import AuthFailed, Episode, Exporter, ExportItem
from earmark.export.registry import build_exporters, fingerprint
from earmark.store.database import Database
from earmark.store.exports import ExportBook
from earmark.store.highlights import DONE, Highlight
from earmark.store.jobs import Job, JobKind, JobQueue

log = logging.getLogger(__name__)

# a parked target's jobs are looked at again after this, in case the server
# only had a bad moment; a changed setting runs them at once (next start)
PARKED_RECHECK_SECONDS = 24 * 3600.0


class Exports(Listener):
    def __init__(
        self,
        config: ExportsConfig,
        db: Database,
        queue: JobQueue,
        announce: Callable[[Event], None] = lambda event: None,
        dashboard_url: str | None = None,
        exporters: dict[str, Exporter] | None = None,
    ) -> None:
        self.config = config
        self.db = db
        self.queue = queue
        self.announce = announce
        self.wake: Callable[[], None] = lambda: None  # the job worker's, once it is built
        self.book = ExportBook(db)
        # what the targets hold is read and announced as one step, so that the
        # worker's news and the start's cannot arrive in the other order
        self._telling = threading.Lock()
        self.exporters = build_exporters(config) if exporters is None else exporters
        base = config.dashboard_url or dashboard_url
        self.link_base = base.rstrip("/") if base else None

    @classmethod
    def of(
        cls, config: Config, db: Database, queue: JobQueue, announce: Callable[[Event], None]
    ) -> Exports:
        """The speaker's exports, from its whole config (links go to the dashboard
        named for exports, else the one named for Home Assistant)."""
        return cls(config.exports, db, queue, announce, config.home_assistant.dashboard_url)

    @property
    def targets(self) -> list[str]:
        return list(self.exporters)

    def runners(self) -> dict[str, Callable[[Job], None]]:
        return {JobKind.EXPORT: self.run}

    def start(self) -> None:
        """Run again what a changed setting unparks; queue what is behind."""
        for target, (why, settings) in self.book.parked().items():
            if target in self.exporters and settings != fingerprint(self.config, target):
                jobs = self.book.unpark(target)
                log.info("export to %s runs again (its settings changed) jobs=%d", target, jobs)
                self.wake()  # its jobs are due now, not at the worker's next idle look
            elif target in self.exporters:
                log.error("export to %s is parked: %s", target, why)
        self._tell()
        behind = self.book.behind(self.targets)
        if behind:
            with self.db.transaction() as conn:
                for target, highlight_id in behind:
                    self.book.queue(conn, highlight_id, [target])
            log.info("exports queued at start jobs=%d", len(behind))
            self.wake()

    def highlight_changed(self, event: HighlightChanged) -> None:
        h = event.highlight
        if not self.exporters or h.status != DONE:
            return
        with self.db.transaction() as conn:
            queued = self.book.queue(conn, h.id, self.targets)
        if queued:
            self.wake()

    # -- the job ---------------------------------------------------------------------

    def run(self, job: Job) -> None:
        target = job.target or ""
        exporter = self.exporters.get(target)
        h = self.book.highlight(job.highlight_id or "")
        if exporter is None or h is None:
            # a target taken out of the config, or a highlight gone: nothing to do
            with self.db.transaction() as conn:
                self.queue.finish(conn, job)
            return
        if target in self.book.parked():
            with self.db.transaction() as conn:
                self.book.postpone(conn, job.id, PARKED_RECHECK_SECONDS, "the target is parked")
            return
        held = self.book.exported(target, h.id)
        item = self._item(h)
        try:
            if h.deleted:
                if held is not None and held.external_id and not held.removed:
                    exporter.remove(item, held.external_id)
                external = held.external_id if held else None
                removed = True
            elif held is not None and held.version >= h.version and not held.removed:
                external, removed = held.external_id, False  # it holds this one already
            else:
                external = exporter.export(item, held.external_id if held else None)
                removed = False
        except AuthFailed as exc:
            self._park(job, target, str(exc))
            return
        with self.db.transaction() as conn:
            self.book.record(conn, target, h.id, external, h.version, removed)
            self.queue.finish(conn, job)
        self._tell()
        log.info(
            "exported target=%s highlight=%s version=%d id=%s%s",
            target,
            h.id,
            h.version,
            external,
            " (removed)" if removed else "",
        )

    def _park(self, job: Job, target: str, why: str) -> None:
        with self.db.transaction() as conn:
            self.book.park(conn, target, why, fingerprint(self.config, target))
            self.book.postpone(conn, job.id, PARKED_RECHECK_SECONDS, why)
        log.error("export to %s parked: %s", target, why)
        self._tell()

    def _tell(self) -> None:
        """Announce what each target holds and which is parked (MQTT, retained)."""
        if not self.exporters:
            return
        with self._telling:
            counts, parked = self.book.counts(), self.book.parked()
            self.announce(
                ExportsChanged(
                    tuple(
                        (name, counts.get(name, 0), parked[name][0] if name in parked else None)
                        for name in self.exporters
                    )
                )
            )

    def _item(self, h: Highlight) -> ExportItem:
        row = self.book.episode(h)
        link = f"{self.link_base}/highlights/{h.id}" if self.link_base else None
        return ExportItem(
            highlight=h,
            episode=Episode(
                podcast=row.podcast,
                title=row.title,
                author=row.author,
                feed_url=row.feed_url,
                url=row.url,
                published_at=row.published_at,
                artwork=row.artwork,
                episode_id=h.episode_id,
            ),
            siblings=tuple(self.book.siblings(h)),
            link=link,
        )
