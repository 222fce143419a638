"""Redaction at every exit of pixels: real faces (asset photos, panned into moving footage) and
generated frames; live frame, snapshot, thumbnail, playback (MJPEG and MP4 segment) and export."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

from oversight.config.models import DISABLE_ENV
from oversight.config.schema import RedactionConfig
from oversight.events.bus import EventBus
from oversight.privacy.face_detectors import NoFaceDetector, find_haar_cascade
from oversight.privacy.redaction import Redactor
from oversight.store.db import Database
from oversight.store.models import Event, Segment
from privacy_helpers import (
    YUNET,
    client,
    face_image,
    fraction_hidden,
    make_users,
    panned_frames,
    read_mp4,
    reference_faces,
    sharpness,
    site,
    synthetic_face_frame,
    write_mp4,
)

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def _photo(n: int = 1) -> np.ndarray:
    img = face_image(n)
    if img is None or not YUNET.exists():
        pytest.skip("face photos / YuNet model not present under ../shared/assets")
    return img


class OneShot:
    """A detector that sees a face only on the first frame (a turned head afterwards)."""

    name = "oneshot"

    def __init__(self, box: tuple[int, int, int, int]):
        self.box, self.calls = box, 0

    def detect(self, frame: np.ndarray) -> np.ndarray:
        self.calls += 1
        if self.calls == 1:
            return np.array([[*self.box, 0.9]], np.float32)
        return np.zeros((0, 5), np.float32)


# ---------------------------------------------------------------- the redactor itself


@pytest.mark.parametrize("n", [1, 9])
def test_real_faces_hidden_with_yunet(n: int) -> None:
    raw = _photo(n)
    before = raw.copy()
    faces = reference_faces(raw)
    assert len(faces) >= 5
    out = Redactor(RedactionConfig(face_model_path=str(YUNET))).redact(raw)
    assert np.array_equal(raw, before), "the raw frame must never be modified"
    assert fraction_hidden(raw, out, faces) >= 0.95


def test_haar_fallback_redacts_without_model(monkeypatch: pytest.MonkeyPatch) -> None:
    raw = _photo(1)
    if find_haar_cascade() is None:
        pytest.skip("no Haar cascade installed (opencv-data)")
    monkeypatch.setenv(DISABLE_ENV, "1")  # as if oversight-models were not installed
    r = Redactor(RedactionConfig())
    assert r.detector_name == "haar"
    assert fraction_hidden(raw, r.redact(raw), reference_faces(raw)) >= 0.75


def test_tracks_keep_heads_blurred_between_detections() -> None:
    img, (x1, y1, x2, y2) = synthetic_face_frame()
    r = Redactor(RedactionConfig(), detector=NoFaceDetector())
    track = {"label": "person", "box": (x1, y1, x2, y2), "track_id": 3}
    out = r.redact(img, [track])
    head = (x1, y1, x2, y1 + (y2 - y1) // 5)
    legs = (x1, y2 - 40, x2, y2)
    assert sharpness(out, head) < 0.1 * sharpness(img, head)
    assert sharpness(out, legs) == pytest.approx(sharpness(img, legs))
    # boxes given at detect resolution are scaled to the frame
    big = cv2.resize(img, (640, 480), interpolation=cv2.INTER_NEAREST)
    out2 = r.redact(big, [track], tracks_size=(320, 240))
    assert sharpness(out2, [v * 2 for v in head]) < 0.1 * sharpness(big, [v * 2 for v in head])
    # cars are not persons
    assert np.array_equal(r.redact(img, [{"label": "car", "box": (x1, y1, x2, y2)}]), img)


def test_whole_person_option_and_pixelate() -> None:
    img, box = synthetic_face_frame()
    out = Redactor(RedactionConfig(persons=True, style="pixelate"), detector=NoFaceDetector()).redact(
        img, [("person", box)]
    )
    assert sharpness(out, box) < 0.1 * sharpness(img, box)


def test_last_face_boxes_carried_for_a_few_frames() -> None:
    img, (x1, y1, x2, y2) = synthetic_face_frame()
    face = (x1, y1, x2, y1 + 50)
    r = Redactor(RedactionConfig(), detector=OneShot(face), carry_frames=3)
    hidden = [sharpness(r.redact(img), face) < 0.1 * sharpness(img, face) for _ in range(6)]
    assert hidden == [True, True, True, True, False, False]


def test_redact_video_moving_faces(tmp_path: Path) -> None:
    """The gate's transcode with the detector (what export and playback fall back to without a
    stored privacy track) hides moving faces and leaves the recording untouched."""
    from oversight.privacy.egress import _transcode

    frames = panned_frames(_photo(1), 6, 480, 320)
    src = write_mp4(tmp_path / "raw.mp4", frames)
    raw_bytes = src.read_bytes()
    redactor = Redactor(RedactionConfig(face_model_path=str(YUNET)))
    n = _transcode(src, tmp_path / "out.mp4", lambda img, _t: redactor.redact(img), crf=23)
    assert n == 6 and src.read_bytes() == raw_bytes
    out = read_mp4(tmp_path / "out.mp4")
    raw = read_mp4(src)
    assert len(out) == 6
    for r, o in zip(raw, out, strict=True):
        assert fraction_hidden(r, o, reference_faces(r)) >= 0.95


# ---------------------------------------------------------------- every exit through the web app


class FakeWorker:
    """A live camera showing ``frame``; its time is now unless ``ts`` is given (a stalled camera)."""

    def __init__(self, frame: np.ndarray, ts: datetime | None = None, tracks: list[Any] | None = None):
        self.frame, self.ts = frame, ts
        self.analytics = type("A", (), {"tracks": tracks or []})()

    def latest_frame(self) -> tuple[np.ndarray, datetime]:
        return self.frame, self.ts or datetime.now(UTC)

    def status(self) -> dict[str, Any]:
        return {
            "id": "cam1",
            "online": True,
            "last_frame_at": (self.ts or datetime.now(UTC)).isoformat(),
            "fps": 10,
            "bitrate_kbps": 0,
            "reconnects": 0,
            "error": None,
        }


class FakeRuntime:
    def __init__(self, workers: dict[str, FakeWorker]):
        self.workers = workers

    def status(self) -> dict[str, Any]:
        return {k: w.status() for k, w in self.workers.items()}


def _decode(jpeg: bytes) -> np.ndarray:
    img = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
    assert img is not None
    return img


@pytest.fixture
def web(db: Database, tmp_path: Path):  # type: ignore[no-untyped-def]
    from oversight.web.app import create_app
    from oversight.web.context import AppContext

    raw = _photo(1)
    raw = raw[: raw.shape[0] // 2 * 2, : raw.shape[1] // 2 * 2].copy()
    cfg = site(tmp_path, face_model_path=str(YUNET))
    make_users(db, olga="operator", sue="supervisor", adam="admin")
    # recorded footage: a moving clip of the photo, one segment
    frames = panned_frames(raw, 5, 480, 320, step=4)
    seg_path = write_mp4(tmp_path / "data" / "recordings" / "cam1" / "seg.mp4", frames)
    snap = tmp_path / "snap.jpg"
    cv2.imwrite(str(snap), raw, [int(cv2.IMWRITE_JPEG_QUALITY), 95])
    with db.session() as s:
        seg = Segment(
            camera_id="cam1",
            start=T0,
            end=T0 + timedelta(seconds=0.5),
            path=str(seg_path),
            bytes=seg_path.stat().st_size,
            has_event=False,
        )
        ev = Event(
            camera_id="cam1", label="person", start=T0, confidence=0.9, snapshot_path=str(snap), data={}
        )
        s.add_all([seg, ev])
        s.flush()
        ids = {"segment": seg.id, "event": ev.id}
    ctx = AppContext(
        cfg=cfg,
        db=db,
        bus=EventBus(),
        runtime=FakeRuntime({"cam1": FakeWorker(raw)}),
        cache_dir=tmp_path / "cache",
    )
    return {"app": create_app(ctx), "raw": raw, "frames": frames, "ids": ids, "ctx": ctx, "tmp": tmp_path}


def test_live_snapshot_redacted(web) -> None:  # type: ignore[no-untyped-def]
    r = client(web["app"], "olga").get("/api/cameras/cam1/snapshot.jpg")
    assert r.status_code == 200
    raw = web["raw"]
    assert fraction_hidden(raw, _decode(r.content), reference_faces(raw)) >= 0.95


def test_config_snapshot_redacted_for_admin(web) -> None:  # type: ignore[no-untyped-def]
    r = client(web["app"], "adam").get("/api/config/cameras/cam1/snapshot.jpg")
    if r.status_code == 404 and "no camera" not in r.text:
        pytest.skip("config snapshot route not present")
    assert r.status_code == 200, r.text
    raw = web["raw"]
    assert fraction_hidden(raw, _decode(r.content), reference_faces(raw)) >= 0.95


def test_event_thumbnail_redacted(web) -> None:  # type: ignore[no-untyped-def]
    r = client(web["app"], "olga").get(f"/api/events/{web['ids']['event']}/thumbnail.jpg")
    assert r.status_code == 200, r.text
    raw = web["raw"]
    assert fraction_hidden(raw, _decode(r.content), reference_faces(raw)) >= 0.95


def test_segment_playback_redacted(web, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    r = client(web["app"], "olga").get(f"/api/segments/{web['ids']['segment']}/video.mp4")
    assert r.status_code == 200, r.text
    (tmp_path / "got.mp4").write_bytes(r.content)
    got = read_mp4(tmp_path / "got.mp4")
    assert len(got) == len(web["frames"])
    for raw, out in zip(web["frames"], got, strict=True):
        assert fraction_hidden(raw, out, reference_faces(raw)) >= 0.95


def test_mjpeg_playback_redacted(web) -> None:  # type: ignore[no-untyped-def]
    c = client(web["app"], "olga")
    r = c.get("/api/cameras/cam1/playback.mjpeg", params={"start": T0.isoformat(), "speed": 8})
    assert r.status_code == 200
    parts = [p for p in r.content.split(b"\xff\xd8")[1:]]
    jpegs = [_decode(b"\xff\xd8" + p[: p.rfind(b"\xff\xd9") + 2]) for p in parts]
    assert len(jpegs) >= 2
    raw0 = cv2.resize(web["frames"][0], (jpegs[0].shape[1], jpegs[0].shape[0]))
    assert fraction_hidden(raw0, jpegs[0], reference_faces(raw0)) >= 0.95


def test_reveal_unredacts_only_for_requester_and_window(web) -> None:  # type: ignore[no-untyped-def]
    app = web["app"]
    olga, sue = client(app, "olga"), client(app, "sue")
    body = {
        "camera_ids": ["cam1"],
        "start": (T0 - timedelta(minutes=1)).isoformat(),
        "end": (T0 + timedelta(minutes=1)).isoformat(),
        "reason": "robbery at the kiosk, identify suspect",
        "reference": "CASE-7",
    }
    rid = olga.post("/api/reveals", json=body).json()["id"]
    raw = web["raw"]
    faces = reference_faces(raw)
    thumb = f"/api/events/{web['ids']['event']}/thumbnail.jpg"
    assert fraction_hidden(raw, _decode(olga.get(thumb).content), faces) >= 0.95  # pending: still redacted
    assert sue.post(f"/api/reveals/{rid}/approve", json={"valid_hours": 1}).status_code == 200
    out = _decode(olga.get(thumb).content)
    assert fraction_hidden(raw, out, faces) < 0.1  # revealed to the requester
    assert fraction_hidden(raw, _decode(sue.get(thumb).content), faces) >= 0.95  # not to the approver
    seg = olga.get(f"/api/segments/{web['ids']['segment']}/video.mp4")
    assert seg.status_code == 200
    from oversight.privacy import audit

    with web["ctx"].db.session() as s:
        assert any(e.action == "reveal.view" and e.actor == "olga" for e in audit.query(s))


def test_bench_redaction_runs_and_measures(tmp_path: Path) -> None:
    from oversight.bench.redaction import run
    from privacy_helpers import ASSETS

    video = ASSETS / "video" / "vtest_480x360_h264.avi"
    if not video.exists() or not YUNET.exists():
        pytest.skip("assets not present")
    r = run(video, frames=3, width=640, faces_glob=str(ASSETS / "images" / "ultraface_imgs_1.jpg"), switch=3)
    assert r["frames"] == 3 and r["reference"]["faces"] > 20
    assert r["recall"]["frames_with_faces"] == 3 and 0.0 <= r["recall"]["min_frame"] <= 1.0
    assert r["cpu_ms_per_frame"]["redaction"] > 0 and r["cpu_ms_per_frame"]["decode_floor"] > 0


def test_every_footage_request_is_audited(web) -> None:  # type: ignore[no-untyped-def]
    from oversight.privacy import audit

    c = client(web["app"], "olga")
    ev, seg = web["ids"]["event"], web["ids"]["segment"]
    for url in (
        "/api/cameras/cam1/snapshot.jpg",
        f"/api/events/{ev}",
        f"/api/events/{ev}/thumbnail.jpg",
        f"/api/segments/{seg}/video.mp4",
    ):
        assert c.get(url).status_code == 200, url
    c.get("/api/cameras/cam1/playback.mjpeg", params={"start": T0.isoformat(), "speed": 8})
    with web["ctx"].db.session() as s:
        acts = [e.action for e in audit.query(s, actor="olga")]
        assert audit.verify(s).ok
    for a in (
        "auth.login",
        "footage.snapshot",
        "event.view",
        "footage.thumbnail",
        "footage.segment",
        "footage.playback",
    ):
        assert a in acts, (a, acts)


def _wall_jpeg(c: Any, camera_id: str) -> bytes:
    import struct

    with c.websocket_connect(f"/api/live.ws?ids={camera_id}") as ws:
        data = ws.receive_bytes()
    k = data[0]
    assert data[1 : 1 + k].decode() == camera_id
    assert struct.unpack(">dB", data[1 + k : 10 + k])[1] == 0  # live
    return bytes(data[10 + k :])


def _mjpeg_first(c: Any, url: str, **params: Any) -> bytes:
    r = c.get(url, params=params)
    assert r.status_code == 200, r.text
    part = r.content.split(b"\xff\xd8")[1]
    return b"\xff\xd8" + part[: part.rfind(b"\xff\xd9") + 2]


def _pixel_exits(web: Any, c: Any, *, config: Any = None) -> dict[str, list[np.ndarray]]:
    """What one user gets from every pixel exit: live (snapshot, wall), recorded (thumbnail, MP4
    segment, MJPEG playback) and, for an admin client, the configuration still."""
    out: dict[str, list[np.ndarray]] = {}
    r = c.get("/api/cameras/cam1/snapshot.jpg")
    assert r.status_code == 200, r.text
    out["snapshot"] = [_decode(r.content)]
    out["wall"] = [_decode(_wall_jpeg(c, "cam1"))]
    r = c.get(f"/api/events/{web['ids']['event']}/thumbnail.jpg")
    assert r.status_code == 200, r.text
    out["thumbnail"] = [_decode(r.content)]
    r = c.get(f"/api/segments/{web['ids']['segment']}/video.mp4")
    assert r.status_code == 200, r.text
    path = web["tmp"] / f"seg-{len(list(web['tmp'].glob('seg-*')))}.mp4"
    path.write_bytes(r.content)
    out["segment"] = read_mp4(path)
    out["playback"] = [
        _decode(_mjpeg_first(c, "/api/cameras/cam1/playback.mjpeg", start=T0.isoformat(), speed=8))
    ]
    if config is not None:
        r = config.get("/api/config/cameras/cam1/snapshot.jpg")
        assert r.status_code == 200, r.text
        out["config"] = [_decode(r.content)]
    return out


def _hidden(web: Any, exits: dict[str, list[np.ndarray]]) -> dict[str, float]:
    """Per exit, the smallest share of the raw picture's YuNet faces that are hidden."""
    raw = web["raw"]
    found = {}
    for name, imgs in exits.items():
        shares = []
        for i, img in enumerate(imgs):
            ref = web["frames"][i] if name in ("segment", "playback") else raw  # recorded: the clip
            ref = cv2.resize(ref, (img.shape[1], img.shape[0])) if ref.shape != img.shape else ref
            shares.append(fraction_hidden(ref, img, reference_faces(ref)))
        found[name] = min(shares)
    return found


