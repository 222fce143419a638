"""A camera whose record stream browsers cannot play (MJPEG, MPEG-4 part 2) is recorded by
transcoding to H.264 when its config allows it, and clearly not recorded when it does not."""

from __future__ import annotations

import time
from pathlib import Path

import av
import numpy as np
import pytest
from sqlalchemy import select

from oversight.cameras.worker import CameraWorker
from oversight.config.schema import CameraConfig
from oversight.events.bus import EventBus
from oversight.recording.storage import LocalStorage
from oversight.store.db import Database
from oversight.store.models import Segment

FRAMES = 40


def mjpeg_clip(path: Path, codec: str = "mjpeg", frames: int = FRAMES) -> Path:
    with av.open(str(path), "w") as out:
        s = out.add_stream(codec, rate=10)
        s.width, s.height = 320, 240
        s.pix_fmt = "yuvj420p" if codec == "mjpeg" else "yuv420p"
        for i in range(frames):
            img = np.zeros((240, 320, 3), np.uint8)
            img[:, (i * 7) % 300 : (i * 7) % 300 + 20] = 255  # a moving bar
            for pkt in s.encode(av.VideoFrame.from_ndarray(img, format="bgr24")):
                out.mux(pkt)
        for pkt in s.encode():
            out.mux(pkt)
    return path


def camera(clip: Path, transcode: bool) -> CameraConfig:
    return CameraConfig.model_validate(
        {
            "id": "old-cam",
            "purpose": "recording test",
            "streams": {"record": str(clip)},
            "realtime": False,
            "transcode": transcode,
            "detect": {"enabled": False},
            "record": {"segment_seconds": 1},
        }
    )


def run_to_end(cam: CameraConfig, db: Database, tmp: Path) -> dict:
    w = CameraWorker(cam, db, EventBus(), LocalStorage(tmp), None)
    w.start()
    deadline = time.monotonic() + 60
    while w.status()["state"] not in ("ended", "offline") and time.monotonic() < deadline:
        time.sleep(0.1)
    st = w.status()
    w.stop()
    return st


@pytest.mark.parametrize("codec", ["mjpeg", "mpeg4"])
def test_transcoded_to_h264_segments_that_play_on_their_own(db: Database, tmp_path: Path, codec: str) -> None:
    clip = mjpeg_clip(tmp_path / f"cam.{codec}.avi", codec)
    st = run_to_end(camera(clip, transcode=True), db, tmp_path)
    assert st["codec"] == codec and st["transcode_cpu_s"] > 0, st
    with db.session() as s:
        segs = list(s.scalars(select(Segment).order_by(Segment.start)))
    assert len(segs) >= 3, st
    total = 0
    for seg in segs:
        with av.open(seg.path) as c:
            v = c.streams.video[0]
            assert v.codec_context.name == "h264"
            frames = list(c.decode(v))
            assert frames and frames[0].key_frame  # each file starts with a keyframe of its own
            total += len(frames)
    assert total == FRAMES


def test_without_transcode_the_camera_says_it_is_not_recorded(db: Database, tmp_path: Path) -> None:
    clip = mjpeg_clip(tmp_path / "cam.avi")
    st = run_to_end(camera(clip, transcode=False), db, tmp_path)
    assert st["recording"] is False or st["segments_written"] == 0
    assert "cannot be recorded" in st["error"] and "transcode: true" in st["error"]
    with db.session() as s:
        assert s.scalars(select(Segment)).first() is None


def test_check_config_says_which_camera_will_not_be_recorded(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from oversight.cli import app

    clip = mjpeg_clip(tmp_path / "cam.avi", frames=3)
    site = tmp_path / "site.yaml"
    cams = "".join(
        f"""
  - id: {cid}
    purpose: recording test
    streams: {{record: {url}}}
    transcode: {str(tc).lower()}"""
        for cid, url, tc in (
            ("plain", clip, False),
            ("allowed", clip, True),
            ("net", "http://10.0.0.7/video.mjpg", False),
        )
    )
    site.write_text("cameras:" + cams + "\n")
    out = CliRunner().invoke(app, ["check-config", str(site)]).output
    assert "plain: WILL NOT BE RECORDED: codec 'mjpeg'" in out and "transcode: true" in out
    assert "allowed: record stream is mjpeg: transcoded to H.264" in out
    assert "net: WILL NOT BE RECORDED" in out


@pytest.mark.assets
def test_the_demo_transcodes_footage_it_could_not_record_and_says_so(tmp_path: Path) -> None:
    from conftest import asset
    from oversight.demo.site import demo_site

    clip = asset("video/bgslibrary_video02.avi")  # MPEG-4 part 2
    cfg = demo_site(tmp_path, clip)
    assert cfg.cameras[0].transcode is True


@pytest.mark.assets
def test_mpeg4_in_avi_with_packed_b_frames_is_recorded_whole(db: Database, tmp_path: Path) -> None:
    """Its frames decode in display order but labelled with pts out of order: all still recorded."""
    from conftest import asset

    clip = asset("video/bgslibrary_video02.avi")  # 750 frames, MPEG-4 part 2, packed B-frames, N-VOPs
    st = run_to_end(camera(clip, transcode=True), db, tmp_path)
    assert st["error"] is None, st
    with db.session() as s:
        segs = list(s.scalars(select(Segment).order_by(Segment.start)))
    frames = 0
    for seg in segs:
        with av.open(seg.path) as c:
            frames += sum(1 for _ in c.decode(video=0))
    assert frames >= 740 and len(segs) >= 2


def test_a_transcoded_segment_plays_back_through_the_web_api(db: Database, tmp_path: Path) -> None:
    """What the browser's player fetches: the redacted MP4 of a segment recorded from MJPEG."""
    from web_support import client, make_ctx, tokens

    ctx = make_ctx(db, tmp_path)
    try:
        clip = mjpeg_clip(tmp_path / "cam.avi")
        cam = camera(clip, transcode=True).model_copy(update={"id": "cam0"})
        w = CameraWorker(cam, db, EventBus(), LocalStorage(ctx.data_dir), None)
        w.start()
        deadline = time.monotonic() + 60
        while w.status()["state"] != "ended" and time.monotonic() < deadline:
            time.sleep(0.1)
        w.stop()
        with db.session() as s:
            seg_id = s.scalars(select(Segment.id).where(Segment.camera_id == "cam0")).first()
        assert seg_id is not None
        op = {"Authorization": f"Bearer {tokens(db, ('operator',))['operator']}"}
        r = client(ctx).get(f"/api/segments/{seg_id}/video.mp4", headers=op)
        assert r.status_code == 200, r.text
        out = tmp_path / "played.mp4"
        out.write_bytes(r.content)
        with av.open(str(out)) as c:
            assert c.streams.video[0].codec_context.name == "h264"
            assert sum(1 for _ in c.decode(video=0)) > 0
    finally:
        ctx.runtime.stop()
