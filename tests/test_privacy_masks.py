"""Privacy masks: black at every exit (live snapshot, wall, configuration still, thumbnail, MP4
segment, MJPEG playback, export clip) even under an approved reveal when permanent; lifted only by
a reveal when liftable; per PTZ preset, and the whole picture black off every preset; analytics
and motion look away from them. Checked on the pixels of the polygon and with a face detector."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

import test_privacy_redaction
from oversight.config.schema import PrivacyMask, PtzSettings
from oversight.store.db import Database
from privacy_helpers import client, make_users, read_mp4, reference_faces
from test_privacy_redaction import T0, _pixel_exits

web_fixture = test_privacy_redaction.web  # the redaction tests' site, footage and app, as a fixture
BOX = [(0.05, 0.05), (0.55, 0.05), (0.55, 0.95), (0.05, 0.95)]


def _inside(img: np.ndarray, poly: list[tuple[float, float]], shrink: int = 6) -> np.ndarray:
    """The polygon's pixels, shrunk by a few pixels (codecs smear its edge)."""
    h, w = img.shape[:2]
    m = np.zeros((h, w), np.uint8)
    cv2.fillPoly(m, [np.round(np.asarray(poly) * [w, h]).astype(np.int32)], 1)
    m = cv2.erode(m, np.ones((2 * shrink + 1, 2 * shrink + 1), np.uint8))
    return img[m.astype(bool)]


def _faces_in(img: np.ndarray, poly: list[tuple[float, float]]) -> tuple[int, int]:
    """(faces whose centre is inside the polygon, faces outside) by YuNet on the output."""
    h, w = img.shape[:2]
    contour = (np.asarray(poly) * [w, h]).astype(np.float32)
    inside = outside = 0
    for b in reference_faces(img):
        c = ((b[0] + b[2]) / 2, (b[1] + b[3]) / 2)
        if cv2.pointPolygonTest(contour, (float(c[0]), float(c[1])), False) >= 0:
            inside += 1
        else:
            outside += 1
    return inside, outside


def _reveal(web: Any, who: Any, approver: Any) -> None:
    """Approved reveals for ``who`` over the recorded footage and over the live picture."""
    now = datetime.now(UTC)
    for start, end in (
        (T0 - timedelta(minutes=1), T0 + timedelta(minutes=1)),
        (now, now + timedelta(minutes=30)),
    ):
        body = {
            "camera_ids": ["cam1"],
            "start": (start - timedelta(minutes=1)).isoformat(),
            "end": end.isoformat(),
            "reason": "robbery at the kiosk, identify suspect",
            "reference": "CASE-15",
        }
        r = who.post("/api/reveals", json=body)
        assert r.status_code == 201, r.text
        rid = int(r.json()["id"])
        assert approver.post(f"/api/reveals/{rid}/approve", json={"valid_hours": 1}).status_code == 200


def _mask(web: Any, kind: str, preset: str | None = None, ptz: PtzSettings | None = None) -> None:
    cam = web["ctx"].cfg.camera("cam1")
    cam.masks = [PrivacyMask(id="house-12", polygon=BOX, kind=kind, preset=preset)]
    cam.ptz = ptz


