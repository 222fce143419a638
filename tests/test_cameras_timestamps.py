"""A source whose packets carry no usable timestamps is recorded at its real length and the camera
status says it was restamped (instead of minutes of video labelled as a second)."""

from __future__ import annotations

import time
from pathlib import Path

from sqlalchemy import select

from oversight.cameras.worker import CameraWorker
from oversight.config.schema import CameraConfig
from oversight.recording.storage import LocalStorage
from oversight.store.db import Database
from oversight.store.models import Segment
from test_bench_robust import zero_pts_clip


def test_zero_pts_file_is_restamped_by_frame_count_and_status_says_so(db: Database, tmp_path: Path):
    clip = zero_pts_clip(tmp_path / "zero.mkv", frames=60, fps=10)  # 6 s of video, all pts 0
    cam = CameraConfig.model_validate(
        {
            "id": "zero",
            "purpose": "no timestamps",
            "streams": {"record": str(clip)},
            "realtime": False,
            "detect": {"enabled": False},
            "record": {"segment_seconds": 1},
        }
    )
    worker = CameraWorker(cam, db, None, LocalStorage(tmp_path / "rec"))
    worker.start()
    deadline = time.monotonic() + 60
    while worker.alive() and time.monotonic() < deadline:
        time.sleep(0.05)
    status = worker.status()
    worker.stop()
    assert status["state"] == "ended"
    assert status["timestamps"] and "restamped by frame count" in status["timestamps"]
    with db.session() as s:
        segs = list(s.scalars(select(Segment).order_by(Segment.start)))
    recorded = sum((x.end - x.start).total_seconds() for x in segs)
    assert 5.5 <= recorded <= 6.5  # 60 frames at 10 fps, not 60 ticks
    assert len(segs) >= 5  # keyframe every second: one-second segments


def test_good_file_status_has_no_restamp_note(db: Database, tmp_path: Path):
    from conftest import asset

    clip = asset("video/car-detection.mp4")
    cam = CameraConfig.model_validate(
        {
            "id": "good",
            "purpose": "good timestamps",
            "streams": {"record": str(clip)},
            "realtime": False,
            "detect": {"enabled": False},
        }
    )
    worker = CameraWorker(cam, db, None, LocalStorage(tmp_path / "rec"))
    worker.start()
    deadline = time.monotonic() + 60
    while worker.alive() and time.monotonic() < deadline:
        time.sleep(0.05)
    status = worker.status()
    worker.stop()
    assert status["state"] == "ended" and status["timestamps"] is None
