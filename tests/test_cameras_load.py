"""Overload is visible: packets and frames dropped per stage and the analytics rate appear in the
camera status, the status API and /metrics, not only as a lower analytics rate."""

from __future__ import annotations

import re
import time
from datetime import datetime
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from media_helpers import zero_pts_clip
from oversight.cameras.load import LoadMeter
from oversight.cameras.worker import CameraWorker
from oversight.config.models import DISABLE_ENV
from oversight.config.schema import CameraConfig
from oversight.recording.storage import LocalStorage
from oversight.store.db import Database
from web_support import client, make_ctx, tokens


def test_load_meter_rate_and_overload_flag():
    sampler = SimpleNamespace(dropped_packets=0, frames_processed=0, _runner=SimpleNamespace(dropped=0))
    meter = LoadMeter(5.0, window=10.0, now=99.0)
    assert meter.status(sampler, now=100.0)["overloaded"] is False
    sampler.frames_processed, sampler._runner.dropped = 40, 3
    st = meter.status(sampler, now=110.0)
    assert st["analytics_fps"] == 4.0 and st["frames_dropped_analytics"] == 3 and st["overloaded"]
    sampler.dropped_packets = 7  # the decoder fell behind the reader too
    st = meter.status(sampler, now=115.0)
    assert st["packets_dropped_decode"] == 7 and st["overloaded"]
    sampler.frames_processed = 140  # 20 s later, no new drops: caught up
    st = meter.status(sampler, now=135.0)
    assert not st["overloaded"] and st["analytics_fps"] == 5.0
    assert st["packets_dropped_decode"] == 7  # counters never go back (Prometheus takes rates)
    assert meter.status(None, now=136.0)["frames_dropped_analytics"] == 0  # no sampler yet


class SlowAnalytics:
    """A detector that takes 0.3 s per frame: far behind a 10 fps camera."""

    event_active = False

    def __init__(self) -> None:
        self.seen = 0

    def process(self, frame_bgr: np.ndarray, ts: datetime) -> None:
        self.seen += 1
        time.sleep(0.3)


def test_a_slow_detector_shows_as_dropped_frames_in_status_and_metrics(
    db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv(DISABLE_ENV, "1")  # as if oversight-models were not installed: both fallbacks
    clip = zero_pts_clip(tmp_path / "clip.mkv", frames=40, fps=10, zero=False)  # 4 s, paced
    cam = CameraConfig.model_validate(
        {
            "id": "cam0",
            "purpose": "overloaded camera",
            "streams": {"record": str(clip)},
            "realtime": True,
            "detect": {"fps": 10, "width": 320, "height": 240},
        }
    )
    worker = CameraWorker(cam, db, None, LocalStorage(tmp_path / "rec"), lambda c: SlowAnalytics())
    worker.start()
    deadline = time.monotonic() + 30
    while worker.alive() and time.monotonic() < deadline:
        time.sleep(0.1)
    status = worker.status()
    assert status["frames_dropped_analytics"] >= 10  # 40 frames offered, about 14 analysed
    assert status["frames_analyzed"] + status["frames_dropped_analytics"] <= 40
    assert status["overloaded"] and status["analytics_fps_configured"] == 10
    assert status["packets_dropped_decode"] == 0  # decoding kept up: only analytics was behind

    (tmp_path / "web").mkdir()
    ctx = make_ctx(db, tmp_path / "web", runtime=False)
    ctx.runtime = SimpleNamespace(workers={"cam0": worker})
    auditor = tokens(db, ("auditor",))["auditor"]
    c = client(ctx)
    text = c.get("/metrics", headers={"Authorization": f"Bearer {auditor}"}).text
    found = re.search(r'oversight_camera_frames_dropped_analytics\{camera="cam0"\} (\d+)', text)
    assert found and int(float(found.group(1))) >= 10
    assert re.search(r'oversight_camera_packets_dropped_decode\{camera="cam0"\} 0', text)
    assert re.search(r'oversight_camera_degraded_models\{camera="cam0"\} 2\.0', text)  # HOG and Haar
    assert re.search(
        r'oversight_camera_model_info\{camera="cam0",model="hog",source="builtin",stage="detector"\} 1', text
    )
    api = c.get("/api/cameras/cam0", headers={"Authorization": f"Bearer {auditor}"})
    assert api.status_code == 200 and api.json()["status"]["frames_dropped_analytics"] >= 10
    assert api.json()["status"]["overloaded"] is True
    worker.stop()