def test_a_permanent_mask_is_black_at_every_exit_even_under_an_approved_reveal(
    web_fixture, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    web = web_fixture
    from oversight.privacy import egress

    monkeypatch.setattr(egress, "STALE_S", 120.0)
    _mask(web, "permanent")
    olga, sue, adam = (client(web["app"], u) for u in ("olga", "sue", "adam"))
    _reveal(web, olga, sue)
    web["ctx"].runtime.workers["cam1"].ts = datetime.now(UTC)
    exits = _pixel_exits(web, olga, config=adam)
    exits["export"] = _export_clip(web, "olga")
    web["ctx"].runtime.workers["cam1"].ts = None  # a new frame on every poll: the encoder needs several
    exits["h264"] = _h264_frames(olga)
    seen_outside = 0
    for name, imgs in exits.items():
        for img in imgs:
            assert _inside(img, BOX).max() <= 40, name  # black inside the polygon
            inside, outside = _faces_in(img, BOX)
            assert inside == 0, name
            seen_outside += outside
    assert seen_outside > 0  # the reveal itself works: faces outside the mask are shown


def _h264_frames(c: Any, n: int = 6) -> list[np.ndarray]:
    """Frames of the live H.264 feed (fragmented MP4 over the WebSocket) as one viewer gets them."""
    import io
    import json

    import av

    got: list[bytes] = []
    with c.websocket_connect("/api/live.h264.ws?camera=cam1") as ws:
        assert json.loads(ws.receive_text())["type"] == "init"
        while len(got) < n:
            msg = ws.receive()
            if msg.get("bytes"):
                got.append(msg["bytes"])
    with av.open(io.BytesIO(b"".join(got)), format="mp4") as cont:
        frames = [f.to_ndarray(format="bgr24") for f in cont.decode(video=0)]
    assert frames
    return frames[-1:]


def _export_clip(web: Any, actor: str) -> list[np.ndarray]:
    """An evidence clip of the segment through the gate, the whole segment inside a reveal window
    of ``actor`` (without masks: the original bytes)."""
    from oversight.privacy.egress import egress
    from oversight.privacy.export import reveal_windows
    from oversight.store.models import Segment

    ctx = web["ctx"]
    with ctx.db.session() as s:
        seg = s.get(Segment, web["ids"]["segment"])
        s.expunge(seg)
        windows = reveal_windows(s, actor, ["cam1"], seg.start, seg.end)
    assert windows
    out = web["tmp"] / f"export-{actor}.mp4"
    kept = egress(ctx).export_clip(actor, "operator", seg, out, windows, "a test of privacy masks")
    assert kept and kept[0]["frames"]  # re-encoded, not the original bytes
    return read_mp4(out)


def test_a_liftable_mask_needs_a_reveal(web_fixture, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    web = web_fixture
    from oversight.privacy import egress

    monkeypatch.setattr(egress, "STALE_S", 120.0)
    _mask(web, "liftable")
    make_users(web["ctx"].db, otto="operator")
    olga, otto, sue = (client(web["app"], u) for u in ("olga", "otto", "sue"))
    _reveal(web, olga, sue)
    web["ctx"].runtime.workers["cam1"].ts = datetime.now(UTC)
    for name, imgs in _pixel_exits(web, otto).items():
        assert _inside(imgs[0], BOX).max() <= 40, name
    for name, imgs in _pixel_exits(web, olga).items():
        assert _inside(imgs[0], BOX).mean() > 40, name  # lifted for the grantee


def test_ptz_masks_follow_the_preset_and_off_preset_is_black(web_fixture, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    web = web_fixture
    from oversight.privacy import egress

    monkeypatch.setattr(egress, "STALE_S", 120.0)
    _mask(web, "permanent", preset="door", ptz=PtzSettings(presets=["door", "street"], preset="street"))
    olga = client(web["app"], "olga")
    worker = web["ctx"].runtime.workers["cam1"]

    def snap() -> np.ndarray:
        worker.ts = datetime.now(UTC)
        r = olga.get("/api/cameras/cam1/snapshot.jpg")
        assert r.status_code == 200, r.text
        return cv2.imdecode(np.frombuffer(r.content, np.uint8), cv2.IMREAD_COLOR)

    assert _inside(snap(), BOX).mean() > 40  # at "street" the door's mask does not apply
    worker.ptz_preset = "door"
    assert _inside(snap(), BOX).max() <= 40
    worker.ptz_preset = "moving"  # off every known preset: nothing can be placed, nothing shown
    assert snap().max() <= 40
    r = olga.get(f"/api/events/{web['ids']['event']}/thumbnail.jpg")  # recorded: every preset's masks
    img = cv2.imdecode(np.frombuffer(r.content, np.uint8), cv2.IMREAD_COLOR)
    assert _inside(img, BOX).max() <= 40


@pytest.mark.parametrize(
    ("mask", "preset", "ok"),
    [
        ({"id": "a", "polygon": BOX}, None, True),
        ({"id": "a", "polygon": BOX, "preset": "door"}, ["door"], True),
        ({"id": "a", "polygon": BOX, "preset": "door"}, None, False),  # no such preset
        ({"id": "a", "polygon": [(0, 0), (1.5, 0), (1, 1)]}, None, False),  # not normalised
        ({"id": "a", "polygon": BOX[:2]}, None, False),  # not a polygon
        ({"id": "a", "polygon": BOX, "kind": "sometimes"}, None, False),
    ],
)
def test_mask_configuration(mask: dict[str, Any], preset: list[str] | None, ok: bool) -> None:
    from pydantic import ValidationError

    from oversight.config.schema import CameraConfig

    cam: dict[str, Any] = {"id": "c", "purpose": "test", "streams": {"record": "rtsp://x/y"}, "masks": [mask]}
    if preset:
        cam["ptz"] = {"presets": preset}
    if ok:
        assert CameraConfig.model_validate(cam).masks[0].id == "a"
    else:
        with pytest.raises(ValidationError):
            CameraConfig.model_validate(cam)


def test_analytics_ignore_masked_areas(db: Database, tmp_path: Path) -> None:
    from oversight.analytics.pipeline import CameraAnalytics
    from oversight.analytics.types import Detections
    from oversight.config.schema import CameraConfig
    from oversight.events.bus import EventBus

    cam = CameraConfig.model_validate(
        {
            "id": "c",
            "purpose": "test",
            "streams": {"record": "rtsp://x/y"},
            "detect": {"width": 320, "height": 240, "detector": "none"},
            "masks": [{"id": "yard", "polygon": [(0, 0), (0.5, 0), (0.5, 1), (0, 1)]}],
        }
    )

    class Two:
        name = "two"

        def detect(self, frame: np.ndarray) -> Detections:  # one person in the yard, one on the street
            boxes = np.array([[40, 60, 80, 200], [220, 60, 260, 200]], np.float32)
            return Detections(boxes, np.array([0.9, 0.9], np.float32), ("person", "person"))

    a = CameraAnalytics(cam, db, EventBus(), tmp_path, detector=Two())  # type: ignore[arg-type]
    found = a.detect(np.zeros((240, 320, 3), np.uint8))
    assert len(found) == 1 and float(found.xyxy[0, 0]) == 220
    still = np.zeros((240, 320, 3), np.uint8)
    moved = still.copy()
    moved[50:200, 20:140] = 255  # a big change, all of it inside the mask
    a.motion.update(still)
    assert a.motion.update(moved) is False
    moved[50:200, 200:300] = 255  # and one outside it
    assert a.motion.update(moved) is True
