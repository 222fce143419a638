"""Coverage you can show: on moving footage built from the group photos, what leaves the server at
every exit (export, playback as MP4 and as JPEG, live frame, snapshot) hides the reference faces
of 12 px and up, each with a region ALIGNED with the face, in every frame; smaller faces are
reported apart (test-artifacts/coverage.json holds every figure).

How it is measured, per frame and exit:
- reference faces: YuNet through onnxruntime (score 0.6) on the raw frame;
- aligned: the regions the gate applies to that frame (the stored privacy track, moved between its
  samples; for live frames the stage's samples up to that moment) include one whose IoU with the
  face's box is >= ``ALIGNED_IOU`` (0.3). Why 0.3: the privacy stage's detector (YuNet through
  OpenCV, upscaled) and the reference box the same still face with IoU 0.6-0.85 (measured at the
  sample frames), so 0.5 would mostly measure two detectors' disagreement; 0.3 still refuses a
  neighbour's box (IoU ~0) and the crowd-wide merged region the stage stored before (which scored
  9 % aligned at 0.5). The share at IoU 0.5 is reported next to it;
- hidden: the face's detail (Laplacian variance) in what left the server fell below 30 % of the
  raw one.
The privacy stage samples at 5 fps of 10 fps footage, so every other frame lies between samples:
those frames test that the regions move with the faces instead of trailing beside them.

Every exit must reach 99 %: recorded exits apply the stored track (samples on both sides of a
frame); live exits show a frame only once the privacy stage has covered it (a sampled frame, or
one between two samples), never one newer than the newest sample, so they never guess where a face
went (measured 99.3 %, was 93.5 % when newer frames were shown with regions moved on). The live
view and a snapshot show the newest covered frame; the live H.264 feed (``live_feed``) plays every
covered frame in order. Both stay at most one sample interval behind the newest decoded frame.

Photo 17 (a dense crowd of hundreds of faces, most under 24 px; the source of the < 12 px figures)
is measured and reported under ``dense_crowd/``, not asserted: there the stage's detector and the
reference disagree more: aligned coverage of faces >= 12 px is 86-88 % (left open in #10).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

from oversight.cameras.frames import covered
from oversight.config.schema import SiteConfig
from oversight.events.bus import EventBus
from oversight.privacy.track import Sample, TrackView, iou, moved
from oversight.store.db import Database
from oversight.store.models import Segment
from privacy_helpers import YUNET, face_image, make_users, read_mp4, reference_faces, sharpness, write_mp4

ALIGNED_IOU = 0.3
STRICT_IOU = 0.5  # reported
RECORDED, LIVE = ("export", "playback_mp4", "playback_jpeg"), ("live_frame", "snapshot", "live_feed")
DENSE = "dense_crowd/"  # photo 17: hundreds of faces, most under 24 px: reported apart
SMALL = 12  # px: faces below this are reported, not held to the 99 %
FPS, DETECT_FPS = 10, 5
ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"


@pytest.mark.parametrize(
    ("a", "b", "ts", "expected"),
    [
        ([(0, 0, 10, 10)], [(4, 0, 14, 10)], 0.5, [(2, 0, 12, 10)]),  # half way: half way moved
        ([(0, 0, 10, 10)], [(4, 0, 14, 10)], 1.5, [(6, 0, 16, 10)]),  # beyond b: same speed on
        ([(0, 0, 10, 10)], [(50, 0, 60, 10)], 0.5, [(0, 0, 10, 10), (50, 0, 60, 10)]),  # no match: both
        # one face left between the samples: it moves on with the others until it is gone
        ([(0, 0, 10, 10), (20, 0, 30, 10)], [(2, 0, 12, 10)], 0.5, [(1, 0, 11, 10), (21, 0, 31, 10)]),
        # a crowd panned by 8: each face matched with its own next place, not its neighbour's
        (
            [(0, 0, 10, 10), (12, 0, 22, 10)],
            [(8, 0, 18, 10), (20, 0, 30, 10)],
            0.5,
            [(4, 0, 14, 10), (16, 0, 26, 10)],
        ),
    ],
)
def test_regions_move_between_samples(a: Any, b: Any, ts: float, expected: Any) -> None:
    got = moved(Sample(0.0, tuple(a)), Sample(1.0, tuple(b)), ts, keep_left=ts <= 1.0)
    assert [tuple(round(v, 6) for v in box) for box in got] == [tuple(float(v) for v in e) for e in expected]


def test_a_track_view_follows_a_moving_face_not_its_two_places() -> None:
    view = TrackView([Sample(0.0, ((0.0, 0.0, 0.1, 0.1),)), Sample(0.2, ((0.04, 0.0, 0.14, 0.1),))], 0.3)
    [mid] = view.boxes(0.1) or []
    assert iou(mid, (0.02, 0.0, 0.12, 0.1)) > 0.99  # the old union spanned both places: IoU 0.71
    [ahead] = view.boxes(0.3) or []
    assert iou(ahead, (0.06, 0.0, 0.16, 0.1)) > 0.99


class Tally:
    """Faces per exit and size class: seen, aligned and hidden; the worst frame of each exit."""

    def __init__(self) -> None:
        self.rows: dict[str, dict[str, list[int]]] = {}
        self.worst: dict[str, float] = {}

    def add(self, exit_: str, raw: np.ndarray, out: np.ndarray, regions: list[Any] | None) -> None:
        h, w = raw.shape[:2]
        px = [(b[0] * w, b[1] * h, b[2] * w, b[3] * h) for b in regions or []]
        ok = n = 0
        for face in reference_faces(raw):
            box = tuple(float(v) for v in face[:4])
            size = "ge12" if min(box[2] - box[0], box[3] - box[1]) >= SMALL else "lt12"
            best = (
                1.0 if regions is None else max((iou(box, r) for r in px), default=0.0)
            )  # None: blurred whole
            aligned = best >= ALIGNED_IOU
            hidden = sharpness(out, box) < 0.3 * max(sharpness(raw, box), 1e-6)
            row = self.rows.setdefault(exit_, {}).setdefault(size, [0, 0, 0, 0])
            row[0] += 1
            row[1] += aligned
            row[2] += aligned and hidden
            row[3] += best >= STRICT_IOU
            if size == "ge12":
                n += 1
                ok += aligned and hidden
        if n:
            self.worst[exit_] = min(self.worst.get(exit_, 1.0), ok / n)

    def share(self, exit_: str, size: str = "ge12") -> float:
        seen, _, good, _ = self.rows[exit_][size]
        return good / seen


def _pan(img: np.ndarray, n: int, w: int = 640, h: int = 360) -> list[np.ndarray]:
    """A smooth camera pan over a photo (no cut): right across it, bobbing up and down."""
    scale = max(w / img.shape[1], h / img.shape[0]) * 1.3
    img = cv2.resize(img, (int(img.shape[1] * scale) + 1, int(img.shape[0] * scale) + 1))
    out = []
    for i in range(n):
        x = int((img.shape[1] - w) * i / max(1, n - 1))
        y = int((img.shape[0] - h) * (0.5 + 0.5 * np.sin(i / 6)))
        out.append(np.ascontiguousarray(img[y : y + h, x : x + w]))
    return out


@pytest.fixture
def moving(db: Database, tmp_path: Path):  # type: ignore[no-untyped-def]
    """Per group photo, one camera panning over it for 2.4 s at 10 fps: its privacy stage at 5 fps
    (as ``serve`` runs it), its recorded segment and its stored track."""
    photos = {f"cam{n}": img for n in (1, 9, 17) if (img := face_image(n)) is not None}
    if not photos or not YUNET.exists():
        pytest.skip("face photos / YuNet model not present under ../shared/assets")
    from oversight.analytics.motion import MotionDetector
    from oversight.privacy.redaction import Redactor
    from oversight.privacy.track import FaceTrackStage

    cams = [
        {
            "id": cid,
            "purpose": "coverage test",
            "streams": {"record": "rtsp://10.0.0.5/stream"},
            "detect": {"fps": DETECT_FPS},
            "redaction": {"face_model_path": str(YUNET)},
        }
        for cid in photos
    ]
    cfg = SiteConfig.model_validate({"site": {"data_dir": str(tmp_path / "data")}, "cameras": cams})
    t0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    out = []
    for cam in cfg.cameras:
        frames = _pan(photos[cam.id], 24)
        motion = MotionDetector(cam.motion, 640, 360)  # where faces are searched between full scans
        root = tmp_path / "data" / "privacy"
        stage = FaceTrackStage(cam, root, Redactor(cam.redaction), moving=lambda m=motion: m.moving)
        for i in range(0, len(frames), FPS // DETECT_FPS):  # the camera's privacy stage at 5 fps
            motion.update(frames[i])
            stage.process(frames[i], t0 + timedelta(seconds=i / FPS))
        stage.close()
        clip = write_mp4(tmp_path / "data" / "recordings" / cam.id / "seg.mp4", frames, fps=FPS)
        with db.session() as s:
            end = t0 + timedelta(seconds=len(frames) / FPS)
            seg = Segment(camera_id=cam.id, start=t0, end=end, path=str(clip), bytes=1)
            s.add(seg)
            s.flush()
            s.expunge(seg)
        out.append((frames, seg, stage))
    make_users(db, olga="operator")
    return cfg, out


def _who() -> Any:
    return type("P", (), {"username": "olga", "role": "operator", "via": "session", "ip": None})()


def _recorded_exits(
    db: Database, cfg: SiteConfig, frames: list[np.ndarray], seg: Segment, tally: Tally, tag: str = ""
) -> None:
    from oversight.privacy.egress import Egress
    from oversight.web.context import AppContext

    gate = Egress(AppContext(cfg=cfg, db=db, bus=EventBus()))
    cam = seg.camera_id
    track = gate._track(cam, seg.start, seg.end)  # what every recorded exit applies
    assert track is not None

    def regions(i: int) -> list[Any] | None:
        return track.boxes((seg.start + timedelta(seconds=i / FPS)).timestamp())

    export = gate.ctx.data_dir / f"export-{cam}.mp4"
    gate.export_clip("olga", "supervisor", seg, export, [], "coverage test")
    mp4 = gate.segment(_who(), seg.id)[0]
    jpegs = [
        cv2.imdecode(np.frombuffer(j, np.uint8), cv2.IMREAD_COLOR)
        for j, _ in gate.playback(_who(), cam, seg.start, None)
    ]
    for name, outs in (
        ("export", read_mp4(export)),
        ("playback_mp4", read_mp4(mp4)),
        ("playback_jpeg", jpegs),
    ):
        assert len(outs) == len(frames), name
        for i, (raw, out) in enumerate(zip(frames, outs, strict=True)):
            tally.add(tag + name, raw, out, regions(i))


class LiveCamera:
    """A camera whose recent frames are ``recent`` (``(frame, time)``, oldest first, the newest at
    now) and whose privacy stage has ``samples``; it picks frames as a real camera does."""

    def __init__(self, recent: list[tuple[np.ndarray, datetime]], samples: list[Sample]):
        self.recent, self.samples = recent, samples

    def latest_frame(
        self, max_wait: float = 0.0, not_after: Any = None, main: bool = False, after: Any = None
    ) -> Any:
        return self.recent[-1] if not_after is None else covered(self.recent, not_after, after)

    def status(self) -> dict[str, Any]:
        return {"online": True}

    def privacy_samples(self) -> list[Sample]:
        return self.samples


def _live_exits(
    db: Database, cfg: SiteConfig, frames: list[np.ndarray], stage: Any, tally: Tally, tag: str = ""
) -> None:
    """Each frame as the newest one decoded, with the frames before it and the stage's samples up to
    it shifted to now (the live view refuses stale frames): what the view and a snapshot show
    through the gate (the newest frame the samples cover: the sampled one itself, as the stage
    samples every other frame), and what a live H.264 feed plays in order (a frame between two
    samples once the later one is known: its regions moved between them)."""
    from oversight.privacy.egress import Egress
    from oversight.store.base import utcnow
    from oversight.web.context import AppContext

    stored, cam = stage.recent(), stage.cam.id
    t0 = stored[0].ts
    played: int | None = None  # the frame the feed played last
    for i in range(len(frames)):
        now = utcnow()
        shift = now.timestamp() - (t0 + i / FPS)
        samples = [Sample(s.ts + shift, s.boxes) for s in stored if s.ts <= t0 + i / FPS + 1e-6]
        when = [now - timedelta(seconds=(i - j) / FPS) for j in range(i + 1)]
        worker = LiveCamera(list(zip(frames[: i + 1], when, strict=True)), samples)
        runtime = type("R", (), {"workers": {cam: worker}})()
        gate = Egress(AppContext(cfg=cfg, db=db, bus=EventBus(), runtime=runtime))
        view = TrackView(samples, 1.5 / DETECT_FPS)
        with gate.open_live(_who(), [cam]) as live:
            enc = live.frame(cam)
        assert enc.state == "live" and enc.ts is not None and gate.live_from_track == 1, i
        j = when.index(enc.ts)
        assert i - j <= FPS // DETECT_FPS, i  # at most one sample interval behind the newest frame
        regions = view.boxes(enc.ts.timestamp())
        tally.add(tag + "live_frame", frames[j], _jpeg(enc.jpeg), regions)
        snap = gate.still(_who(), cam)  # a snapshot: the same picture through its own gate method
        assert snap.ts == enc.ts, i
        tally.add(tag + "snapshot", frames[j], _jpeg(snap.jpeg), regions)
        # the live feed's own calls: each covered frame in order after the one it played before
        last = None if played is None else when[played]
        while (got := gate._live_source(cam, after=last))[2] is not None and got[3] != last:
            _, _, frame, ts = got
            assert ts is not None and (last is None or ts > last), i
            played, last = when.index(ts), ts
            out = gate._live_redacted(cam, worker, frame, ts)
            tally.add(tag + "live_feed", frames[played], out, view.boxes(ts.timestamp()))


def _jpeg(data: bytes) -> np.ndarray:
    return cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)


@pytest.mark.one_backend  # what it measures is pixels at each exit; the database only holds its ctx
def test_every_exit_hides_faces_with_aligned_regions(db: Database, moving) -> None:  # type: ignore[no-untyped-def]
    cfg, cameras = moving
    tally = Tally()
    for frames, seg, stage in cameras:
        tag = DENSE if seg.camera_id == "cam17" else ""  # reported, not yet held to the bar
        _recorded_exits(db, cfg, frames, seg, tally, tag)
        _live_exits(db, cfg, frames, stage, tally, tag)
    report = {
        exit_: {
            size: {
                "faces": r[0],
                f"aligned_iou{ALIGNED_IOU}": round(r[1] / r[0], 4),
                f"aligned_iou{ALIGNED_IOU}_and_hidden": round(r[2] / r[0], 4),
                f"aligned_iou{STRICT_IOU}": round(r[3] / r[0], 4),
            }
            for size, r in sorted(rows.items())
        }
        | {"worst_frame_ge12": round(tally.worst.get(exit_, 1.0), 3)}
        for exit_, rows in tally.rows.items()
    }
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "coverage.json").write_text(json.dumps(report, indent=2))
    print(json.dumps(report, indent=2))
    assert set(RECORDED + LIVE) <= set(report)
    for exit_ in RECORDED + LIVE:
        assert tally.rows[exit_]["ge12"][0] >= 400, exit_  # enough faces to speak of 99 %
        assert tally.share(exit_) >= 0.99, report[exit_]
