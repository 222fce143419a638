"""Record a real RTSP stream (GStreamer server), survive the server dying, and keep the index true."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import av
import pytest
from sqlalchemy import select

from oversight.cameras.worker import CameraWorker
from oversight.config.schema import CameraConfig
from oversight.events.bus import EventBus
from oversight.recording.storage import LocalStorage
from oversight.store.db import Database
from oversight.store.models import RecordingGap, Segment
from rtsp import RtspServer, running_server

pytestmark = pytest.mark.rtsp


@pytest.fixture
def rtsp_server() -> Iterator[RtspServer]:
    yield from running_server()


FAST = dict(backoff_initial=0.2, backoff_max=1.0, open_timeout=5.0, read_timeout=3.0)


def wait_for(cond: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def camera(url: str, **extra: object) -> CameraConfig:
    return CameraConfig.model_validate(
        {
            "id": "cam1",
            "purpose": "rtsp test",
            "streams": {"record": url},
            "record": {"segment_seconds": 1},
            **extra,
        }
    )


def segments(db: Database) -> list[Segment]:
    with db.session() as s:
        return list(s.scalars(select(Segment).order_by(Segment.start)))


def decode_all(path: str) -> int:
    with av.open(path) as c:
        return sum(1 for _ in c.decode(video=0))


def test_rtsp_records_playable_contiguous_indexed_segments(
    db: Database, tmp_path: Path, rtsp_server: RtspServer
):
    bus = EventBus()
    q, _ = bus.subscribe_queue("segment")
    w = CameraWorker(camera(rtsp_server.url), db, bus, LocalStorage(tmp_path), None, **FAST)
    w.start()
    try:
        wait_for(lambda: w.recorder.segments_written >= 3, 30, "3 RTSP segments")
        st = w.status()
        assert st["online"] and st["error"] is None
        assert st["fps"] > 0 and st["bitrate_kbps"] > 0
        got = w.latest_frame(max_wait=5.0)  # the first request starts live conversion
        assert got is not None
        frame, _ts = got
        assert frame.shape == (360, 640, 3)
    finally:
        w.stop()
    segs = segments(db)
    assert len(segs) >= 3
    assert q.qsize() >= 3
    for seg in segs:
        p = Path(seg.path)
        assert p.is_file() and p.stat().st_size == seg.bytes
        assert p.is_relative_to(tmp_path / "recordings" / "cam1")
        assert decode_all(seg.path) > 0
        assert seg.end > seg.start
    for a, b in zip(segs, segs[1:], strict=False):
        assert abs((b.start - a.end).total_seconds()) < 0.05, (a.end, b.start)
    # a full segment (cut at the next keyframe after 1 s) holds about one GOP of the 10 fps clip
    assert 0.5 <= (segs[0].end - segs[0].start).total_seconds() <= 3.0
    assert not list((tmp_path / "recordings").rglob("*.partial"))


def test_rtsp_outage_reconnects_and_stores_gap(db: Database, tmp_path: Path, rtsp_server: RtspServer):
    bus = EventBus()
    states: list[str] = []
    bus.subscribe("camera.status", lambda m: states.append(m.data["state"]))
    w = CameraWorker(camera(rtsp_server.url), db, bus, LocalStorage(tmp_path), None, **FAST)
    w.start()
    try:
        wait_for(lambda: w.recorder.segments_written >= 1, 30, "first segment")
        rtsp_server.stop()
        wait_for(lambda: not w.status()["online"], 15, "camera offline")
        assert w.status()["error"]
        with db.session() as s:
            gap = s.scalars(select(RecordingGap).where(RecordingGap.camera_id == "cam1")).one()
        assert gap.end is None
        time.sleep(1.0)
        rtsp_server.start()
        wait_for(lambda: w.status()["online"], 30, "camera back online")
        before = w.recorder.segments_written
        wait_for(lambda: w.recorder.segments_written >= before + 1, 30, "a segment after reconnect")
        st = w.status()
        assert st["reconnects"] >= 1 and st["error"] is None
    finally:
        w.stop()
    assert "offline" in states and states.count("online") >= 2
    with db.session() as s:
        gaps = list(
            s.scalars(
                select(RecordingGap).where(RecordingGap.camera_id == "cam1").order_by(RecordingGap.start)
            )
        )
    outage = gaps[0]
    assert outage.end is not None and outage.end > outage.start
    segs = segments(db)
    before_gap = [x for x in segs if x.end <= outage.start + (outage.end - outage.start) / 2]
    after_gap = [x for x in segs if x.start >= outage.end - (outage.end - outage.start) / 2]
    assert before_gap and after_gap, "footage on both sides of the outage"
    # the gap covers the hole in the footage: last segment before it ends near its start
    assert abs((outage.start - before_gap[-1].end).total_seconds()) < 2.0
    assert after_gap[0].start >= outage.start
    for seg in segs:
        assert Path(seg.path).stat().st_size == seg.bytes
        assert decode_all(seg.path) > 0


def test_rtsp_refused_port_is_offline_with_error(db: Database, tmp_path: Path):
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    w = CameraWorker(
        camera(f"rtsp://127.0.0.1:{port}/stream"), db, EventBus(), LocalStorage(tmp_path), None, **FAST
    )
    w.start()
    try:
        wait_for(lambda: w.status()["reconnects"] >= 2, 20, "retries against a refusing port")
        st = w.status()
        assert not st["online"] and st["state"] == "offline"
        assert "cannot open rtsp://127.0.0.1" in st["error"]
    finally:
        w.stop()
    with db.session() as s:
        gap = s.scalars(select(RecordingGap)).one()
    assert gap.end is None and "cannot open" in gap.reason
