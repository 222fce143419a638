"""Bad sources get a clear status error; the runtime keeps recording the good cameras."""

from __future__ import annotations

import random
import socket
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import av
from sqlalchemy import select

from conftest import asset
from oversight.config.schema import SiteConfig
from oversight.events.bus import EventBus
from oversight.runtime import Runtime
from oversight.store.db import Database
from oversight.store.models import RecordingGap, Segment

FAST = {"backoff_initial": 0.2, "backoff_max": 1.0, "open_timeout": 3.0, "read_timeout": 3.0}


def wait_for(cond: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def site(tmp_path: Path, bad_url: str) -> SiteConfig:
    good = asset("video/one-by-one-person-detection.mp4")  # keyframe every second
    cams: list[dict[str, Any]] = [
        {"id": "bad", "purpose": "broken source", "streams": {"record": bad_url}},
        {
            "id": "good",
            "purpose": "working source",
            "streams": {"record": f"file://{good}"},
            "loop": True,
            "realtime": True,
            "record": {"segment_seconds": 1},
        },
    ]
    return SiteConfig.model_validate({"site": {"data_dir": str(tmp_path)}, "cameras": cams})


def run_pair(db: Database, tmp_path: Path, bad_url: str) -> dict[str, Any]:
    rt = Runtime(site(tmp_path, bad_url), db, EventBus(), worker_options=FAST, retention_interval_s=0)
    rt.start()
    try:
        wait_for(lambda: rt.workers["good"].recorder.segments_written >= 2, 30, "good camera segments")
        wait_for(lambda: rt.workers["bad"].status()["reconnects"] >= 1, 30, "bad camera retried")
        statuses = {s["id"]: s for s in rt.status()}
        assert rt.workers["good"].alive() and rt.workers["bad"].alive()  # the bad one keeps retrying
    finally:
        rt.stop()
    with db.session() as s:
        segs = list(s.scalars(select(Segment)))
        gaps = list(s.scalars(select(RecordingGap).where(RecordingGap.camera_id == "bad")))
    assert segs and {x.camera_id for x in segs} == {"good"}
    for seg in segs:
        assert Path(seg.path).stat().st_size == seg.bytes
        with av.open(seg.path) as c:
            assert sum(1 for _ in c.decode(video=0)) > 0
    assert statuses["good"]["online"] and statuses["good"]["error"] is None
    bad = statuses["bad"]
    assert not bad["online"] and bad["state"] == "offline" and bad["error"]
    assert len(gaps) == 1 and gaps[0].end is None
    return bad


def test_random_bytes_file(db: Database, tmp_path: Path):
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(random.Random(1234).randbytes(200_000))  # fixed seed: the same junk every run
    bad = run_pair(db, tmp_path, str(junk))
    assert ("cannot open" in bad["error"] or "no video" in bad["error"]) and "junk.mp4" in bad["error"]


def test_truncated_mp4(db: Database, tmp_path: Path):
    src = asset("video/one-by-one-person-detection.mp4")
    cut = tmp_path / "cut.mp4"
    data = src.read_bytes()
    cut.write_bytes(data[: len(data) // 2])
    bad = run_pair(db, tmp_path, str(cut))
    assert "cut.mp4" in bad["error"]


def test_missing_file(db: Database, tmp_path: Path):
    bad = run_pair(db, tmp_path, str(tmp_path / "nope.mp4"))
    assert "not found" in bad["error"]


def test_refused_rtsp(db: Database, tmp_path: Path):
    bad = run_pair(db, tmp_path, f"rtsp://user:secret@127.0.0.1:{free_port()}/stream")
    assert "cannot open" in bad["error"] and "secret" not in bad["error"]
