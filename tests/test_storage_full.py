"""A full disk degrades, never breaks: on a small tmpfs that fills up, reads keep answering, writes
say 503, no truncated segment is indexed, recording resumes by itself when space returns, and the
storage cap and minimum free space are enforced with headroom.

The tmpfs tests need root (``mount -t tmpfs``) and skip cleanly otherwise."""

from __future__ import annotations

import contextlib
import errno
import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from conftest import asset
from oversight.cameras.worker import CameraWorker
from oversight.config.schema import CameraConfig
from oversight.events.bus import EventBus
from oversight.recording.segment import verify_segment
from oversight.recording.storage import LocalStorage
from oversight.store.db import Database
from oversight.store.models import Segment


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    mnt = tmp_path / "disk"
    mnt.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=12m", "tmpfs", str(mnt)], capture_output=True)
    if r.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs: {r.stderr.decode().strip()}")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)


def fill(disk: Path) -> Path:
    """Write until the disk is full; returns the filler to delete."""
    filler = disk / "filler"
    # unbuffered: a buffered file would retry the failed write when it closes, and raise again there
    with open(filler, "wb", buffering=0) as f:
        try:
            while True:
                f.write(b"\0" * 65536)
        except OSError as exc:
            assert exc.errno == errno.ENOSPC
    with contextlib.suppress(OSError):
        for i in range(1000):  # the last partial blocks
            (disk / f"crumb{i}").write_bytes(b"\0" * 512)
    return filler


def wait_for(cond: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def test_reads_answer_and_writes_say_503_on_a_full_disk(small_disk: Path) -> None:
    from oversight.web.auth import create_user
    from web_support import PASSWORD, client, login, make_ctx

    db = Database(f"sqlite:///{small_disk / 'oversight.db'}")
    db.migrate()
    try:
        ctx = make_ctx(db, small_disk, runtime=True)
        with db.session() as s:
            for role in ("operator", "auditor", "admin"):
                create_user(s, role, PASSWORD, role)
        op, aud = client(ctx), client(ctx)
        h = login(op, "operator")
        login(aud, "auditor")
        assert op.get("/api/cameras/cam0/snapshot.jpg").status_code == 200
        filler = fill(small_disk)
        for path in ("/api/cameras", "/api/events", "/api/auth/me", "/api/cameras/cam0/recordings"):
            assert op.get(path).status_code == 200, path
        assert aud.get("/api/audit").status_code == 200
        # a look at footage that cannot be audited is refused, clearly: no unlogged look, no 500
        r = op.get("/api/cameras/cam0/snapshot.jpg")
        assert r.status_code == 503 and r.headers["Retry-After"]
        assert op.post("/api/auth/logout-all", headers=h).status_code == 503
        filler.unlink()
        for crumb in small_disk.glob("crumb*"):
            crumb.unlink()
        assert op.get("/api/cameras/cam0/snapshot.jpg").status_code == 200
        ctx.runtime.stop()
    finally:
        db.dispose()


def test_recording_resumes_after_the_disk_fills_and_never_indexes_a_truncated_segment(
    db: Database, small_disk: Path
) -> None:
    clip = asset("video/one-by-one-person-detection.mp4")
    cam = CameraConfig.model_validate(
        {
            "id": "cam1",
            "purpose": "recording test",
            "streams": {"record": str(clip)},
            "loop": True,
            "realtime": True,
            "record": {"segment_seconds": 1},
        }
    )
    w = CameraWorker(cam, db, EventBus(), LocalStorage(small_disk), None)

    def indexed() -> list[Segment]:
        with db.session() as s:
            return list(s.scalars(select(Segment).order_by(Segment.start)))

    w.start()
    try:
        wait_for(lambda: len(indexed()) >= 2, 30, "first segments")
        filler = fill(small_disk)
        wait_for(lambda: w.status()["error"], 20, "the write failure to be reported")
        during = len(indexed())
        time.sleep(2)
        assert len(indexed()) <= during + 1  # at most the segment that was already complete
        filler.unlink()
        for crumb in small_disk.glob("crumb*"):
            crumb.unlink()
        wait_for(lambda: len(indexed()) >= during + 2, 30, "recording to resume by itself")
        wait_for(lambda: not w.status()["error"], 10, "the error to clear")
    finally:
        w.stop()
    for seg in indexed():  # every indexed file plays back whole
        path = Path(seg.path)
        assert path.is_file() and verify_segment(path, _packets(path)) is None, seg.path
    assert not list(small_disk.rglob("*.partial"))


def _packets(path: Path) -> int:
    import av

    with av.open(str(path)) as c:
        return sum(1 for p in c.demux(c.streams.video[0]) if p.size)


def test_enforce_space_keeps_free_disk_with_headroom_and_spares_held_footage(
    db: Database, tmp_path: Path
) -> None:
    from datetime import UTC, datetime, timedelta

    from oversight.config.schema import SiteConfig
    from oversight.recording.index import insert_segment
    from oversight.recording.retention import enforce_space
    from oversight.store.models import EvidenceHold

    cfg = SiteConfig.model_validate({"site": {"data_dir": str(tmp_path), "min_free_gb": 1000 / 1024**3}})
    storage = LocalStorage(tmp_path)
    t0 = datetime(2026, 3, 1, tzinfo=UTC)
    ids = []
    for i in range(5):
        p = storage.new_segment_path("a", t0 + timedelta(minutes=i))
        p.write_bytes(b"\0" * 300)
        ids.append(
            insert_segment(
                db, "a", t0 + timedelta(minutes=i), t0 + timedelta(minutes=i, seconds=59), p, 300, False
            ).id
        )
    with db.session() as s:
        s.add(
            EvidenceHold(
                camera_id="a", start=t0, end=t0 + timedelta(seconds=30), reason="case", created_by="sue"
            )
        )
    free = {"now": 400}  # 600 bytes short of the 1000-byte minimum
    res = enforce_space(db, cfg, storage, free_bytes=lambda: free["now"])
    assert res.by_reason == {"disk_full": 3}  # 650 bytes needed with headroom: three segments
    assert res.deleted == ids[1:4]  # the held oldest one stays
    free["now"] = 5000
    assert enforce_space(db, cfg, storage, free_bytes=lambda: free["now"]).deleted == []
    cfg.site.storage_cap_gb = 500 / 1024**3  # 600 bytes left against a 500-byte cap
    res = enforce_space(db, cfg, storage, free_bytes=lambda: free["now"])
    assert res.by_reason == {"storage_cap": 1} and res.bytes_after == 300
