"""Segment files on local disk: ``<data_dir>/recordings/<camera>/<YYYY-MM-DD>/<HHMMSS>.mp4`` (UTC).

A segment is written under a hidden temp name (``.<HHMMSS>.mp4.partial``) and only becomes
visible by an atomic rename after fsync, so a file with the final name is always complete.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

log = logging.getLogger(__name__)

PARTIAL_SUFFIX = ".partial"


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


class LocalStorage:
    def __init__(self, data_dir: str | Path):
        self.root = Path(data_dir).expanduser().resolve() / "recordings"

    def camera_dir(self, camera_id: str) -> Path:
        return self.root / camera_id

    def new_segment_path(self, camera_id: str, start: datetime) -> Path:
        """A fresh final path for a segment starting at ``start`` (suffixed if the second is taken)."""
        start = start.astimezone(UTC)
        day = self.camera_dir(camera_id) / start.strftime("%Y-%m-%d")
        day.mkdir(parents=True, exist_ok=True)
        stem = start.strftime("%H%M%S")
        path = day / f"{stem}.mp4"
        n = 1
        while path.exists() or self.partial_path(path).exists():
            path = day / f"{stem}-{n}.mp4"
            n += 1
        return path

    @staticmethod
    def partial_path(final: Path) -> Path:
        return final.with_name("." + final.name + PARTIAL_SUFFIX)

    def commit(self, partial: Path, final: Path) -> int:
        """fsync the finished file, rename it into place atomically, fsync the directory; returns bytes."""
        fd = os.open(partial, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(partial, final)
        _fsync_dir(final.parent)
        return final.stat().st_size

    def delete(self, path: str | Path) -> bool:
        """Unlink a segment file; False if it was already gone. Other OSErrors propagate."""
        p = Path(path)
        try:
            p.unlink()
        except FileNotFoundError:
            return False
        with contextlib.suppress(OSError):  # drop the emptied day directory
            p.parent.rmdir()
        return True

    def exists(self, path: str | Path) -> bool:
        return Path(path).is_file()

    def partial_files(self) -> Iterator[Path]:
        if self.root.is_dir():
            yield from self.root.glob(f"*/*/.*{PARTIAL_SUFFIX}")

    def segment_files(self, camera_id: str | None = None) -> Iterator[Path]:
        base = self.camera_dir(camera_id) if camera_id else self.root
        pattern = "*/*.mp4" if camera_id else "*/*/*.mp4"
        if base.is_dir():
            yield from (p for p in base.glob(pattern) if not p.name.startswith("."))

    def usage_bytes(self) -> int:
        return sum(p.stat().st_size for p in self.segment_files())

    @staticmethod
    def start_from_path(path: Path) -> datetime | None:
        """The start second encoded in a segment's directory and file name."""
        try:
            stem = path.stem.split("-", 1)[0]
            return datetime.strptime(f"{path.parent.name} {stem}", "%Y-%m-%d %H%M%S").replace(tzinfo=UTC)
        except ValueError:
            return None
