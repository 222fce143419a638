"""A source whose packets carry no usable timestamps is recorded at its real length and the camera
status says it was restamped (instead of minutes of video labelled as a second)."""

from __future__ import annotations

import time
from pathlib import Path

from sqlalchemy import select

from media_helpers import zero_pts_clip
from oversight.cameras.worker import CameraWorker
from oversight.config.schema import CameraConfig
from oversight.recording.storage import LocalStorage
from oversight.store.db import Database
from oversight.store.models import Segment


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


def test_zero_pts_live_source_is_restamped_by_arrival(db: Database, tmp_path: Path):
    import functools
    import http.server
    import threading

    from test_cameras_http import QuietHandler

    clip = zero_pts_clip(tmp_path / "zero.mkv", frames=60, fps=10)
    srv = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(QuietHandler, directory=str(tmp_path))
    )
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    cam = CameraConfig.model_validate(
        {
            "id": "live0",
            "purpose": "live source without timestamps",
            "streams": {"record": f"http://127.0.0.1:{srv.server_address[1]}/{clip.name}"},
            "detect": {"enabled": False},
        }
    )
    worker = CameraWorker(cam, db, None, LocalStorage(tmp_path / "rec"), backoff_initial=5.0)
    worker.start()
    try:
        deadline = time.monotonic() + 30
        while not worker.status()["timestamps"] and time.monotonic() < deadline:
            time.sleep(0.05)
        assert "restamped by arrival time" in (worker.status()["timestamps"] or "")
    finally:
        worker.stop()
        srv.shutdown()
        srv.server_close()


def test_zero_pts_file_is_paced_at_its_frame_rate(db: Database, tmp_path: Path):
    clip = zero_pts_clip(tmp_path / "zero.mkv", frames=30, fps=10)  # 3 s of video
    cam = CameraConfig.model_validate(
        {
            "id": "paced",
            "purpose": "no timestamps, real time",
            "streams": {"record": str(clip)},
            "realtime": True,
            "detect": {"enabled": False},
        }
    )
    worker = CameraWorker(cam, db, None, LocalStorage(tmp_path / "rec"))
    t0 = time.monotonic()
    worker.start()
    while worker.alive() and time.monotonic() - t0 < 60:
        time.sleep(0.05)
    ratio = (time.monotonic() - t0) / 3.0
    worker.stop()
    # read at its frame rate, not at one tick per packet (which read such files ~90x real time)
    assert ratio >= 0.8, f"played {1 / ratio:.1f}x faster than real time"


def _skew_after(rate: float, seconds: float, jitter_s: float = 0.3) -> float | None:
    """A live camera at 10 fps whose clock runs ``rate`` times as fast as the server's, its packets
    arriving up to ``jitter_s`` late: the skew the clock reports after ``seconds``."""
    import random
    from fractions import Fraction

    import av

    from oversight.cameras.clock import PacketClock

    rng = random.Random(7)
    clock = PacketClock(Fraction(1, 90000), Fraction(10), live=True, start_wall=1000.0)
    for i in range(int(seconds * 10)):
        pkt = av.Packet(b"\0" * 16)
        pkt.pts = pkt.dts = round(i * 9000 * rate)  # the camera's timestamp for frame i
        pkt.is_keyframe = i % 10 == 0
        clock.stamp(pkt, now=1000.0 + i / 10 + rng.uniform(0, jitter_s))  # when it reached us
    return clock.skew_s


def test_camera_clock_skew_is_measured_through_network_jitter() -> None:
    """A camera clock 1% fast drifts 0.6 s a minute and 3 s in five; a camera in step reads ~0
    however late its packets arrive (up to 0.3 s of jitter)."""
    steady = _skew_after(1.0, 300)
    fast_1min, fast_5min = _skew_after(1.01, 70), _skew_after(1.01, 310)
    slow = _skew_after(0.99, 310)
    assert steady is not None and abs(steady) < 0.05
    assert fast_1min is not None and fast_5min is not None and slow is not None
    assert 0.4 < fast_1min < 0.8 and 2.7 < fast_5min < 3.3 and -3.3 < slow < -2.7
