"""An HTTP(S) camera source: a real HTTP server (stdlib) serving an H.264 clip."""

from __future__ import annotations

import functools
import http.server
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import av
import pytest
from sqlalchemy import select

from conftest import asset
from oversight.cameras.worker import CameraWorker
from oversight.config.schema import CameraConfig
from oversight.events.bus import EventBus
from oversight.recording.storage import LocalStorage
from oversight.store.db import Database
from oversight.store.models import Segment


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def http_clip() -> Iterator[str]:
    clip = asset("video/car-detection.mp4")
    handler = functools.partial(QuietHandler, directory=str(clip.parent))
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    yield f"http://127.0.0.1:{srv.server_address[1]}/{clip.name}"
    srv.shutdown()
    srv.server_close()


def test_http_source_records_and_reconnects_when_the_stream_ends(
    db: Database, tmp_path: Path, http_clip: str
):
    cam = CameraConfig.model_validate(
        {
            "id": "web",
            "purpose": "http test",
            "streams": {"record": http_clip},
            "record": {"segment_seconds": 2},
        }
    )
    w = CameraWorker(cam, db, EventBus(), LocalStorage(tmp_path), None, backoff_initial=0.2, backoff_max=0.5)
    w.start()
    try:
        deadline = time.monotonic() + 30
        while w.status()["reconnects"] < 1 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert w.status()["reconnects"] >= 1  # the "stream" ended and was opened again
    finally:
        w.stop()
    with db.session() as s:
        segs = list(s.scalars(select(Segment).order_by(Segment.start)))
    assert len(segs) >= 3
    for seg in segs:
        assert Path(seg.path).stat().st_size == seg.bytes
        with av.open(seg.path) as c:
            assert sum(1 for _ in c.decode(video=0)) > 0
