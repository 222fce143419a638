"""The decode thread owns every PyAV object; viewers only ever get immutable NumPy arrays.

The stress run reproduces issue 10's crash (decode thread and web threads calling ``reformat`` on
the same ``VideoFrame``): it runs in a subprocess with a timeout so a segfault or a deadlock fails
the test instead of killing pytest.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from datetime import datetime, timedelta
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from oversight.cameras.frames import FrameSampler, StreamInfo
from oversight.config.schema import CameraConfig

SRC = Path(__file__).resolve().parents[1] / "src"

STRESS = textwrap.dedent(
    """
    import sys, threading, time
    from fractions import Fraction
    import av, numpy as np
    from oversight.cameras.frames import FrameSampler, StreamInfo
    from oversight.config.schema import CameraConfig

    path, seconds, viewers = sys.argv[1], float(sys.argv[2]), int(sys.argv[3])
    with av.open(path) as c:
        s = c.streams.video[0]
        cc = s.codec_context
        info = (cc.name, cc.extradata, cc.width, cc.height, s.time_base)
        pkts = [(bytes(p), p.pts, p.is_keyframe) for p in c.demux(s) if p.size]
    cam = CameraConfig.model_validate(
        {"id": "c", "purpose": "test", "streams": {"record": "file://" + path},
         "detect": {"fps": 25, "width": 320, "height": 180}}
    )

    class Analytics:
        event_active = False
        def process(self, img, ts):
            pass

    fs = FrameSampler(cam, Analytics())
    fs.start()
    tb = info[4]
    fs.new_stream(StreamInfo(info[0], info[1], info[2], info[3], tb, lambda p: float(p * tb)))
    stop = time.monotonic() + seconds
    got = [0]

    def view():
        while time.monotonic() < stop:
            r = fs.latest()
            if r is not None:
                got[0] += 1

    threads = [threading.Thread(target=view, daemon=True) for _ in range(viewers)]
    for t in threads:
        t.start()
    offset = 0
    span = (pkts[-1][1] or 0) + 1
    while time.monotonic() < stop:
        for data, pts, key in pkts:
            fs.submit(data, (pts or 0) + offset, key, block=True)
        offset += span
    for t in threads:
        t.join()
    fs.stop()
    print("OK", got[0], fs.frames_processed)
    """
)


def _clip(tmp_path: Path, frames: int = 50) -> Path:
    """A short H.264 clip with moving content (real footage when shared assets are present)."""
    real = Path(__file__).resolve().parents[2] / "shared/assets/video/vtest_480x360_h264.avi"
    if real.is_file():
        return real
    path = tmp_path / "clip.mp4"
    with av.open(str(path), "w") as out:
        st = out.add_stream("libx264", rate=25)
        st.width, st.height, st.pix_fmt = 640, 360, "yuv420p"
        for i in range(frames):
            img = np.full((360, 640, 3), 40, np.uint8)
            img[100:200, (i * 9) % 600 : (i * 9) % 600 + 40] = 230
            for pkt in st.encode(av.VideoFrame.from_ndarray(img, format="bgr24")):
                out.mux(pkt)
        for pkt in st.encode():
            out.mux(pkt)
    return path


def test_many_viewers_while_decoding_neither_crash_nor_deadlock(tmp_path):
    clip = _clip(tmp_path)
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    try:
        res = subprocess.run(
            [sys.executable, "-c", STRESS, str(clip), "6", "8"],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
    except subprocess.TimeoutExpired:
        pytest.fail("deadlock: decoding with 8 live viewers did not finish")
    assert res.returncode == 0, f"crashed (rc {res.returncode}): {res.stderr[-2000:]}"
    ok, views, analysed = res.stdout.split()
    assert ok == "OK" and int(views) > 0 and int(analysed) > 0


def _packets(path: Path) -> tuple[StreamInfo, list[tuple[bytes, int, bool]]]:
    with av.open(str(path)) as c:
        s = c.streams.video[0]
        cc = s.codec_context
        tb = s.time_base or Fraction(1, 90000)
        info = StreamInfo(cc.name, cc.extradata, cc.width, cc.height, tb, lambda p: float(p * tb))
        return info, [(bytes(p), p.pts or 0, p.is_keyframe) for p in c.demux(s) if p.size]


def _av_objects(obj: object) -> list[str]:
    """Names of ``obj``'s attributes holding PyAV objects (which other threads could reach)."""
    found: list[str] = []
    for name, value in vars(obj).items():
        for v in value if isinstance(value, tuple) else (value,):
            if type(v).__module__.startswith("av."):
                found.append(name)
    return found


