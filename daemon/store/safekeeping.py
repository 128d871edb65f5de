"""A store that cannot be lost: checked at start, backed up every day and before
each migration, restored from the newest good backup when it is corrupt.

Backups are whole copies made with SQLite's online backup API from a connection
of their own (the speaker's writes go on meanwhile), kept in ``backups/`` beside
the store, the newest ``KEEP`` of them, 0600 like the store. A corrupt store is
moved aside (``earmark.db.corrupt-<UTC time>``, with its -wal and -shm), never
deleted; with no good backup to put in its place the speaker refuses to start
rather than start silently on an empty store.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import sqlite3
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from earmark.errors import StoreError
from earmark.store.disk import has_no_room, is_disk_full

log = logging.getLogger(__name__)

KEEP = 7  # backups kept; older ones are pruned
DAY = 24 * 3600.0
RECENT = timedelta(days=7)  # how long doctor fails on a corrupt copy set aside
_STAMP = "%Y%m%dT%H%M%SZ"
_CORRUPT_CODES = (sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB)


def backup_folder(store: Path) -> Path:
    return store.parent / "backups"


def backups(store: Path) -> list[Path]:
    """The store's backups, newest first."""
    folder = backup_folder(store)
    if not folder.is_dir():
        return []
    found = [p for p in folder.glob(f"{store.stem}-*.db") if p.is_file()]
    return sorted(found, key=lambda p: (p.stat().st_mtime, p.name), reverse=True)


def corrupt_copies(store: Path) -> list[tuple[datetime, Path]]:
    """Corrupt stores set aside beside ``store``, newest first, with when."""
    found = []
    for path in store.parent.glob(f"{store.name}.corrupt-*"):
        stamp = path.name.removeprefix(f"{store.name}.corrupt-")[: len("20250101T120000Z")]
        with contextlib.suppress(ValueError):
            found.append((datetime.strptime(stamp, _STAMP).replace(tzinfo=UTC), path))
    return sorted((f for f in found if not f[1].name.endswith(("-wal", "-shm"))), reverse=True)


def problem(path: Path, read_only: bool = False) -> str | None:
    """What ``PRAGMA quick_check`` finds wrong with the database at ``path`` (or
    that it is not a database), None when it passes. A failure to open that is not
    corruption (locked, no permission) raises StoreError: nothing to restore."""
    target = f"{path.resolve().as_uri()}?mode={'ro' if read_only else 'rw'}"
    try:
        with contextlib.closing(sqlite3.connect(target, uri=True, timeout=10)) as conn:
            rows = [str(r[0]) for r in conn.execute("PRAGMA quick_check(3)").fetchall()]
    except sqlite3.DatabaseError as exc:
        if is_disk_full(exc) or has_no_room(path.parent):
            raise StoreError(
                f"cannot check database {path}: the disk holding it is full;"
                f" free some space in {path.parent}"
            ) from None
        if getattr(exc, "sqlite_errorcode", 0) & 0xFF in _CORRUPT_CODES:
            return str(exc)
        raise StoreError(f"cannot check database {path}: {exc}") from None
    return None if rows == ["ok"] else " ".join("; ".join(rows).split())  # one line


