"""Open the SQLite database: WAL, foreign keys, numbered migrations.

One connection is shared by the daemon's threads behind a lock; every write is
a short transaction, and synchronous=FULL makes a committed snip survive a
power cut.
"""

from __future__ import annotations

import contextlib
import importlib.resources
import logging
import os
import re
import sqlite3
import stat
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

from earmark.errors import StoreError
from earmark.store.disk import has_no_room, is_disk_full
from earmark.store.safekeeping import Safekeeping

log = logging.getLogger(__name__)
# how long a write waits for a lock another program holds before it gives up,
# and how long SQLite waits at a time before the connection is free for others
BUSY_TIMEOUT = 10.0
BUSY_STEP = 0.1
_MIGRATION_NAME = re.compile(r"(\d{4})_[a-z0-9_]+\.sql$")


class DiskFullError(StoreError, sqlite3.OperationalError):
    """A write the disk had no room for. Still an ``sqlite3.OperationalError``, so
    code that waits out a refusing database (the job worker) waits this out too."""

    sqlite_errorcode = sqlite3.SQLITE_FULL

    @classmethod
    def of(cls, folder: Path) -> DiskFullError:
        return cls(f"the disk holding {folder} is full; free some space there")


def utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def migrations() -> list[tuple[int, str]]:
    folder = importlib.resources.files("earmark.store") / "migrations"
    found = []
    for entry in folder.iterdir():
        match = _MIGRATION_NAME.match(entry.name)
        if match:
            found.append((int(match.group(1)), entry.read_text(encoding="utf-8")))
    return sorted(found)


