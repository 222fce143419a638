"""Kill -9 a recording process mid-segment: the index stays true and a restart cleans up."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import av
from sqlalchemy import select

from conftest import asset
from oversight.config.schema import SiteConfig
from oversight.events.bus import EventBus
from oversight.recording.index import recover
from oversight.recording.storage import LocalStorage
from oversight.runtime import Runtime
from oversight.store.db import Database
from oversight.store.models import RecordingGap, Segment

CHILD = """
import sys, time
from oversight.config.schema import SiteConfig
from oversight.events.bus import EventBus
from oversight.runtime import Runtime
from oversight.store.db import Database

cfg = SiteConfig.model_validate_json(sys.argv[2])
rt = Runtime(cfg, Database(sys.argv[1]), EventBus(), retention_interval_s=0)
rt.start()
print("started", flush=True)
while True:
    time.sleep(1)
"""


def site(tmp_path: Path) -> SiteConfig:
    clip = asset("video/one-by-one-person-detection.mp4")
    return SiteConfig.model_validate(
        {
            "site": {"data_dir": str(tmp_path)},
            "cameras": [
                {
                    "id": "cam1",
                    "purpose": "crash test",
                    "streams": {"record": str(clip)},
                    "realtime": True,
                    "record": {"segment_seconds": 1},
                }
            ],
        }
    )


def all_rows(db: Database) -> list[Segment]:
    with db.session() as s:
        return list(s.scalars(select(Segment).order_by(Segment.start)))


def test_sigkill_mid_segment_then_restart(db: Database, tmp_path: Path):
    cfg = site(tmp_path)
    storage = LocalStorage(tmp_path)
    proc = subprocess.Popen([sys.executable, "-c", CHILD, db.url, cfg.model_dump_json()])
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if len(all_rows(db)) >= 3 and list(storage.partial_files()):
                break
            time.sleep(0.05)
        else:
            raise AssertionError("the child did not record 3 segments")
        os.kill(proc.pid, signal.SIGKILL)  # mid-segment: a .partial file is open
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)

    rows = all_rows(db)
    # without any repair: every row already points to a complete, playable file
    for seg in rows:
        assert Path(seg.path).stat().st_size == seg.bytes
        with av.open(seg.path) as c:
            assert sum(1 for _ in c.decode(video=0)) > 0
    assert list(storage.partial_files()), "the killed segment is left as a partial file"

    # also simulate a kill between rename and insert: a complete file with no row
    orphan = Path(rows[-1].path).parent / "235958.mp4"
    shutil.copyfile(rows[0].path, orphan)

    rt = Runtime(cfg, db, EventBus(), retention_interval_s=0)
    rt.start()  # recovery runs first, then recording resumes
    try:
        deadline = time.monotonic() + 30
        while rt.workers["cam1"].recorder.segments_written < 1 and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        rt.stop()

    after = all_rows(db)
    files = {str(p) for p in storage.segment_files()}
    assert {s.path for s in after} == files  # no row without a file, no file without a row
    assert str(orphan) in files
    assert len(after) > len(rows) + 1
    for seg in after:
        assert Path(seg.path).stat().st_size == seg.bytes
        with av.open(seg.path) as c:
            assert sum(1 for _ in c.decode(video=0)) > 0
    assert not [p for p in storage.partial_files()]
    with db.session() as s:
        gaps = list(s.scalars(select(RecordingGap)))
    assert gaps and all(g.end is not None or g.reason == "recorder stopped" for g in gaps)


def test_recover_removes_unreadable_orphans(db: Database, tmp_path: Path):
    storage = LocalStorage(tmp_path)
    d = storage.camera_dir("cam1") / "2026-01-01"
    d.mkdir(parents=True)
    (d / "101010.mp4").write_bytes(b"not a video")
    (d / ".101011.mp4.partial").write_bytes(b"half")
    out = recover(db, storage)
    assert out.orphans_removed == [str(d / "101010.mp4")] and len(out.partials_removed) == 1
    assert all_rows(db) == [] and not any(d.iterdir())
