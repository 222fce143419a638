"""One Oversight process per data directory, enforced by an OS lock on ``<data_dir>/oversight.lock``.

Why an ``flock`` and not a pid file: the kernel drops the lock when the process dies, however it
dies, so a crash (or ``kill -9``) never leaves a stale lock behind, and there is no pid to
check against a recycled one. While held, no other ``serve`` or ``demo`` can run startup
recovery on this directory (which deletes ``*.partial`` segments) or write its recordings.
The file's text (pid, host, start time) is only for the message; the lock is what counts.
"""

from __future__ import annotations

import fcntl
import os
import socket
from datetime import UTC, datetime
from pathlib import Path

LOCK_NAME = "oversight.lock"


class DataDirInUse(RuntimeError):
    """Another live process holds the data directory."""


class DataDirLock:
    def __init__(self, data_dir: str | Path):
        self.data_dir = Path(data_dir).expanduser().resolve()
        self.path = self.data_dir / LOCK_NAME
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self) -> DataDirLock:
        """Take the lock or raise ``DataDirInUse`` naming the holder; never waits."""
        if self._fd is not None:
            return self
        self.data_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 200, 0).decode("utf-8", "replace").strip() or "unknown process"
            os.close(fd)
            raise DataDirInUse(
                f"the data directory {self.data_dir} is in use by another Oversight process ({holder}); "
                "stop that one first, or give this one another data_dir"
            ) from None
        started = datetime.now(UTC).isoformat(timespec="seconds")
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"pid {os.getpid()} on {socket.gethostname()}, started {started}\n".encode(), 0)
        self._fd = fd
        return self

    def release(self) -> None:
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        os.ftruncate(fd, 0)
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)

    def __enter__(self) -> DataDirLock:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()
