"""Packet-copy recording of real clips: MP4 and AVI input, continuous and events mode."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import av
import numpy as np
from sqlalchemy import select

from conftest import asset
from oversight.cameras.worker import CameraWorker
from oversight.config.schema import CameraConfig
from oversight.events.bus import EventBus
from oversight.recording.storage import LocalStorage
from oversight.store.db import Database
from oversight.store.models import Segment


def wait_for(cond: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def camera(path: Path, **extra: Any) -> CameraConfig:
    data: dict[str, Any] = {
        "id": "cam1",
        "purpose": "recording test",
        "streams": {"record": str(path)},
        "realtime": False,
        "record": {"segment_seconds": 2},
    }
    data.update(extra)
    return CameraConfig.model_validate(data)


def run_to_end(cam: CameraConfig, db: Database, tmp_path: Path, factory: Any = None) -> CameraWorker:
    w = CameraWorker(cam, db, EventBus(), LocalStorage(tmp_path), factory)
    w.start()
    try:
        wait_for(lambda: w.state == "ended", 60, "end of file")
    finally:
        w.stop()
    return w


def segments(db: Database) -> list[Segment]:
    with db.session() as s:
        return list(s.scalars(select(Segment).order_by(Segment.start)))


def packets_and_frames(path: str) -> tuple[int, int, str]:
    with av.open(path) as c:
        st = c.streams.video[0]
        n_pkts = sum(1 for p in c.demux(st) if p.size)
    with av.open(path) as c:
        n_frames = sum(1 for _ in c.decode(video=0))
        codec = c.streams.video[0].codec_context.name
    return n_pkts, n_frames, codec


def source_packets(path: Path) -> list[bytes]:
    with av.open(str(path)) as c:
        return [bytes(p) for p in c.demux(video=0) if p.size]


def test_mp4_file_is_copied_into_contiguous_playable_segments(db: Database, tmp_path: Path):
    clip = asset("video/car-detection.mp4")  # 377 frames, 12.5 fps, keyframe every 60 frames
    run_to_end(camera(clip), db, tmp_path)
    segs = segments(db)
    assert len(segs) >= 3
    total_pkts = 0
    copied: list[bytes] = []
    for seg in segs:
        assert Path(seg.path).stat().st_size == seg.bytes
        n_pkts, n_frames, codec = packets_and_frames(seg.path)
        assert codec == "h264" and n_frames == n_pkts > 0
        total_pkts += n_pkts
        with av.open(seg.path) as c:
            copied += [bytes(p) for p in c.demux(video=0) if p.size]
        with open(seg.path, "rb") as f:
            head = f.read(64)
        assert b"ftyp" in head and b"moov" in head  # fragmented MP4: moov up front, playable while written
    src = source_packets(clip)
    assert total_pkts == len(src) == 377
    assert copied == src  # bit-exact packet copy: nothing re-encoded, nothing lost
    for a, b in zip(segs, segs[1:], strict=False):
        assert abs((b.start - a.end).total_seconds()) < 1e-3
    total = sum((s.end - s.start).total_seconds() for s in segs)
    assert abs(total - 377 / 12.5) < 0.2


def test_avi_h264_input_is_recorded(db: Database, tmp_path: Path):
    clip = asset("video/vtest_480x360_h264.avi")  # H.264 in AVI, keyframe every 25 s
    run_to_end(camera(clip, record={"segment_seconds": 5}), db, tmp_path)
    segs = segments(db)
    assert len(segs) == 4  # cut at the keyframes at 0, 25, 50, 75 s
    frames = 0
    for seg in segs:
        n_pkts, n_frames, codec = packets_and_frames(seg.path)
        assert codec == "h264" and n_frames == n_pkts
        frames += n_frames
    assert frames == 795
    assert abs((segs[0].end - segs[0].start).total_seconds() - 25.0) < 0.01


def test_non_h264_codec_gives_clear_error_but_analytics_still_run(db: Database, tmp_path: Path):
    clip = asset("video/bgslibrary_video02.avi")  # MPEG-4 Part 2: not playable in browsers
    analytics = ScriptedAnalytics(on=0, off=0)
    w = run_to_end(camera(clip), db, tmp_path, lambda cam: analytics)
    assert segments(db) == []
    st = w.status()
    assert "mpeg4" in st["error"] and "H.264" in st["error"]
    assert st["frames_analyzed"] == len(analytics.frames) > 0 and w.latest_frame() is not None


class ScriptedAnalytics:
    """A stand-in for CameraAnalytics whose event is active for frames in [on, off) seconds of the clip."""

    def __init__(self, on: float, off: float):
        self.on, self.off = on, off
        self.t0: datetime | None = None
        self.event_active = False
        self.frames: list[tuple[tuple[int, ...], datetime]] = []

    def process(self, frame: np.ndarray, ts: datetime) -> None:
        self.t0 = self.t0 or ts
        t = (ts - self.t0).total_seconds()
        self.event_active = self.on <= t < self.off
        self.frames.append((frame.shape, ts))


def test_events_mode_records_only_around_the_event_with_pre_and_post_roll(db: Database, tmp_path: Path):
    clip = asset("video/one-by-one-person-detection.mp4")  # 10 fps, keyframe every second
    analytics = ScriptedAnalytics(on=4.0, off=5.0)
    cam = camera(
        clip,
        realtime=True,  # analytics must keep up with the recorder for event timing to mean anything
        detect={"fps": 5, "width": 320, "height": 180},
        record={"mode": "events", "segment_seconds": 2, "pre_roll": 1.5, "post_roll": 1},
    )
    w = CameraWorker(cam, db, EventBus(), LocalStorage(tmp_path), lambda c: analytics)
    w.start()
    try:
        wait_for(lambda: w.recorder.segments_written >= 1 and w.recorder.current is None, 40, "event clip")
        assert analytics.t0 is not None
        time.sleep(1.5)  # nothing more is recorded once the post roll is over
    finally:
        w.stop()
    assert {shape for shape, _ in analytics.frames} == {(180, 320, 3)}
    gaps = [
        (b - a).total_seconds()
        for (_, a), (_, b) in zip(analytics.frames, analytics.frames[1:], strict=False)
    ]
    assert 0.15 < sorted(gaps)[len(gaps) // 2] < 0.25  # sampled at detect.fps=5 from a 10 fps stream
    segs = segments(db)
    assert segs and all(s.has_event for s in segs)
    t0 = analytics.t0
    start = (segs[0].start - t0).total_seconds()
    end = (segs[-1].end - t0).total_seconds()
    # pre roll: starts at a keyframe at least 1.5 s before the event (4 s); post roll: ~1 s after 5 s
    assert 1.0 <= start <= 3.0, start
    assert 5.5 <= end <= 7.5, end
    for a, b in zip(segs, segs[1:], strict=False):
        assert abs((b.start - a.end).total_seconds()) < 1e-3
    for seg in segs:
        assert packets_and_frames(seg.path)[1] > 0


def test_continuous_mode_marks_segments_that_overlap_an_event(db: Database, tmp_path: Path):
    clip = asset("video/one-by-one-person-detection.mp4")
    analytics = ScriptedAnalytics(on=2.0, off=3.0)
    cam = camera(clip, realtime=True, loop=False, detect={"fps": 5}, record={"segment_seconds": 1})
    w = CameraWorker(cam, db, EventBus(), LocalStorage(tmp_path), lambda c: analytics)
    w.start()
    try:
        wait_for(lambda: w.recorder.segments_written >= 6, 40, "6 segments")
    finally:
        w.stop()
    segs = segments(db)
    assert analytics.t0 is not None
    flagged = [s for s in segs if s.has_event]
    assert flagged and len(flagged) < len(segs)
    for s in flagged:  # each flagged segment is near the event window (allowing analytics latency)
        assert (s.start - analytics.t0).total_seconds() < 4.0
        assert (s.end - analytics.t0).total_seconds() > 1.5


def make_hevc_clip(path: Path, frames: int = 40, fps: int = 10) -> None:
    """A small H.265 clip closed GOPs of 5 frames, like a camera (encoded here: no H.265 asset exists)."""
    with av.open(str(path), "w") as out:
        st = out.add_stream(
            "libx265", rate=fps, options={"x265-params": "keyint=5:min-keyint=5:open-gop=0:log-level=error"}
        )
        st.width, st.height, st.pix_fmt = 160, 120, "yuv420p"
        for i in range(frames):
            img = np.zeros((120, 160, 3), np.uint8)
            img[:, (i * 4) % 160 :] = 200
            for pkt in st.encode(av.VideoFrame.from_ndarray(img, format="bgr24")):
                out.mux(pkt)
        for pkt in st.encode():
            out.mux(pkt)


def test_hevc_is_recorded_with_the_hvc1_tag(db: Database, tmp_path: Path):
    clip = tmp_path / "hevc.mp4"
    make_hevc_clip(clip)
    run_to_end(camera(clip, record={"segment_seconds": 1}), db, tmp_path / "data")
    segs = segments(db)
    assert len(segs) >= 3
    frames = 0
    for seg in segs:
        n_pkts, n_frames, codec = packets_and_frames(seg.path)
        assert codec == "hevc" and n_frames == n_pkts
        frames += n_frames
        with open(seg.path, "rb") as f:
            assert b"hvc1" in f.read(4096)
    assert frames == 40


def test_a_segment_of_two_packets_with_b_frames_verifies(tmp_path: Path) -> None:
    """A camera stopped just after a segment began leaves one or two packets; with B-frames the
    decoder returns their frame only when drained, and the segment must still verify (it used to be
    deleted as "no frame decodes")."""
    from oversight.recording.segment import verify_segment

    clip = tmp_path / "b.mp4"
    with av.open(str(clip), "w") as out:
        st = out.add_stream("libx264", rate=25, options={"bf": "3"})
        st.width, st.height, st.pix_fmt = 320, 180, "yuv420p"
        for i in range(30):
            img = np.full((180, 320, 3), 40, np.uint8)
            img[50:100, (i * 9) % 280 : (i * 9) % 280 + 40] = 230
            for pkt in st.encode(av.VideoFrame.from_ndarray(img, format="bgr24")):
                out.mux(pkt)
        for pkt in st.encode():
            out.mux(pkt)
    short = tmp_path / "short.mp4"
    with av.open(str(clip)) as inp, av.open(str(short), "w") as out:
        src = inp.streams.video[0]
        dst = out.add_stream_from_template(src)
        kept = [p for p in inp.demux(src) if p.size][:2]
        for p in kept:
            p.stream = dst
            out.mux(p)
    with av.open(str(short)) as check:  # the case at hand: the packets alone give no frame
        assert sum(len(p.decode()) for p in check.demux(check.streams.video[0]) if p.size) == 0
    assert verify_segment(short, 2) is None
    garbage = tmp_path / "garbage.mp4"
    garbage.write_bytes(b"\0" * 4096)
    assert verify_segment(garbage, 2) is not None
