"""The whole analytics pipeline on real footage (PETS 2009 via vtest_480x360_h264.avi, 4-9 people
walking): ONNX YOLOX-Nano and the HOG detector find people, ByteTrack keeps their ids, and a zone
over the walkway fires events with snapshots. Skips cleanly when the assets are absent."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import cv2
import numpy as np
import pytest

from conftest import asset
from oversight.analytics.pipeline import CameraAnalytics
from oversight.config.schema import CameraConfig
from oversight.events.bus import EventBus, Message
from oversight.events.search import search_events
from oversight.store.db import Database

pytestmark = pytest.mark.assets
T0 = datetime(2026, 6, 1, 8, 0, tzinfo=UTC)
WALKWAY = [(0.0, 120.0), (480.0, 120.0), (480.0, 300.0), (0.0, 300.0)]  # the paved path across the view


def frames(path: Path, n: int, start: int = 0) -> Iterator[np.ndarray]:
    cap = cv2.VideoCapture(str(path))
    try:
        for i in range(start + n):
            ok, f = cap.read()
            if not ok:
                return
            if i >= start:
                yield f
    finally:
        cap.release()


def camera(detector: str, model: str | None = None) -> CameraConfig:
    return CameraConfig.model_validate(
        {
            "id": "campus",
            "purpose": "walkway safety test",
            "streams": {"record": "file.avi"},
            "detect": {
                "width": 480,
                "height": 360,
                "fps": 10,
                "detector": detector,
                "model_path": model,
                "classes": ["person"],
                "min_confidence": 0.4,
            },
            "rules": [
                {"id": "walkway", "type": "zone", "purpose": "people on the walkway", "polygon": WALKWAY}
            ],
        }
    )


def test_onnx_yolox_tracks_people_and_fires_zone_events(db: Database, tmp_path: Path) -> None:
    model = asset("models/yolox_nano_416x416.onnx")
    video = asset("video/vtest_480x360_h264.avi")
    bus = EventBus()
    log: list[Message] = []
    bus.subscribe("event", log.append)
    ana = CameraAnalytics(camera("onnx", str(model)), db, bus, tmp_path / "snaps")
    per_frame: list[dict[int, tuple[float, ...]]] = []
    for i, f in enumerate(frames(video, 60)):
        ana.process(f, T0 + timedelta(seconds=i / 10))
        per_frame.append({t.track_id: t.box for t in ana.tracks})
    # PETS S2.L1 shows 4-9 people; YOLOX-Nano sees at least 3 in every analysed frame after warm-up
    counts = [len(p) for p in per_frame[5:]]
    assert min(counts) >= 3 and max(counts) <= 12
    assert all(t.label == "person" for t in ana.tracks)
    # stable ids: several people keep one id for 2 s, and an id never jumps to another person
    a, b = per_frame[10], per_frame[30]
    assert len(set(a) & set(b)) >= 3
    for prev, cur in zip(per_frame, per_frame[1:], strict=False):
        for tid in set(prev) & set(cur):
            px, cx = (prev[tid][0] + prev[tid][2]) / 2, (cur[tid][0] + cur[tid][2]) / 2
            assert abs(px - cx) < 25 and abs(prev[tid][3] - cur[tid][3]) < 25  # people walk ~7 px/frame here
    # zone events with snapshots
    assert ana.event_active
    starts = [m.data for m in log if m.data["phase"] == "start"]
    assert len(starts) >= 3
    assert all(m["rule_id"] == "walkway" and m["label"] == "person" for m in starts)
    ana.close()
    assert not ana.event_active
    with db.session() as s:
        events = search_events(s, camera_id="campus", rule_id="walkway", limit=1000)
        assert len(events) == len(starts)
        assert all(e.end is not None and e.confidence >= 0.4 for e in events)
        for e in events:
            assert e.snapshot_path and Path(e.snapshot_path).is_file()
            img = cv2.imread(e.snapshot_path)
            assert img is not None and img.shape == (360, 480, 3)


def test_hog_detects_people_on_the_same_clip(db: Database, tmp_path: Path) -> None:
    video = asset("video/vtest_480x360_h264.avi")
    from oversight.analytics.detectors.hog import HogDetector, hog_available

    if not hog_available():
        pytest.skip("OpenCV build without HOGDescriptor")
    det = HogDetector(classes=["person"], min_confidence=0.5)
    found = []
    for f in frames(video, 3, start=100):
        d = det.detect(f)
        found.append(len(d))
        assert all(lab == "person" for lab in d.labels)
        # boxes are person-shaped (taller than wide) and inside the frame
        if len(d):
            w = d.xyxy[:, 2] - d.xyxy[:, 0]
            h = d.xyxy[:, 3] - d.xyxy[:, 1]
            assert np.all(h > w) and np.all(d.xyxy >= -1) and np.all(d.xyxy[:, 2] <= 481)
    assert sum(found) >= 3


def test_static_frames_run_no_detector(db: Database, tmp_path: Path) -> None:
    video = asset("video/vtest_480x360_h264.avi")
    first = next(frames(video, 1))
    ana = CameraAnalytics(camera("hog"), db, EventBus(), tmp_path)
    for i in range(20):
        ana.process(first, T0 + timedelta(seconds=i / 10))
    assert ana.detections_run == 0 and ana.tracks == [] and not ana.event_active


def test_bad_input_is_a_clear_error_or_resized(db: Database, tmp_path: Path) -> None:
    cam = camera("none")
    ana = CameraAnalytics(cam, db, EventBus(), tmp_path)
    with pytest.raises(ValueError, match="timezone-aware"):
        ana.process(np.zeros((360, 480, 3), np.uint8), datetime(2026, 1, 1))
    with pytest.raises(ValueError, match="BGR"):
        ana.process(np.zeros((360, 480), np.uint8), T0)
    ana.process(np.zeros((720, 960, 3), np.uint8), T0)  # another size: resized, not rejected
    assert ana.frames == 1


def test_hog_pipeline_tracks_people(db: Database, tmp_path: Path) -> None:
    video = asset("video/vtest_480x360_h264.avi")
    from oversight.analytics.detectors.hog import hog_available

    if not hog_available():
        pytest.skip("OpenCV build without HOGDescriptor")
    ana = CameraAnalytics(camera("hog"), db, EventBus(), tmp_path)
    seen: set[int] = set()
    for i, f in enumerate(frames(video, 6, start=100)):
        ana.process(f, T0 + timedelta(seconds=i / 10))
        seen.update(t.track_id for t in ana.tracks)
    assert ana.detections_run >= 4  # first frame only seeds the motion background
    assert ana.tracks and all(t.label == "person" for t in ana.tracks)
    assert len(seen) >= 2


def test_motion_mask_over_everything_keeps_the_detector_off(db: Database, tmp_path: Path) -> None:
    video = asset("video/vtest_480x360_h264.avi")
    cam = camera("hog")
    cam.motion.masks = [[(0.0, 0.0), (480.0, 0.0), (480.0, 360.0), (0.0, 360.0)]]
    ana = CameraAnalytics(cam, db, EventBus(), tmp_path)
    for i, f in enumerate(frames(video, 15)):
        ana.process(f, T0 + timedelta(seconds=i / 10))
    assert ana.detections_run == 0 and not ana.motion_active
    unmasked = CameraAnalytics(camera("none"), db, EventBus(), tmp_path)
    for i, f in enumerate(frames(video, 15)):
        unmasked.process(f, T0 + timedelta(seconds=i / 10))
    assert unmasked.motion_active  # people are walking: the mask, not the footage, kept it quiet