class Database:
    def __init__(self, path: Path, read_only: bool = False) -> None:
        """``read_only``: for a CLI reading beside no daemon; never migrates or writes.
        Otherwise the store is checked (and restored when corrupt), migrated and
        backed up (``safekeeping``)."""
        self.path = path
        self.lock = threading.RLock()
        self._after_commit: list[Callable[[], None]] = []
        self._safekeeping: Safekeeping | None = None
        if read_only:
            self._open_read_only(path)
            return
        try:
            keeper = Safekeeping(path)
            keeper.check()
            _private_file(path)
            self.connection = sqlite3.connect(
                path, check_same_thread=False, isolation_level=None, timeout=BUSY_TIMEOUT
            )
            self.connection.row_factory = sqlite3.Row
            self.connection.execute("PRAGMA journal_mode=WAL")
            self.connection.execute("PRAGMA synchronous=FULL")
            self.connection.execute("PRAGMA foreign_keys=ON")
            # from here on a wait for another program's lock is in steps (_locked)
            self.connection.execute(f"PRAGMA busy_timeout = {int(BUSY_STEP * 1000)}")
            self._migrate(keeper)
            keeper.start()
            self._safekeeping = keeper
        except (sqlite3.DatabaseError, OSError) as exc:
            if is_disk_full(exc) or has_no_room(path.parent):
                raise StoreError(
                    f"cannot open database {path}: the disk holding it is full;"
                    f" free some space in {path.parent}"
                ) from None
            if isinstance(exc, OSError):
                raise StoreError(f"cannot open database {path}: {exc.strerror}") from None
            raise StoreError(f"cannot open database {path}: {exc}") from None

    def _open_read_only(self, path: Path) -> None:
        try:
            self.connection = sqlite3.connect(
                f"{path.resolve().as_uri()}?mode=ro", uri=True, check_same_thread=False
            )
            self.connection.row_factory = sqlite3.Row
            self.connection.execute("SELECT 1 FROM schema_version").fetchall()
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"cannot read database {path}: {exc}") from None

    @property
    def schema_version(self) -> int:
        row = self.connection.execute("SELECT max(version) FROM schema_version").fetchone()
        return int(row[0] or 0)

    def _migrate(self, keeper: Safekeeping) -> None:
        self.connection.execute(
            "CREATE TABLE IF NOT EXISTS schema_version"
            " (version INTEGER PRIMARY KEY, applied_at TEXT)"
        )
        known = migrations()
        latest = known[-1][0] if known else 0
        current = self.schema_version
        if current > latest:
            raise StoreError(
                f"database {self.path} has schema version {current}, but this earmark knows "
                f"only up to {latest}; upgrade earmark (the database was left untouched)"
            )
        pending = [version for version, _ in known if version > current]
        if pending and current > 0:
            keeper.back_up(f"before-v{pending[0]:04d}")
        for version, sql in known:
            if version <= current:
                continue
            with self.transaction() as conn:
                for statement in _statements(sql):
                    conn.execute(statement)
                conn.execute(
                    "INSERT INTO schema_version (version, applied_at) VALUES (?, ?)",
                    (version, utc_now()),
                )

    @contextlib.contextmanager
    def transaction(self, wait: float = BUSY_TIMEOUT) -> Iterator[sqlite3.Connection]:
        """BEGIN IMMEDIATE .. COMMIT under the lock; ROLLBACK on any error. A full
        disk raises DiskFullError (one line, naming the folder).

        While another program holds the write lock (a backup tool, a ``sqlite3``
        shell), this waits up to ``wait`` seconds for it, in steps that let the
        connection's other users (the loop's reads) in between; then 'database
        is locked'. A write on the event loop that the next one makes good, such
        as a position save, passes a short ``wait``."""
        self._locked(wait, "BEGIN IMMEDIATE")
        try:
            yield from self._transaction()
        finally:
            self.lock.release()

    def _locked(self, wait: float, sql: str, params: tuple | dict = ()) -> sqlite3.Cursor:
        """Take the lock and run ``sql``, returning with the lock held. While
        another program holds the database, SQLite waits BUSY_STEP, then the lock
        is let go so that the connection's other users get in, and it is tried
        again until ``wait`` is over."""
        deadline = time.monotonic() + wait
        while True:
            if not self.lock.acquire(timeout=max(0.0, deadline - time.monotonic())):
                raise sqlite3.OperationalError("database is locked (by another earmark thread)")
            try:
                return self.connection.execute(sql, params)
            except BaseException as exc:
                self.lock.release()
                if not (_is_busy(exc) and time.monotonic() < deadline):
                    raise
            # a pause outside the lock: a thread waiting for it gets it (Python's
            # locks are not fair, and this one would take it straight back)
            time.sleep(BUSY_STEP / 10)

    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """The transaction begun, to its end; the caller holds the lock."""
        try:
            yield self.connection
        except BaseException as exc:
            self._after_commit.clear()
            # SQLite has already rolled back after some errors (a full disk)
            if self.connection.in_transaction:
                self.connection.execute("ROLLBACK")
            if is_disk_full(exc) and not isinstance(exc, DiskFullError):
                raise DiskFullError.of(self.path.parent) from exc
            raise
        try:
            self.connection.execute("COMMIT")
        except sqlite3.Error as exc:
            if self.connection.in_transaction:
                self.connection.execute("ROLLBACK")
            if is_disk_full(exc):
                raise DiskFullError.of(self.path.parent) from exc
            raise
        finally:
            done, self._after_commit = self._after_commit, []
        if not self.connection.in_transaction:
            for callback in done:
                callback()

    def after_commit(self, callback: Callable[[], None]) -> None:
        """Run ``callback`` once the current transaction has committed (never if it
        rolls back): how a write announces itself only when it is durable."""
        self._after_commit.append(callback)

    def query(self, sql: str, params: tuple | dict = ()) -> list[sqlite3.Row]:
        cursor = self._locked(BUSY_TIMEOUT, sql, params)
        try:
            return cursor.fetchall()
        finally:
            self.lock.release()

    def close(self) -> None:
        if self._safekeeping is not None:
            self._safekeeping.stop()
        with self.lock:
            self.connection.close()


def _is_busy(exc: BaseException) -> bool:
    """SQLITE_BUSY, in any of its extended forms: another connection holds the lock."""
    code = getattr(exc, "sqlite_errorcode", None) if isinstance(exc, sqlite3.Error) else None
    return code is not None and (code & 0xFF) == sqlite3.SQLITE_BUSY


def _private_file(path: Path) -> None:
    """The database is the listener's: its folder is made 0700 and the file 0600
    (SQLite gives its -wal and -shm files the database file's mode)."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.close(os.open(path, os.O_RDWR | os.O_CREAT, 0o600))
    if stat.S_IMODE(path.stat().st_mode) & 0o077:  # as an older earmark or a copy left it
        try:
            path.chmod(0o600)
        except PermissionError:
            log.warning("database %s is readable by others and not ours to chmod 0600", path)


def _statements(sql: str) -> list[str]:
    # migrations hold plain DDL (no triggers, no '--' or ';' inside strings), so
    # dropping comments and splitting on ';' is safe
    cleaned = "\n".join(line.split("--", 1)[0] for line in sql.splitlines())
    return [s.strip() for s in cleaned.split(";") if s.strip()]
