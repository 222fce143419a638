"""The privacy track: faces found once at ingest, stored beside the recording, applied on the way out."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sqlalchemy import select

from oversight.config.schema import SiteConfig
from oversight.events.bus import EventBus
from oversight.privacy.track import Sample, TrackView, TrackWriter, merge_boxes, read_track
from oversight.store.db import Database
from oversight.store.models import Segment
from privacy_helpers import (
    YUNET,
    face_image,
    fraction_hidden,
    panned_frames,
    read_mp4,
    reference_faces,
    sharpness,
    write_mp4,
)

SRC = Path(__file__).resolve().parents[1] / "src"


@pytest.mark.parametrize(
    ("boxes", "grow", "expected"),
    [
        ([], 0.0, []),
        ([(0, 0, 10, 10)], 0.0, [(0, 0, 10, 10)]),
        ([(0, 0, 10, 10), (5, 5, 15, 15)], 0.0, [(0, 0, 15, 15)]),  # overlapping: one region
        ([(0, 0, 10, 10), (20, 0, 30, 10)], 0.0, [(0, 0, 10, 10), (20, 0, 30, 10)]),  # apart: two
        ([(0, 0, 10, 10), (12, 0, 22, 10)], 0.2, [(-2, -2, 24, 12)]),  # close once grown: one
        ([(0, 0, 4, 4)] * 50, 0.0, [(0, 0, 4, 4)]),  # 50 carried copies of one face: one region
        ([(0, 0, 10, 10), (30, 0, 40, 10), (8, 0, 32, 10)], 0.0, [(0, 0, 40, 10)]),  # a chain
    ],
)
def test_merge_boxes(boxes: list[Any], grow: float, expected: list[Any]) -> None:
    assert sorted(merge_boxes(boxes, grow)) == expected


def test_a_frame_far_from_every_sample_has_no_regions_and_is_blurred_whole() -> None:
    view = TrackView([Sample(10.0, ((0.1, 0.1, 0.2, 0.2),)), Sample(10.2, ((0.3, 0.1, 0.4, 0.2),))], 0.3)
    # between: where it was, where it went, and (the same face?) half way (two box widths moved)
    between = sorted(tuple(round(v, 6) for v in b) for b in view.boxes(10.1) or [])
    assert between == [(0.1, 0.1, 0.2, 0.2), (0.2, 0.1, 0.3, 0.2), (0.3, 0.1, 0.4, 0.2)]
    after = sorted(tuple(round(v, 6) for v in b) for b in view.boxes(10.45) or [])
    assert after == [(0.3, 0.1, 0.4, 0.2), (0.55, 0.1, 0.65, 0.2)]  # last seen, and on at its speed
    assert view.boxes(11.0) is None and view.boxes(9.0) is None
    rng = np.random.default_rng(0)
    img = rng.integers(0, 255, (100, 200, 3), dtype=np.uint8)
    whole = view.apply(img, 11.0)
    assert np.abs(np.diff(whole.astype(int), axis=1)).mean() < 10  # no detail left anywhere
    part = view.apply(img, 10.0)
    assert np.array_equal(part[60:, :], img[60:, :])  # outside the regions: untouched
    assert sharpness(part, (20, 10, 40, 20)) < 0.2 * sharpness(img, (20, 10, 40, 20))


def test_the_track_survives_kill_9(tmp_path: Path) -> None:
    """Lines are flushed as written: after SIGKILL every acknowledged sample reads back."""
    code = (
        "import sys, time\n"
        "from oversight.privacy.track import TrackWriter\n"
        "w = TrackWriter(sys.argv[1], 'cam')\n"
        "t = 1_800_000_000.0\n"
        "for i in range(10**9):\n"
        "    w.append(t + i * 0.2, [(1, 2, 30, 40)], (100, 100))\n"
        "    if i % 50 == 0:\n"
        "        print(i, flush=True)\n"
    )
    p = subprocess.Popen(
        [sys.executable, "-c", code, str(tmp_path)],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(SRC)},
    )
    assert p.stdout is not None
    acked = 0
    while acked < 2000:
        acked = int(p.stdout.readline())
    os.kill(p.pid, signal.SIGKILL)
    p.wait()
    samples = read_track(tmp_path, "cam", 1_800_000_000.0, 1_800_000_000.0 + 10**6)
    assert len(samples) >= acked + 1
    assert samples[0].boxes == ((0.01, 0.02, 0.3, 0.4),)
    assert [s.ts for s in samples] == sorted(s.ts for s in samples)


def test_torn_lines_are_skipped(tmp_path: Path) -> None:
    w = TrackWriter(tmp_path, "cam")
    w.append(1_800_000_000.0, [(0, 0, 10, 10)], (100, 100))
    w.close()
    (f,) = list((tmp_path / "cam").glob("*.jsonl"))
    with f.open("a") as fh:
        fh.write('{"t": 1800000000.2, "b": [[0.1, 0')  # a crash mid-line
    assert len(read_track(tmp_path, "cam", 1_799_999_999.0, 1_800_000_001.0)) == 1


class Counting:
    """A redactor that counts calls: the stored track must make it unnecessary."""

    calls = 0

    def __init__(self, cfg: Any):
        pass

    def redact(self, frame: np.ndarray, tracks: Any = None) -> np.ndarray:
        Counting.calls += 1
        return frame.copy()


def test_faces_found_once_at_ingest_redact_the_export_and_segments(db: Database, tmp_path: Path) -> None:
    from oversight.privacy.egress import Egress, OfflineContext
    from oversight.runtime import Runtime

    raw = face_image(1)
    if raw is None or not YUNET.exists():
        pytest.skip("face photos / YuNet model not present under ../shared/assets")
    frames = panned_frames(raw, 40, 480, 320, step=4)
    clip = write_mp4(tmp_path / "clip.mp4", frames, fps=10)
    cam = {
        "id": "cam1",
        "purpose": "privacy track test",
        "streams": {"record": str(clip)},
        "realtime": False,
        "record": {"segment_seconds": 1},
        "detect": {"fps": 10, "width": 480, "height": 320},
        "redaction": {"face_model_path": str(YUNET)},
    }
    cfg = SiteConfig.model_validate({"site": {"data_dir": str(tmp_path / "data")}, "cameras": [cam]})
    rt = Runtime(
        cfg, db, EventBus(), None, retention_interval_s=0, watchdog_interval_s=0, privacy_factory="default"
    )
    rt.start()
    try:
        deadline = time.monotonic() + 60
        while rt.workers["cam1"].state != "ended" and time.monotonic() < deadline:
            time.sleep(0.1)
        assert rt.workers["cam1"].state == "ended"
    finally:
        rt.stop()
    with db.session() as s:
        segs = list(s.scalars(select(Segment).order_by(Segment.start)))
        for seg in segs:
            s.expunge(seg)
    assert segs
    samples = read_track(
        tmp_path / "data" / "privacy", "cam1", segs[0].start.timestamp() - 1, segs[-1].end.timestamp() + 1
    )
    assert len(samples) >= 30 and all(s.boxes for s in samples)  # every sampled frame has its faces

    # a restart later: a fresh gate reads the stored track; no detector runs on the way out
    Counting.calls = 0
    gate = Egress(OfflineContext(cfg, db, Counting))
    seg = segs[0]
    out = tmp_path / "export.mp4"
    assert (
        gate.export_clip("sue", "supervisor", seg, out, [], "test export of the track") == []
    )  # all redacted
    got = read_mp4(out)
    assert Counting.calls == 0 and len(got) >= 5
    offset = round((seg.start - segs[0].start).total_seconds() * 10)
    for i, img in enumerate(got):
        ref = frames[offset + i]
        assert fraction_hidden(ref, img, reference_faces(ref)) >= 0.95, i

    # fail closed: without samples near a frame, the frame is blurred whole
    for f in (tmp_path / "data" / "privacy" / "cam1").glob("*.jsonl"):
        keep = [
            ln
            for ln in f.read_text().splitlines()
            if float(ln.split('"t":')[1].split(",")[0]) < seg.start.timestamp() + 0.3
        ]
        f.write_text("\n".join(keep) + "\n")
    out2 = tmp_path / "export2.mp4"
    gate.export_clip("sue", "supervisor", seg, out2, [], "test export of the track")
    late = read_mp4(out2)[-1]
    ref = frames[offset + len(got) - 1]
    assert sharpness(late, (0, 0, 480, 320)) < 0.2 * sharpness(ref, (0, 0, 480, 320))
    assert Counting.calls == 0


def test_live_frames_use_the_privacy_stage_regions_and_detect_only_without_them(
    db: Database, tmp_path: Path
) -> None:
    from datetime import UTC, datetime, timedelta

    import cv2

    from oversight.privacy.egress import Egress
    from oversight.web.context import AppContext
    from privacy_helpers import make_users, site

    raw = face_image(1)
    if raw is None or not YUNET.exists():
        pytest.skip("face photos / YuNet model not present under ../shared/assets")
    frame = panned_frames(raw, 1, 640, 360)[0]
    h, w = frame.shape[:2]
    faces = reference_faces(frame)
    now = datetime.now(UTC)

    class Worker:
        samples: list[Sample] = []

        def latest_frame(self) -> tuple[np.ndarray, datetime]:
            return frame, now

        def status(self) -> dict[str, Any]:
            return {"online": True}

        def privacy_samples(self) -> list[Sample]:
            return self.samples

    worker = Worker()
    make_users(db, olga="operator")
    ctx = AppContext(
        cfg=site(tmp_path, face_model_path=str(YUNET)),
        db=db,
        bus=EventBus(),
        runtime=type("R", (), {"workers": {"cam1": worker}})(),
        redactor_factory=Counting,
    )
    who = type("P", (), {"username": "olga", "role": "operator", "via": "session", "ip": None})()
    norm = tuple((b[0] / w, b[1] / h, b[2] / w, b[3] / h) for b in faces[:, :4])
    worker.samples = [Sample(now.timestamp() - 0.1, norm)]  # the frame is newer: never guessed ahead
    Counting.calls = 0
    with Egress(ctx).open_live(who, ["cam1"]) as live:
        live.frame("cam1")
    assert Counting.calls == 1  # the detector on the frame itself, not the sample's regions moved on
    worker.samples = [Sample(now.timestamp() - 0.2, norm), Sample(now.timestamp(), norm)]
    Counting.calls = 0
    gate = Egress(ctx)
    with gate.open_live(who, ["cam1"]) as live:
        img = cv2.imdecode(np.frombuffer(live.frame("cam1").jpeg, np.uint8), cv2.IMREAD_COLOR)
    assert Counting.calls == 0 and gate.live_from_track == 1  # no detector for this frame
    assert fraction_hidden(frame, img, faces) >= 0.95
    # a camera whose newest frame is ahead of the stage: the view shows the newest covered frame
    older = now - timedelta(seconds=0.4)
    frames = {older: frame, now: np.zeros_like(frame)}

    def latest_frame(max_wait: float = 0.0, not_after: Any = None) -> Any:
        fit = [t for t in frames if not_after is None or t <= not_after]
        return (frames[max(fit)], max(fit)) if fit else None

    worker.latest_frame = latest_frame  # type: ignore[method-assign]
    worker.samples = [Sample(older.timestamp(), norm)]
    gate = Egress(ctx)
    with gate.open_live(who, ["cam1"]) as live:
        enc = live.frame("cam1")
    assert enc.ts == older and Counting.calls == 0  # the covered frame, no detector, no guessing
    img = cv2.imdecode(np.frombuffer(enc.jpeg, np.uint8), cv2.IMREAD_COLOR)
    assert fraction_hidden(frame, img, faces) >= 0.95
    worker.samples = [Sample(now.timestamp() - 30, norm)]  # nothing covered: the view says stalled
    with Egress(ctx).open_live(who, ["cam1"]) as live:
        assert live.frame("cam1").state == "stalled"
    del worker.latest_frame  # a worker that cannot pick a covered frame: detect on the newest
    worker.samples = [Sample(now.timestamp() - 30, norm)]
    gate = Egress(ctx)
    with gate.open_live(who, ["cam1"]) as live:
        live.frame("cam1")
    assert Counting.calls == 1 and gate.live_detected == 1


def test_live_frames_are_picked_covered_and_a_feed_plays_them_in_order() -> None:
    from datetime import UTC, datetime, timedelta

    from oversight.cameras.frames import IN_ORDER_S, covered

    t = [datetime(2026, 3, 1, tzinfo=UTC) + timedelta(seconds=k / 10) for k in range(10)]
    recent = [(np.zeros((2, 2, 3), np.uint8), x) for x in t]
    assert covered(recent, t[4])[1] == t[4]  # type: ignore[index]  # the newest the samples cover
    assert covered(recent, t[4], after=t[1])[1] == t[2]  # type: ignore[index]  # the next, in order
    assert covered(recent, t[4], after=t[4])[1] == t[4]  # type: ignore[index]  # nothing new: the same
    assert IN_ORDER_S < 0.8
    assert covered(recent, t[9], after=t[0])[1] == t[9]  # type: ignore[index]  # far behind: jumps
    assert covered(recent, t[0] - timedelta(seconds=1)) is None  # nothing covered yet: nothing shown


@pytest.mark.parametrize(
    ("quiet", "previous_faces", "detector_runs"),
    [
        (False, False, True),  # motion or people: always search
        (True, False, False),  # a quiet, empty scene: an empty sample, no detector
        (True, True, True),  # quiet, but a face was there: keep searching (a seated person)
    ],
)
def test_the_privacy_stage_skips_the_detector_only_on_quiet_empty_scenes(
    tmp_path: Path, quiet: bool, previous_faces: bool, detector_runs: bool
) -> None:
    from datetime import UTC, datetime

    from oversight.config.schema import CameraConfig
    from oversight.privacy.track import FaceTrackStage

    calls: list[int] = []

    class Finder:
        def regions(self, frame: Any, tracks: Any, size: Any, interest: Any = None) -> list[Any]:
            calls.append(1)
            return [(1.0, 1.0, 5.0, 5.0)] if previous_faces and len(calls) == 1 else []

    cam = CameraConfig.model_validate({"id": "c", "purpose": "privacy test", "streams": {"record": "x.mp4"}})
    stage = FaceTrackStage(cam, tmp_path, Finder(), quiet=lambda: quiet)
    if previous_faces:
        stage.quiet = lambda: False
        stage.process(np.zeros((10, 10, 3), np.uint8), datetime.now(UTC))
        stage.quiet = lambda: quiet
        calls.clear()
    stage.process(np.zeros((10, 10, 3), np.uint8), datetime.now(UTC))
    stage.close()
    assert (len(calls) == 1) is detector_runs
    assert len(stage.recent()) == (2 if previous_faces else 1)  # a sample is written either way


def test_large_faces_are_hidden_as_well_as_small_ones() -> None:
    """Pixelation has at most a few cells a side: a 150 px face gets no more detail than a 20 px one."""
    from oversight.privacy.face_detectors import YuNetDetector

    raw = face_image(9)  # a few large faces
    if raw is None or not YUNET.exists():
        pytest.skip("face photos / YuNet model not present under ../shared/assets")
    import cv2

    img = cv2.resize(raw, (1280, 720))
    faces = reference_faces(img)
    assert len(faces) >= 3 and float(np.max(faces[:, 2] - faces[:, 0])) > 60
    h, w = img.shape[:2]
    norm = tuple((b[0] / w, b[1] / h, b[2] / w, b[3] / h) for b in faces[:, :4])
    out = TrackView([Sample(100.0, norm)], 0.3).apply(img, 100.0)
    assert fraction_hidden(img, out, faces) == 1.0
    found = YuNetDetector(str(YUNET), score=0.6).detect(out)
    assert len(found) <= len(faces) * 0.05  # the reference detector finds (almost) none of them


def test_retention_prunes_track_hours_older_than_the_footage(db: Database, tmp_path: Path) -> None:
    from datetime import timedelta

    from oversight.runtime import Runtime
    from oversight.store.base import utcnow

    cam = {"id": "cam1", "purpose": "privacy track test", "streams": {"record": "x.mp4"}}
    cfg = SiteConfig.model_validate({"site": {"data_dir": str(tmp_path / "data")}, "cameras": [cam]})
    root = tmp_path / "data" / "privacy"
    now = utcnow()
    w = TrackWriter(root, "cam1")
    for hours in (3, 1, 0):
        w.append((now - timedelta(hours=hours)).timestamp(), [(0, 0, 1, 1)], (10, 10))
    w.close()
    seg = tmp_path / "seg.mp4"
    seg.write_bytes(b"x")
    with db.session() as s:
        start = now - timedelta(minutes=90)  # the 1-hour-old sample's hour ends after it, whatever the minute
        s.add(Segment(camera_id="cam1", start=start, end=now, path=str(seg), bytes=1, has_event=False))
    Runtime(cfg, db, EventBus(), None, retention_interval_s=0, watchdog_interval_s=0).run_retention()
    left = read_track(root, "cam1", (now - timedelta(hours=4)).timestamp(), now.timestamp() + 1)
    assert [round((now.timestamp() - s.ts) / 3600) for s in left] == [1, 0]  # the 3-hour-old hour went
