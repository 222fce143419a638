"""Runtime: cameras added, replaced and removed one at a time; periodic retention; clean stop."""

from __future__ import annotations

import threading
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


def _health(q: Any) -> list[tuple[str, str, str]]:
    out = []
    while not q.empty():
        d = q.get_nowait().data
        out.append((d["camera_id"], d["stage"], d["state"]))
    return out


def test_watchdog_restarts_a_stalled_analytics_stage_and_records_the_outage(db: Database, tmp_path: Path):
    from oversight.store.health import StageOutage

    clip = asset("video/one-by-one-person-detection.mp4")
    cfg = SiteConfig.model_validate(
        {"site": {"data_dir": str(tmp_path)}, "cameras": [cam("a", clip, realtime=True)]}
    )
    release = threading.Event()
    made: list[Any] = []

    class Hanging:
        """The first instance hangs inside process (a stuck detector); later ones work."""

        event_active = False

        def __init__(self, c: CameraConfig):
            self.first = not made
            self.n = 0
            made.append(self)

        def process(self, img: Any, ts: Any) -> None:
            if self.first:
                release.wait(60)
            self.n += 1

    bus = EventBus()
    q, _ = bus.subscribe_queue("camera.health")
    rt = Runtime(
        cfg,
        db,
        bus,
        Hanging,
        retention_interval_s=0,
        worker_options=FAST,
        watchdog_interval_s=0.2,
        stall_s=1.5,
    )
    rt.start()
    try:
        wait_for(lambda: len(made) >= 2 and made[-1].n >= 3, 30, "a restarted analytics stage")
        w = rt.workers["a"]
        assert w.restarts == {"analytics": 1}
        assert made[0].n == 0  # the stuck one never finished a frame; its replacement does
        wait_for(lambda: ("a", "analytics", "recovered") in _health(q) or _closed(db), 20, "recovery")
        with db.session() as s:
            rows = list(s.scalars(select(StageOutage)))
        assert [(r.camera_id, r.stage) for r in rows] == [("a", "analytics")]
        assert rows[0].end is not None and rows[0].end >= rows[0].start
        st = w.status()
        assert st["stage_restarts"] == {"analytics": 1}
        ages = st["stage_age_s"]
        assert ages["analytics"] is not None and ages["analytics"] < rt.stall_s
        assert ages["ingest"] is not None and ages["recording"] is not None
        assert w.recorder.segments_written >= 1  # recording never stopped
    finally:
        release.set()
        rt.stop()


def _closed(db: Database) -> bool:
    from oversight.store.health import StageOutage

    with db.session() as s:
        return any(r.end is not None for r in s.scalars(select(StageOutage)))


def test_watchdog_replaces_a_worker_whose_recording_hangs(db: Database, tmp_path: Path, monkeypatch: Any):
    from oversight.recording.recorder import Recorder

    clip = asset("video/one-by-one-person-detection.mp4")
    cfg = SiteConfig.model_validate(
        {"site": {"data_dir": str(tmp_path)}, "cameras": [cam("a", clip, realtime=True)]}
    )
    release = threading.Event()
    feed = Recorder.feed
    hung: list[Recorder] = []

    def hanging_feed(self: Recorder, p: Any, event_active: bool) -> None:
        if not hung or hung[0] is self:
            if not hung:
                hung.append(self)
            release.wait(60)  # a disk that stopped answering
            return
        feed(self, p, event_active)

    monkeypatch.setattr(Recorder, "feed", hanging_feed)
    bus = EventBus()
    q, _ = bus.subscribe_queue("camera.health")
    rt = Runtime(
        cfg, db, bus, None, retention_interval_s=0, worker_options=FAST, watchdog_interval_s=0.2, stall_s=1.5
    )
    rt.start()
    first = rt.workers["a"]
    try:
        wait_for(lambda: rt.workers["a"] is not first, 20, "a replaced worker")
        wait_for(lambda: rt.workers["a"].recorder.segments_written >= 1, 20, "recording again")
        assert rt.workers["a"].restarts == {"recording": 1}
        assert ("a", "recording", "stalled") in _health(q)
    finally:
        release.set()
        rt.stop()


def test_watchdog_restarts_a_hung_decoder_while_recording_goes_on(
    db: Database, tmp_path: Path, monkeypatch: Any
):
    """The issue's failure: the decode thread stuck inside PyAV. It is replaced; recording never stops."""
    from oversight.cameras.frames import FrameSampler

    clip = asset("video/one-by-one-person-detection.mp4")
    cfg = SiteConfig.model_validate(
        {"site": {"data_dir": str(tmp_path)}, "cameras": [cam("a", clip, realtime=True)]}
    )
    release = threading.Event()
    decode = FrameSampler._decode
    hung: list[FrameSampler] = []

    def hanging(self: FrameSampler, *a: Any) -> Any:
        if not hung or hung[0] is self:
            hung[:1] = [self]
            release.wait(60)  # stuck in a reformat that never returns
        return decode(self, *a)

    monkeypatch.setattr(FrameSampler, "_decode", hanging)
    bus = EventBus()
    q, _ = bus.subscribe_queue("camera.health")
    rt = Runtime(
        cfg, db, bus, None, retention_interval_s=0, worker_options=FAST, watchdog_interval_s=0.2, stall_s=1.5
    )
    rt.start()
    try:
        w = rt.workers["a"]
        wait_for(
            lambda: w.sampler is not None and w.sampler is not hung[0] if hung else False, 20, "a new decoder"
        )
        wait_for(lambda: w.latest_frame(max_wait=0.5) is not None, 20, "live frames from the new decoder")
        assert w.restarts.get("decode") == 1 and rt.workers["a"] is w  # only the decode side restarted
        assert ("a", "decode", "stalled") in _health(q)
        segs = w.recorder.segments_written
        wait_for(lambda: w.recorder.segments_written > segs, 20, "recording to go on")
    finally:
        release.set()
        rt.stop()


def test_the_main_stream_is_the_decoded_stream_at_its_own_size_only_while_watched(
    db: Database, tmp_path: Path
):
    """Live frames come at the detect size (the sub-stream); a viewer of the main stream (a large
    tile, fullscreen) gets the decoded stream at its own resolution, converted by the decode
    thread itself and only while someone asks for it."""
    clip = asset("video/one-by-one-person-detection.mp4")
    with av.open(str(clip)) as c:
        size = (c.streams.video[0].codec_context.height, c.streams.video[0].codec_context.width)
    c = cam("a", clip, detect={"fps": 2, "width": 320, "height": 180})
    cfg = SiteConfig.model_validate({"site": {"data_dir": str(tmp_path)}, "cameras": [c]})
    rt = Runtime(cfg, db, EventBus(), None, worker_options=FAST, retention_interval_s=0)
    rt.start()
    try:
        w = rt.workers["a"]
        wait_for(lambda: w.latest_frame(max_wait=0.5) is not None, 20, "live frames")
        assert w.latest_frame()[0].shape == (180, 320, 3)  # type: ignore[index]
        assert w.sampler is not None and not w.sampler._recent_main  # nobody asked: none made
        wait_for(lambda: w.latest_frame(max_wait=0.5, main=True) is not None, 20, "main-stream frames")
        big, ts = w.latest_frame(main=True)  # type: ignore[misc]
        assert big.shape[:2] == size and not big.flags.writeable
        time.sleep(0.5)
        assert w.latest_frame(main=True)[1] > ts  # type: ignore[index]  # it keeps coming
    finally:
        rt.stop()
