"""CameraAnalytics glue on synthetic footage with a scripted detector: detection gating by motion
and keep-alive, zone events opening/closing with the hold-off, line counts, close() on shutdown."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

from oversight.analytics.pipeline import CameraAnalytics
from oversight.analytics.types import Detections
from oversight.config.schema import CameraConfig
from oversight.events.bus import EventBus, Message
from oversight.store.db import Database

W, H = 320, 240
T0 = datetime(2026, 2, 2, 10, 0, tzinfo=UTC)


class BrightBlobDetector:
    """Reports a 'person' wherever the frame is bright: a stand-in model with a known answer."""

    name = "scripted"

    def __init__(self) -> None:
        self.inference_cpu_s = 0.0
        self.calls = 0

    def detect(self, frame_bgr: np.ndarray) -> Detections:
        self.calls += 1
        ys, xs = np.nonzero(frame_bgr[:, :, 1] > 200)
        if len(xs) == 0:
            return Detections.empty()
        box = np.asarray([[xs.min(), ys.min(), xs.max() + 1, ys.max() + 1]], np.float32)
        return Detections(box, np.asarray([0.9], np.float32), ("person",))


def frame_with_person(x: int | None) -> np.ndarray:
    img = np.full((H, W, 3), 60, np.uint8)
    if x is not None:
        img[100:180, x : x + 24] = 255  # feet at y=180
    return img


def camera() -> CameraConfig:
    return CameraConfig.model_validate(
        {
            "id": "synthetic",
            "purpose": "pipeline test",
            "streams": {"record": "x.mp4"},
            "detect": {"width": W, "height": H, "fps": 10, "detector": "none", "classes": ["person"]},
            "rules": [
                {
                    "id": "right",
                    "type": "zone",
                    "purpose": "right half",
                    "polygon": [[160, 0], [320, 0], [320, 240], [160, 240]],
                },
                {"id": "mid", "type": "line", "purpose": "count", "line": [[160, 0], [160, 240]]},
            ],
        }
    )


def test_gating_zone_events_and_line_counts(db: Database, tmp_path: Path) -> None:
    bus = EventBus()
    log: list[Message] = []
    bus.subscribe("event", log.append)
    det = BrightBlobDetector()
    ana = CameraAnalytics(camera(), db, bus, tmp_path, detector=det)
    t = T0
    step = timedelta(seconds=0.1)

    ana.process(frame_with_person(None), t)  # empty scene seeds the background
    for i in range(8):  # walks right across the line into the zone
        t += step
        ana.process(frame_with_person(100 + 12 * i), t)
    assert det.calls == 8  # motion every frame
    assert [tr.label for tr in ana.tracks] == ["person"]
    assert ana.line_counts["mid"] == {"a_to_b": 0, "b_to_a": 1}  # line drawn downwards: left of it is x>160
    assert ana.event_active

    for _ in range(60):  # stops: the background absorbs the still person within a few seconds
        t += step
        ana.process(frame_with_person(100 + 12 * 7), t)
    calls = det.calls
    for _ in range(30):  # stands still 3 s more: no motion, the detector only confirms once a second
        t += step
        ana.process(frame_with_person(100 + 12 * 7), t)
    assert not ana.motion_active
    assert 2 <= det.calls - calls <= 4
    assert ana.tracks and ana.event_active  # still there, event still open

    for _ in range(40):  # leaves; the zone event ends after the hold-off
        t += step
        ana.process(frame_with_person(None), t)
    assert not ana.event_active
    phases = [(m.data["rule_id"], m.data["phase"]) for m in log]
    assert phases.count(("right", "start")) == 1 and phases.count(("right", "end")) == 1
    assert ("mid", "start") in phases and ("mid", "end") in phases


def test_close_ends_open_events(db: Database, tmp_path: Path) -> None:
    bus = EventBus()
    log: list[Message] = []
    bus.subscribe("event", log.append)
    ana = CameraAnalytics(camera(), db, bus, tmp_path, detector=BrightBlobDetector())
    ana.process(frame_with_person(None), T0)
    for i in range(3):
        ana.process(frame_with_person(200 + 4 * i), T0 + timedelta(seconds=0.1 * (i + 1)))
    assert ana.event_active
    ana.close()
    assert not ana.event_active
    assert log[-1].data["phase"] == "end" and log[-1].data["rule_id"] == "right"
