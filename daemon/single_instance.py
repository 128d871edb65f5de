"""One daemon per data folder: a lock taken before the store or the control
socket are opened, so a refused second daemon touches nothing.

The lock is ``fcntl.flock`` on ``earmark.lock`` in the data folder. The kernel
drops it when the holder exits, however it exits, so a killed daemon leaves
no stale lock behind; the file itself stays (removing it would let two
daemons lock two different files) and holds the pid of its holder, for the
message the next daemon gives.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from earmark.errors import EarmarkError

LOCK_NAME = "earmark.lock"


class InstanceLockError(EarmarkError):
    """Another earmark already runs on this data folder."""

    exit_code = 3


class InstanceLock:
    def __init__(self, data_dir: Path) -> None:
        self.path = data_dir / LOCK_NAME
        self._fd: int | None = None

    def acquire(self) -> None:
        """Hold the lock, or raise InstanceLockError naming the lock file and its holder."""
        if self._fd is not None:
            return
        try:
            # the data dir is personal (transcripts, listening history): 0700 when new
            self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        except OSError as exc:
            raise InstanceLockError(
                f"cannot open the lock file {self.path}: {exc.strerror}; check the data folder"
            ) from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _holder(fd)
            os.close(fd)
            raise InstanceLockError(
                f"earmark is already running ({holder} holds {self.path}); stop it first, "
                "or give this one another data_dir"
            ) from None
        except OSError as exc:
            os.close(fd)
            raise InstanceLockError(f"cannot lock {self.path}: {exc.strerror}") from None
        try:
            os.ftruncate(fd, 0)
            os.write(fd, f"{os.getpid()}\n".encode())
        except OSError:
            pass  # a full disk: the lock holds all the same; a refusal just names no pid
        self._fd = fd

    def release(self) -> None:
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        os.ftruncate(fd, 0)  # no pid of a process that no longer holds it
        os.close(fd)  # closing the last descriptor drops the lock

    def __enter__(self) -> InstanceLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def _holder(fd: int) -> str:
    """'pid N' as the holder wrote it, or a word that it has not written it yet."""
    try:
        text = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
    except OSError:
        text = ""
    return f"pid {text}" if text.isdigit() else "pid unknown"
