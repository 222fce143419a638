"""``oversight bench capacity --quick`` runs the real pipeline (recording, decode, analytics with the
shared detector, live view) for 1-2 cameras, stops within its bound and reports consistent figures
(no capacity asserted: the machine is shared)."""

from __future__ import annotations

import pytest

from conftest import asset
from media_helpers import oversight
from oversight.config.models import DISABLE_ENV

pytestmark = pytest.mark.assets


def test_bench_capacity_quick_measures_the_real_pipeline():
    video = asset("video/vtest_480x360_h264.avi")
    model = asset("models/yolox_nano_416x416.onnx")
    out = oversight(
        "bench",
        "capacity",
        "--video",
        str(video),
        "--model",
        str(model),
        "--quick",
        timeout=150,
        env={DISABLE_ENV: "1"},  # as if oversight-models were not installed: live redaction on Haar
    )
    assert out["bench"] == "capacity" and out["resolution"] == [320, 180] and out["detector"] == "onnx"
    assert out["detector_source"] == "config"
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
    leading = 0  # capacity ends at the first step that fell short, even if a later one held
    for s in steps:
        if not s["held"]:
            break
        leading = s["cameras"]
    assert out["cameras_per_box"] == leading
    assert out["stopped_by"] in ("max_cameras", "rate below 95 % of configured", "time budget")


def test_live_viewer_goes_through_the_egress_gate(monkeypatch):
    """The capacity bench watches as a wall tile does: an audited live session of the privacy egress
    gate subscribed to the camera's H.264 feed. It counts fragments, not state messages, joins the
    feed again when it ends, and closes what it opened."""
    import asyncio
    import time

    from oversight.bench import capacity
    from oversight.bench.capacity import Viewer

    feeds = [[b"f1", "live", b"f2", None], [b"f3", "stalled", b"f4"]]
    opened: list[tuple] = []
    closed: list[str] = []

    class Sub:
        def __init__(self, items: list) -> None:
            self.queue: asyncio.Queue = asyncio.Queue()
            for item in items:
                self.queue.put_nowait(item)

        def close(self) -> None:
            closed.append("sub")

    class Session:
        def h264(self, camera_id: str, loop: object) -> Sub:
            return Sub(feeds.pop(0) if feeds else [])

        def __enter__(self) -> Session:
            return self

        def __exit__(self, *exc: object) -> None:
            closed.append("session")

    class Gate:
        def open_live(self, who, camera_ids, kind, purpose):
            opened.append((who.username, who.role, tuple(camera_ids), kind))
            return Session()

    monkeypatch.setattr(capacity, "egress", lambda ctx: Gate())
    viewer = Viewer(ctx=object(), camera_id="cap00", fps=10.0)
    viewer.start()
    deadline = time.monotonic() + 10
    while viewer.new_frames < 4 and time.monotonic() < deadline:
        time.sleep(0.01)
    viewer.stop()
    deadline = time.monotonic() + 5
    while "session" not in closed and time.monotonic() < deadline:
        time.sleep(0.01)
    assert viewer.error is None
    assert opened == [("capacity-bench", "operator", ("cap00",), "live.h264")]
    assert viewer.new_frames == 4  # four fragments over two feeds; state messages do not count
    assert closed == ["sub", "sub", "session"]


def test_bench_memory_reads_rss_per_added_camera_with_the_privacy_stage():
    video = asset("video/vtest_480x360_h264.avi")
    out = oversight(
        "bench",
        "memory",
        "--video",
        str(video),
        "--width",
        "320",
        "--height",
        "180",
        "--cameras",
        "2",
        "--settle-s",
        "3",
        "--clip-s",
        "2",
        timeout=150,
    )
    assert out["bench"] == "memory" and [s["cameras"] for s in out["steps"]] == [1, 2]
    assert out["face_detector"] in {"model", "haar"} and out["memory_mb_per_added_camera"] is not None
    assert all(s["rss_mb"] > out["memory_mb_before_cameras"] for s in out["steps"])
    assert out["steps"][-1]["frames_analyzed"] > 0  # the cameras really ran