def test_viewers_get_read_only_arrays_and_no_pyav_object_is_shared(tmp_path):
    cam = CameraConfig.model_validate(
        {
            "id": "c",
            "purpose": "test",
            "streams": {"record": "file:///x.mp4"},
            "detect": {"fps": 5, "width": 320, "height": 180},
        }
    )
    fs = FrameSampler(cam, None)
    fs.start()
    try:
        info, pkts = _packets(_clip(tmp_path))
        fs.new_stream(info)
        for data, pts, key in pkts[:20]:
            fs.submit(data, pts, key, block=True)
        time.sleep(0.3)
        assert fs.latest() is None and fs.frames_converted == 0  # decoded, but nobody watched
        for data, pts, key in pkts[20:]:  # a viewer now wants frames: the decode thread converts them
            fs.submit(data, pts, key, block=True)
        deadline = time.monotonic() + 5
        while fs.frames_converted == 0 and time.monotonic() < deadline:
            time.sleep(0.01)
        got = fs.latest()
        assert got is not None
        img, ts = got
        assert isinstance(ts, datetime)
        assert img.shape == (180, 320, 3) and img.dtype == np.uint8
        assert not img.flags.writeable
        with pytest.raises(ValueError):
            img[0, 0, 0] = 1
        assert _av_objects(fs) == [], "a PyAV object is reachable from other threads"
        # the newest frame at or before a time (the live view waits for the privacy stage)
        earlier = ts - timedelta(seconds=0.25)
        older = fs.latest(not_after=earlier)
        assert older is not None and older[1] <= earlier and not older[0].flags.writeable
        assert fs.latest(not_after=ts - timedelta(hours=1)) is None
    finally:
        fs.stop()


def test_conversion_stops_when_nobody_watches(tmp_path):
    cam = CameraConfig.model_validate(
        {
            "id": "c",
            "purpose": "test",
            "streams": {"record": "file:///x.mp4"},
            "detect": {"fps": 5, "width": 320, "height": 180},
        }
    )
    fs = FrameSampler(cam, None)
    fs.want_s = 0.2
    fs.start()
    try:
        info, pkts = _packets(_clip(tmp_path))
        fs.new_stream(info)
        fs.latest()
        for data, pts, key in pkts[:10]:
            fs.submit(data, pts, key, block=True)
        time.sleep(0.5)  # the viewer's interest lapses
        before = fs.frames_converted
        assert before > 0
        for data, pts, key in pkts[10:]:
            fs.submit(data, pts, key, block=True)
        fs.stop()
        assert fs.frames_converted == before
    finally:
        fs.stop()


def test_every_privacy_sampled_frame_is_a_live_frame_while_watched(tmp_path):
    """The live view shows only frames at or between privacy samples: the sampled frame itself
    must be among the live frames, whatever the live rate would have converted."""
    cam = CameraConfig.model_validate(
        {
            "id": "c",
            "purpose": "test",
            "streams": {"record": "file:///x.mp4"},
            "detect": {"fps": 5, "width": 320, "height": 180},
        }
    )

    class Stage:
        fps = 5.0

        def __init__(self) -> None:
            self.seen: list[datetime] = []

        def process(self, frame, ts):
            self.seen.append(ts)

    stage = Stage()
    fs = FrameSampler(cam, None, privacy=stage)
    fs.live_fps = 0.5  # the live rate alone would convert one frame in two seconds
    fs.start()
    try:
        info, pkts = _packets(_clip(tmp_path))
        fs.new_stream(info)
        fs.latest()  # a viewer is watching
        for data, pts, key in pkts[:30]:
            fs.submit(data, pts, key, block=True)
        fs.stop()
        ring = [ts for _, ts in fs._recent]
        sampled = [ts for ts in stage.seen if ts >= ring[0]]
        assert len(sampled) >= 3 and set(sampled) <= set(ring), (sampled, ring)
        assert fs.latest(not_after=sampled[-1]) == fs._recent[ring.index(sampled[-1])]
    finally:
        fs.stop()


@pytest.mark.parametrize("watched", [False, True])
def test_an_unwatched_camera_keeps_only_its_newest_frames(tmp_path, watched):
    """Recent frames are for the live view: a live camera nobody watches keeps its newest three
    (memory per camera), a watched one the last 1.5 s and at least eight."""

    class Analytics:
        event_active = False

        def process(self, img, ts):
            pass

    cam = CameraConfig.model_validate(
        {
            "id": "c",
            "purpose": "test",
            "streams": {"record": "rtsp://127.0.0.1/x"},
            "detect": {"fps": 25, "width": 320, "height": 180},
        }
    )
    fs = FrameSampler(cam, Analytics(), max_queue=1000)
    fs.want_s = 60.0
    fs.start()
    try:
        info, pkts = _packets(_clip(tmp_path))
        fs.new_stream(info)
        if watched:
            fs.latest()
        for data, pts, key in pkts[:40]:
            fs.submit(data, pts, key)  # a live camera: never blocks the reader
        deadline = time.monotonic() + 30
        while (fs.busy_since is not None or not fs.q.empty()) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert fs.frames_converted >= 12
        assert (len(fs._recent) >= 8) if watched else (1 <= len(fs._recent) <= 3)
    finally:
        fs.stop()