class Safekeeping:
    """The store's backups and its check at start, for the one process that
    writes it; ``every`` seconds between backups while it runs."""

    def __init__(self, store: Path, keep: int = KEEP, every: float = DAY) -> None:
        self.store = store
        self.folder = backup_folder(store)
        self.keep = keep
        self.every = every
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def check(self) -> None:
        """Before the store is opened: a corrupt one is set aside and the newest
        good backup put in its place, or StoreError when there is none."""
        wal = self.store.with_name(f"{self.store.name}-wal")
        if not (self.store.exists() and (self.store.stat().st_size or wal.exists())):
            return  # a new store
        found = problem(self.store)
        if found is None:
            return
        good = next((b for b in backups(self.store) if _passes(b)), None)
        if good is None:
            raise StoreError(
                f"database {self.store} is corrupt ({found}) and no good backup is in "
                f"{self.folder}; earmark left it untouched: recover it with `sqlite3 "
                f"{self.store} .recover`, or move it away to start with an empty store"
            )
        aside = self._restore(good)
        log.error(
            "STORE CORRUPT: %s failed quick_check (%s); moved aside to %s and restored "
            "from backup %s",
            self.store,
            found,
            aside,
            good,
        )

    def _restore(self, good: Path) -> Path:
        """Put ``good`` in the store's place; the corrupt store and its -wal and -shm
        keep their bytes under a ``.corrupt-<UTC time>`` name. In an order a crash
        cannot harm: at worst the next start finds the corrupt store again."""
        stamp = datetime.now(UTC).strftime(_STAMP)
        aside = _unused(lambda n: self.store.with_name(f"{self.store.name}.corrupt-{stamp}{n}"))
        restoring = self.store.with_name(self.store.name + ".restoring")
        try:
            _copy_private(good, restoring)
            for suffix in ("-wal", "-shm"):  # never to be replayed onto the backup
                part = self.store.with_name(self.store.name + suffix)
                if part.exists():
                    part.rename(aside.with_name(aside.name + suffix))
            try:
                os.link(self.store, aside)
            except OSError:  # a file system without hard links
                shutil.copy2(self.store, aside)
            restoring.replace(self.store)
        except OSError as exc:
            restoring.unlink(missing_ok=True)
            raise StoreError(
                f"database {self.store} is corrupt and could not be restored from {good} "
                f"({exc}); free space or fix the owner of {self.store.parent}, then start again"
            ) from None
        return aside

    def back_up(self, reason: str) -> Path:
        """Copy the store into a new backup now and prune the oldest beyond ``keep``."""
        stamp = datetime.now(UTC).strftime(_STAMP)
        tag = "" if reason in ("start", "daily") else f"-{reason}"
        target = _unused(lambda n: self.folder / f"{self.store.stem}-{stamp}{tag}{n}.db")
        partial = target.with_name(target.name + ".partial")
        try:
            self.folder.mkdir(mode=0o700, parents=True, exist_ok=True)
            _create_private(partial)
            source = f"{self.store.resolve().as_uri()}?mode=ro"
            with (
                contextlib.closing(sqlite3.connect(source, uri=True, timeout=10)) as src,
                contextlib.closing(sqlite3.connect(partial)) as dst,
            ):
                src.backup(dst)
                dst.execute("PRAGMA journal_mode=DELETE")  # one self-contained file
            _sync(partial)
            partial.replace(target)
        except (sqlite3.Error, OSError) as exc:
            partial.unlink(missing_ok=True)
            if is_disk_full(exc):
                raise StoreError(
                    f"cannot back up {self.store} into {self.folder}: the disk is full;"
                    " free some space there"
                ) from None
            raise StoreError(f"cannot back up {self.store} into {self.folder}: {exc}") from None
        log.info("store backed up to %s reason=%s", target, reason)
        for old in backups(self.store)[self.keep :]:
            old.unlink(missing_ok=True)
            log.info("store backup pruned %s", old)
        return target

    def start(self) -> None:
        """After the store is open: a backup now when the newest is a day old (or
        there is none), then one every ``every`` seconds on a thread of its own."""
        age = _age(backups(self.store))
        wait = self.every - age if age is not None else 0.0
        if wait <= 0:
            self._back_up_logged("start")
            wait = self.every
        self._thread = threading.Thread(
            target=self._run, args=(min(wait, self.every),), name="store-backup", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(2.0)

    def _run(self, wait: float) -> None:
        while not self._stop.wait(wait):  # Event.wait counts monotonic time
            self._back_up_logged("daily")
            wait = self.every

    def _back_up_logged(self, reason: str) -> None:
        try:
            self.back_up(reason)
        except StoreError as exc:  # the speaker goes on; doctor says when backups are old
            log.error("store backup failed reason=%s: %s", reason, exc)


def health(store: Path) -> str:
    """``earmark doctor``'s line: the store passes quick_check and has backups;
    StoreError when a corrupt store was set aside lately, the store fails its check,
    or a store a day old has no backup."""
    now = datetime.now(UTC)
    recent = [c for c in corrupt_copies(store) if now - c[0] < RECENT]
    if recent:
        when, path = recent[0]
        raise StoreError(
            f"the store was corrupt and was restored from a backup on {when:%Y-%m-%d %H:%M} "
            f"UTC; the damaged copy is {path}: check the SD card, then delete that copy"
        )
    if not store.exists():
        return "no store yet (made and backed up at the first start)"
    found = problem(store, read_only=True)
    if found is not None:
        raise StoreError(
            f"store {store} fails quick_check ({found}): restart earmark to restore "
            "the newest good backup"
        )
    kept = backups(store)
    age = _age(kept)
    if age is None:
        if _store_age(store) > DAY:
            raise StoreError(
                f"no backup in {backup_folder(store)} of a store a day old: start earmark "
                "(it backs up at start) and check that folder is writable"
            )
        return "integrity ok; no backup yet"
    return f"integrity ok; {len(kept)} backups, newest {_say_age(age)} old"


def _store_age(store: Path) -> float:
    """Seconds since the store's first migration (its making)."""
    uri = f"{store.resolve().as_uri()}?mode=ro"
    try:
        with contextlib.closing(sqlite3.connect(uri, uri=True)) as conn:
            row = conn.execute("SELECT min(applied_at) FROM schema_version").fetchone()
        made = datetime.fromisoformat(str(row[0]).replace("Z", "+00:00"))
    except (sqlite3.Error, ValueError):
        return 0.0
    return (datetime.now(UTC) - made).total_seconds()


def _say_age(seconds: float) -> str:
    if seconds < 3600:
        return f"{max(seconds, 0) / 60:.0f} min"
    if seconds < 2 * DAY:
        return f"{seconds / 3600:.0f} h"
    return f"{seconds / DAY:.0f} days"


def _age(kept: list[Path]) -> float | None:
    if not kept:
        return None
    return datetime.now().timestamp() - kept[0].stat().st_mtime


def _passes(backup: Path) -> bool:
    try:
        return problem(backup, read_only=True) is None
    except StoreError:
        return False


def _unused(name: Callable[[str], Path]) -> Path:
    path, n = name(""), 1
    while path.exists():
        n += 1
        path = name(f"-{n}")
    return path


def _create_private(path: Path) -> None:
    path.unlink(missing_ok=True)
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))


def _copy_private(source: Path, target: Path) -> None:
    """``source``'s bytes into a new 0600 file ``target``, on disk when it returns."""
    _create_private(target)
    with source.open("rb") as src, target.open("r+b") as dst:
        shutil.copyfileobj(src, dst)
    _sync(target)


def _sync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    with contextlib.suppress(OSError):  # the rename that follows is durable too
        folder = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(folder)
        finally:
            os.close(folder)
