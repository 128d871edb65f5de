"""Whether a failed write met a full disk, however it was told (SQLite or the
file system): the store turns that into one line naming the folder to free."""

from __future__ import annotations

import errno
import shutil
import sqlite3
from pathlib import Path

# less free space than this is a full disk: not even a page and its journal fit
ROOM_BYTES = 64 * 1024


def is_disk_full(exc: BaseException) -> bool:
    """SQLite's 'database or disk is full', or the file system's ENOSPC / EDQUOT."""
    if isinstance(exc, sqlite3.Error):
        return getattr(exc, "sqlite_errorcode", None) == sqlite3.SQLITE_FULL
    return isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT)


def has_no_room(folder: Path) -> bool:
    """The disk holding ``folder`` is full now. SQLite opening a WAL store there
    says only 'disk I/O error' (it cannot make the -shm file): this tells why."""
    try:
        return shutil.disk_usage(folder).free < ROOM_BYTES
    except OSError:
        return False
