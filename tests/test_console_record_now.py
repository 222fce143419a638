""" "Record this now" on an events-only camera, end to end: a real camera runtime on a looped clip
records nothing until an operator asks, then writes segments over the asked-for span (with its
pre-roll), marks them as event footage, and puts a manual event and a bookmark on the record. A
continuously recording camera refuses (bookmark instead), and a viewer may not ask."""

from __future__ import annotations

import time
from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest
import yaml
from fastapi.testclient import TestClient
from sqlalchemy import select

from oversight.config.loader import load_config
from oversight.events.bus import EventBus
from oversight.store.models import Event, Segment
from oversight.web.app import create_app
from oversight.web.context import AppContext
from web_support import add_users, login

FPS = 10


def _clip(path: Path, seconds: int = 6) -> Path:
    import av

    with av.open(str(path), "w") as out:
        st = out.add_stream("libx264", rate=FPS)
        st.width, st.height, st.pix_fmt = 160, 120, "yuv420p"
        st.options = {"preset": "ultrafast", "g": str(FPS)}  # a keyframe every second
        for i in range(seconds * FPS):
            img = np.zeros((120, 160, 3), np.uint8)
            img[40:80, (i * 2) % 140 : (i * 2) % 140 + 20] = 255
            for pkt in st.encode(av.VideoFrame.from_ndarray(img, format="bgr24")):
                out.mux(pkt)
        for pkt in st.encode():
            out.mux(pkt)
    return path


def _camera(cid: str, clip: Path, mode: str) -> dict:
    return {
        "id": cid,
        "name": cid.title(),
        "purpose": "traffic safety on the square",
        "streams": {"record": str(clip)},
        "loop": True,
        "realtime": True,
        "detect": {"enabled": False, "detector": "none", "width": 160, "height": 120},
        "record": {"mode": mode, "segment_seconds": 1, "pre_roll": 1, "post_roll": 1},
    }


@pytest.fixture
def running(db, tmp_path):
    from oversight.runtime import Runtime

    clip = _clip(tmp_path / "clip.mp4")
    path = tmp_path / "site.yaml"
    site = {"name": "T", "timezone": "UTC", "data_dir": str(tmp_path / "var")}
    cams = [_camera("gate", clip, "events"), _camera("square", clip, "continuous")]
    path.write_text(yaml.safe_dump({"site": site, "cameras": cams}, sort_keys=False))
    cfg = load_config(path)
    bus = EventBus()
    runtime = Runtime(cfg, db, bus, retention_interval_s=0)
    ctx = AppContext(cfg=cfg, db=db, bus=bus, runtime=runtime, config_path=path, cache_dir=tmp_path / "c")
    add_users(db, ("viewer", "operator"))
    runtime.start()
    try:
        yield ctx
    finally:
        runtime.stop()


def _segments(ctx: AppContext, cam: str) -> list[Segment]:
    with ctx.db.session() as s:
        return list(s.scalars(select(Segment).where(Segment.camera_id == cam).order_by(Segment.start)))


def test_record_now_on_an_events_only_camera(running):
    ctx = running
    app = create_app(ctx)
    op, viewer = TestClient(app), TestClient(app)
    op.headers.update(login(op, "operator"))
    viewer.headers.update(login(viewer, "viewer"))
    deadline = time.monotonic() + 20
    while not _segments(ctx, "square") and time.monotonic() < deadline:
        time.sleep(0.3)
    assert _segments(ctx, "square"), "the continuous camera never recorded: the clip does not play"
    assert _segments(ctx, "gate") == []  # events only, and no event yet

    assert viewer.post("/api/cameras/gate/record-now", json={"seconds": 5}).status_code == 403
    assert op.post("/api/cameras/square/record-now", json={"seconds": 5}).status_code == 409
    assert op.post("/api/cameras/nope/record-now", json={"seconds": 5}).status_code == 404
    r = op.post("/api/cameras/gate/record-now", json={"seconds": 5, "note": "man climbing the fence"})
    assert r.status_code == 201, r.text
    got = r.json()
    while time.monotonic() < deadline + 15 and not _covers(ctx, got):
        time.sleep(0.3)
    segs = _segments(ctx, "gate")
    assert segs and all(s.has_event for s in segs)
    assert _covers(ctx, got), [(s.start, s.end) for s in segs]
    with ctx.db.session() as s:
        ev = s.get(Event, got["event_id"])
        assert ev is not None and ev.label == "manual" and ev.data["by"] == "operator"
    found = op.get("/api/bookmarks", params={"q": "fence", "camera_id": "gate"}).json()
    assert [b["id"] for b in found] == [got["bookmark"]["id"]]


def _covers(ctx: AppContext, got: dict) -> bool:
    """The recorded spans cover the asked-for window, from the moment of asking to its end."""
    from datetime import datetime

    start = datetime.fromisoformat(got["bookmark"]["start"]) + timedelta(seconds=1)  # after pre-roll
    end = datetime.fromisoformat(got["until"])
    segs = _segments(ctx, "gate")
    return bool(segs) and segs[0].start <= start + timedelta(seconds=1) and segs[-1].end >= end