def test_a_reveal_reaches_no_one_but_its_grantee_at_any_exit(web, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Issue 11: another user's reveal must never leak through a cache, a shared encoder or a file.
    The grantee looks first at every exit (filling every cache), then a second operator, a
    supervisor and the admin's configuration still are checked with YuNet, during and after."""
    from oversight.privacy import egress, hooks

    monkeypatch.setattr(egress, "STALE_S", 120.0)  # one live frame serves every user in this test
    app, worker = web["app"], web["ctx"].runtime.workers["cam1"]
    make_users(web["ctx"].db, otto="operator")
    olga, otto, sue, adam = (client(app, u) for u in ("olga", "otto", "sue", "adam"))
    now = datetime.now(UTC)
    windows = [
        (T0 - timedelta(minutes=1), T0 + timedelta(minutes=1)),
        (now - timedelta(minutes=5), now + timedelta(minutes=30)),
    ]
    ids = []
    for start, end in windows:
        body = {
            "camera_ids": ["cam1"],
            "start": start.isoformat(),
            "end": end.isoformat(),
            "reason": "robbery at the kiosk, identify suspect",
            "reference": "CASE-11",
        }
        r = olga.post("/api/reveals", json=body)
        assert r.status_code == 201, r.text
        ids.append(r.json()["id"])
        assert sue.post(f"/api/reveals/{ids[-1]}/approve", json={"valid_hours": 1}).status_code == 200
    assert web["raw"].shape[0] > 0 and len(reference_faces(web["raw"])) > 5

    worker.ts = datetime.now(UTC)  # one live frame for everyone: shared caches are exercised
    granted = _hidden(web, _pixel_exits(web, olga))
    assert all(v < 0.1 for v in granted.values()), str(granted)  # the grantee sees faces everywhere
    for name, c, cfg in (("otto", otto, None), ("sue", sue, adam)):
        others = _hidden(web, _pixel_exits(web, c, config=cfg))
        assert all(v >= 0.95 for v in others.values()), str((name, others))

    # the leak: a stream that ended inside a revealed window; its last frame goes to nobody
    worker.ts = T0
    for c in (olga, otto):
        assert c.get("/api/cameras/cam1/snapshot.jpg").status_code == 503
    assert adam.get("/api/config/cameras/cam1/snapshot.jpg").status_code == 503
    with otto.websocket_connect("/api/live.ws?ids=cam1") as ws:
        data = ws.receive_bytes()
    assert data[1 + 4 + 8] == 1  # "stalled": a card, not the last picture
    card = _decode(data[1 + 4 + 9 :])
    assert len(reference_faces(card)) == 0

    for rid in ids:  # after the reveals: nobody, not even the grantee, gets what was cached for them
        assert olga.post(f"/api/reveals/{rid}/revoke").status_code == 200
    hooks.forget_cache(web["ctx"])
    worker.ts = datetime.now(UTC)
    for name, c, cfg in (("olga", olga, None), ("otto", otto, adam)):
        after = _hidden(web, _pixel_exits(web, c, config=cfg))
        assert all(v >= 0.95 for v in after.values()), str((name, after))
