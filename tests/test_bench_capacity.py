"""``oversight bench capacity --quick`` runs the real pipeline (recording, decode, analytics with the
shared detector, live view) for 1-2 cameras, stops within its bound and reports consistent figures
(no capacity asserted: the machine is shared)."""

from __future__ import annotations

import pytest

from conftest import asset
from media_helpers import oversight

pytestmark = pytest.mark.assets


def test_bench_capacity_quick_measures_the_real_pipeline():
    video = asset("video/vtest_480x360_h264.avi")
    model = asset("models/yolox_nano_416x416.onnx")
    out = oversight("bench", "capacity", "--video", str(video), "--model", str(model), "--quick", timeout=150)
    assert out["bench"] == "capacity" and out["resolution"] == [320, 180] and out["detector"] == "onnx"
    assert out["face_detector"] == "haar" and len(out["degraded"]) == 1  # the live redaction fallback
    steps = out["steps"]
    assert 1 <= len(steps) <= 2 and [s["cameras"] for s in steps] == list(range(1, len(steps) + 1))
    first = steps[0]
    assert first["analytics_fps_mean"] > 0  # frames really reached analytics
    assert first["live_fps_min"] is not None and first["live_fps_min"] > 0  # and the live view
    assert first["reader_fps_min"] > 0 and first["rss_mb"] > 0 and first["cpu_cores"] > 0
    shares = first["cpu_share_by_stage"]
    assert {"read_and_record", "decode", "analytics", "live_view"} <= set(shares)
    assert sum(shares.values()) == pytest.approx(1.0, abs=0.01)
    assert 0 <= out["cameras_per_box"] <= 2
    assert out["cameras_per_box"] == max((s["cameras"] for s in steps if s["held"]), default=0)
    assert out["stopped_by"] in ("max_cameras", "rate below 95 % of configured", "time budget")
