"""Runtime: cameras added, replaced and removed one at a time; periodic retention; clean stop."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import av
from sqlalchemy import select

from conftest import asset
from oversight.config.schema import CameraConfig, SiteConfig
from oversight.events.bus import EventBus
from oversight.recording.index import insert_segment
from oversight.runtime import Runtime
from oversight.store.base import utcnow
from oversight.store.db import Database
from oversight.store.models import RecordingGap, Segment

FAST = {"backoff_initial": 0.2, "backoff_max": 1.0, "open_timeout": 3.0, "read_timeout": 3.0}


def wait_for(cond: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def cam(cid: str, clip: Path, **extra: Any) -> dict[str, Any]:
    return {
        "id": cid,
        "purpose": "runtime test",
        "streams": {"record": str(clip)},
        "loop": True,
        "record": {"segment_seconds": 1},
        **extra,
    }


def test_apply_and_remove_camera_leave_the_others_running(db: Database, tmp_path: Path):
    clip = asset("video/one-by-one-person-detection.mp4")  # keyframe every second
    cfg = SiteConfig.model_validate(
        {"site": {"data_dir": str(tmp_path)}, "cameras": [cam("a", clip), cam("b", clip)]}
    )
    bus = EventBus()
    made: list[str] = []

    class Counting:
        event_active = False

        def __init__(self, c: CameraConfig):
            made.append(c.id)
            self.n = 0

        def process(self, frame: Any, ts: Any) -> None:
            self.n += 1

    rt = Runtime(cfg, db, bus, analytics_factory=Counting, worker_options=FAST, retention_interval_s=0)
    rt.start()
    try:
        wait_for(
            lambda: all(w.recorder.segments_written >= 1 for w in rt.workers.values()), 30, "both recording"
        )
        a_worker = rt.workers["a"]
        a_segments = a_worker.recorder.segments_written
        new_b = CameraConfig.model_validate(cam("b", clip, detect={"fps": 2, "width": 320, "height": 180}))
        b2 = rt.apply_camera(new_b)
        assert b2 is not None and rt.workers["b"] is b2
        assert rt.workers["a"] is a_worker and a_worker.alive()  # untouched
        wait_for(lambda: b2.latest_frame() is not None, 20, "new b frames")
        assert b2.latest_frame()[0].shape == (180, 320, 3)  # type: ignore[index]
        assert rt.cfg.camera("b").detect.fps == 2
        c3 = rt.apply_camera(CameraConfig.model_validate(cam("c", clip)))
        assert c3 is not None
        wait_for(lambda: c3.recorder.segments_written >= 1, 30, "added camera records")
        rt.remove_camera("b")
        assert "b" not in rt.workers and not b2.alive()
        assert {s["id"] for s in rt.status()} == {"a", "c"}
        assert a_worker.recorder.segments_written > a_segments  # a kept recording throughout
        assert made.count("b") == 2 and made.count("a") == 1
        assert rt.workers["a"].analytics.n > 0  # type: ignore[union-attr]
    finally:
        rt.stop()
    assert rt.workers == {}
    with db.session() as s:
        segs = list(s.scalars(select(Segment)))
        gaps = list(s.scalars(select(RecordingGap)))
    assert {x.camera_id for x in segs} == {"a", "b", "c"}
    for seg in segs:  # stop() closed the open segments cleanly
        assert Path(seg.path).stat().st_size == seg.bytes
        with av.open(seg.path) as c:
            assert sum(1 for _ in c.decode(video=0)) > 0
    assert {g.camera_id for g in gaps if g.reason == "recorder stopped"} == {"a", "b", "c"}


def test_periodic_retention_and_storage_cap(db: Database, tmp_path: Path):
    cfg = SiteConfig.model_validate(
        {"site": {"data_dir": str(tmp_path)}, "cameras": [cam("a", Path("/nonexistent.mp4"), enabled=False)]}
    )
    rt = Runtime(cfg, db, EventBus(), retention_interval_s=0.2, on_delete=None)
    old_start = utcnow() - timedelta(days=30)
    path = rt.storage.new_segment_path("a", old_start)
    path.write_bytes(b"x")
    insert_segment(db, "a", old_start, old_start + timedelta(seconds=10), path, 1, False)
    rt.start()
    try:
        assert rt.status()[0]["state"] == "disabled"
        wait_for(
            lambda: rt.last_retention is not None and rt.last_retention.deleted != [], 10, "retention run"
        )
    finally:
        rt.stop()
    assert not path.exists()
    with db.session() as s:
        assert s.scalars(select(Segment)).all() == []


def test_default_analytics_factory_is_lazy(db: Database, tmp_path: Path):
    cfg = SiteConfig.model_validate({"site": {"data_dir": str(tmp_path)}})
    rt = Runtime(cfg, db, EventBus(), analytics_factory="default")
    assert rt.analytics_factory == rt.default_analytics_factory  # resolved only when a camera starts


def test_separate_detect_stream_feeds_analytics_while_record_stream_records(db: Database, tmp_path: Path):
    record = asset("video/one-by-one-person-detection.mp4")  # 768x432
    detect = asset("video/bgslibrary_video02.avi")  # 320x240 MPEG-4: fine to decode, never recorded
    c = cam("a", record, detect={"fps": 5, "width": 320, "height": 240})
    c["streams"]["detect"] = str(detect)
    cfg = SiteConfig.model_validate({"site": {"data_dir": str(tmp_path)}, "cameras": [c]})
    sizes: list[tuple[int, ...]] = []

    class Counting:
        event_active = False

        def process(self, frame: Any, ts: Any) -> None:
            sizes.append(frame.shape)

    rt = Runtime(cfg, db, EventBus(), lambda _: Counting(), worker_options=FAST, retention_interval_s=0)
    rt.start()
    try:
        w = rt.workers["a"]
        wait_for(
            lambda: w.recorder.segments_written >= 1 and w.status()["frames_analyzed"] >= 3,
            20,
            "both streams",
        )
        st = w.status()
        assert st["error"] is None and st["online"]  # the detect stream's codec does not matter
        assert set(sizes) == {(240, 320, 3)}  # analytics saw the detect stream
    finally:
        rt.stop()
    with db.session() as s:
        seg = s.scalars(select(Segment)).first()
    assert seg is not None
    with av.open(seg.path) as f:
        assert f.streams.video[0].codec_context.width == 768  # recorded from the record stream


def test_live_view_keeps_its_frame_rate_while_the_detector_is_slow(db: Database, tmp_path: Path):
    """Analytics runs on its own thread: a detector slower than the camera skips frames, and the
    live view still gets every decoded frame."""
    clip = asset("video/one-by-one-person-detection.mp4")  # 10 fps
    seen: list[Any] = []

    class Slow:
        event_active = False

        def process(self, frame: Any, ts: Any) -> None:
            seen.append(ts)
            time.sleep(0.4)

    c = cam("a", clip, detect={"fps": 10, "width": 320, "height": 180})
    cfg = SiteConfig.model_validate({"site": {"data_dir": str(tmp_path)}, "cameras": [c]})
    rt = Runtime(cfg, db, EventBus(), lambda _: Slow(), worker_options=FAST, retention_interval_s=0)
    rt.start()
    try:
        w = rt.workers["a"]
        wait_for(lambda: w.latest_frame() is not None and len(seen) >= 1, 20, "the first frames")
        live: set[Any] = set()
        start = len(seen)
        while len(seen) - start < 4:
            frame = w.latest_frame()
            assert frame is not None and frame[0].shape == (180, 320, 3)
            live.add(frame[1])
            time.sleep(0.03)
        analysed = len(seen) - start
    finally:
        rt.stop()
    assert len(live) >= 2 * analysed, (len(live), analysed)
    assert seen == sorted(seen)  # skipped frames, never out of order
