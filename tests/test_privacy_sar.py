"""Subject access requests from intake to a verified export: a privacy officer (auditor) records
the request, an operator clicks the requester in a frame, a supervisor exports; in the signed
export the marked person is visible and every other face is hidden. Deadlines per jurisdiction,
reminders that fire and close, refusals, and the figures the reports publish."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sqlalchemy import select

from oversight.config.schema import SiteConfig
from oversight.events.bus import EventBus
from oversight.privacy import sar
from oversight.privacy.models import ExportRecord
from oversight.store.db import Database
from oversight.store.models import Segment
from privacy_helpers import (
    YUNET,
    client,
    face_image,
    make_users,
    panned_frames,
    read_mp4,
    reference_faces,
    sharpness,
    write_mp4,
)


@pytest.mark.parametrize(
    ("jurisdiction", "received", "due"),
    [
        ("ar", datetime(2026, 3, 1, 9, tzinfo=UTC), datetime(2026, 3, 11, 9, tzinfo=UTC)),  # 10 calendar days
        ("ec", datetime(2026, 3, 1, 9, tzinfo=UTC), datetime(2026, 3, 16, 9, tzinfo=UTC)),  # 15 days
        ("gdpr", datetime(2026, 3, 1, 9, tzinfo=UTC), datetime(2026, 4, 1, 9, tzinfo=UTC)),  # one month
        ("gdpr", datetime(2026, 1, 31, 9, tzinfo=UTC), datetime(2026, 2, 28, 9, tzinfo=UTC)),  # month end
        ("gdpr", datetime(2026, 12, 15, 9, tzinfo=UTC), datetime(2027, 1, 15, 9, tzinfo=UTC)),
    ],
)
def test_deadline_follows_the_jurisdiction(jurisdiction: str, received: datetime, due: datetime) -> None:
    assert sar.deadline(jurisdiction, received) == due


def _cfg(tmp_path: Path, record: str = "rtsp://10.0.0.5/s") -> SiteConfig:
    cam = {
        "id": "cam1",
        "purpose": "subject access test",
        "streams": {"record": record},
        "realtime": False,
        "record": {"segment_seconds": 1},
        "detect": {"fps": 10, "width": 480, "height": 320},
        "redaction": {"face_model_path": str(YUNET)},
    }
    return SiteConfig.model_validate({"site": {"data_dir": str(tmp_path / "data")}, "cameras": [cam]})


def _body(start: datetime, end: datetime, **kw: Any) -> dict[str, Any]:
    return {
        "contact": "requester@example.org",
        "camera_ids": ["cam1"],
        "start": start.isoformat(),
        "end": end.isoformat(),
        "places": "the kiosk on the square",
        "description": "red coat, walked past the kiosk",
        "jurisdiction": "ar",
        "identity_check": "national ID shown in person at the front desk",
        **kw,
    }


def test_the_deadline_reminder_fires_and_closes(db: Database, tmp_path: Path) -> None:
    from oversight.events.alerts import AlertManager
    from oversight.events.models import Alert

    cfg = _cfg(tmp_path)
    now = datetime(2026, 3, 20, 12, tzinfo=UTC)
    alerts = AlertManager(cfg, db, EventBus(), clock=lambda: now)
    rem = sar.SarReminders(db, alerts)
    assert rem.tick(now) == (0, 0)
    with db.session() as s:  # Argentina: 10 days; received 8 days ago, due in 2
        r = sar.record_request(
            s, cfg, "ada", "auditor", _body(now - timedelta(days=9), now - timedelta(days=9, hours=-1),
                                              received_at=(now - timedelta(days=8)).isoformat()),
        )  # fmt: skip
        rid = r.id
    assert rem.tick(now) == (1, 0)
    with db.session() as s:
        titles = {a.title for a in s.scalars(select(Alert).where(Alert.ended_at.is_(None)))}
    assert any("due within 3 days" in t for t in titles), titles
    later = now + timedelta(days=3)  # now past the deadline
    assert rem.tick(later) == (0, 1)
    with db.session() as s:
        titles = {a.title for a in s.scalars(select(Alert).where(Alert.ended_at.is_(None)))}
    assert any("past their legal deadline" in t for t in titles) and not any(
        "due within" in t for t in titles
    )
    with db.session() as s:
        sar.refuse(s, rid, "ada", "auditor", "the footage was already deleted by retention")
    assert rem.tick(later) == (0, 0)
    with db.session() as s:
        assert not list(s.scalars(select(Alert).where(Alert.ended_at.is_(None))))
        f = sar.figures(s, now - timedelta(days=30), now + timedelta(days=30), later)
    assert f["received"] == 1 and f["refused"] == 1 and f["in_time"] == 0 and f["median_days"] is not None


def _record_footage(
    db: Database, tmp_path: Path, frames: list[np.ndarray]
) -> tuple[SiteConfig, list[Segment]]:
    """Record a clip through the real runtime with the privacy stage (the stored track)."""
    from oversight.runtime import Runtime

    clip = write_mp4(tmp_path / "clip.mp4", frames, fps=10)
    cfg = _cfg(tmp_path, str(clip))
    rt = Runtime(
        cfg, db, EventBus(), None, retention_interval_s=0, watchdog_interval_s=0, privacy_factory="default"
    )
    rt.start()
    try:
        deadline = time.monotonic() + 90
        while rt.workers["cam1"].state != "ended" and time.monotonic() < deadline:
            time.sleep(0.1)
        assert rt.workers["cam1"].state == "ended"
    finally:
        rt.stop()
    with db.session() as s:
        segs = list(s.scalars(select(Segment).order_by(Segment.start)))
        for seg in segs:
            s.expunge(seg)
    return cfg, segs


def test_a_request_from_intake_to_a_verified_export_shows_only_the_requester(
    db: Database, tmp_path: Path
) -> None:

    from oversight.privacy.export import read_manifest, verify_export
    from oversight.privacy.track import read_track
    from oversight.web.app import create_app
    from oversight.web.context import AppContext

    raw = face_image(1)
    if raw is None or not YUNET.exists():
        pytest.skip("face photos / YuNet model not present under ../shared/assets")
    frames = panned_frames(raw, 30, 480, 320, step=3)
    cfg, segs = _record_footage(db, tmp_path, frames)
    assert segs
    t0 = segs[0].start
    make_users(db, ada="auditor", olga="operator", sue="supervisor")
    app = create_app(AppContext(cfg=cfg, db=db, bus=EventBus(), runtime=None, cache_dir=tmp_path / "cache"))
    ada, olga, sue = (client(app, u) for u in ("ada", "olga", "sue"))

    # intake by the privacy officer; the operator may not record one
    body = _body(t0 - timedelta(seconds=1), segs[-1].end + timedelta(seconds=1))
    assert olga.post("/api/sars", json=body).status_code == 403
    r = ada.post("/api/sars", json=body)
    assert r.status_code == 201, r.text
    req = r.json()
    assert req["status"] == "open" and req["law"].startswith("Argentina")

    # the operator clicks the requester: the biggest face in a frame near the start
    samples = read_track(
        Path(cfg.site.data_dir) / "privacy", "cam1", t0.timestamp(), segs[-1].end.timestamp()
    )
    pick = samples[3]
    box = max(pick.boxes, key=lambda b: (b[2] - b[0]) * (b[3] - b[1]))
    click = {"camera_id": "cam1", "ts": datetime.fromtimestamp(pick.ts, UTC).isoformat(),
             "x": (box[0] + box[2]) / 2, "y": (box[1] + box[3]) / 2}  # fmt: skip
    empty = [
        (x / 10, y / 10)
        for x in range(11)
        for y in range(11)
        if all(sar._distance(b, x / 10, y / 10) > sar.CLICK_REACH for b in pick.boxes)
    ]
    if empty:  # a click where nobody is: refused, and not kept
        r = olga.post(f"/api/sars/{req['id']}/marks", json={**click, "x": empty[0][0], "y": empty[0][1]})
        assert r.status_code == 409, r.text
    r = olga.post(f"/api/sars/{req['id']}/marks", json=click)
    assert r.status_code == 201, r.text
    assert r.json()["followed_samples"] >= 0.8 * len(samples)

    # the answer: a signed export naming the request
    assert olga.post(f"/api/sars/{req['id']}/export").status_code == 403
    r = sue.post(f"/api/sars/{req['id']}/export")
    assert r.status_code == 201, r.text
    path = Path(r.json()["path"])
    assert verify_export(path).ok
    manifest = read_manifest(path)
    assert (
        manifest["subject_access_request"]["id"] == req["id"] and manifest["reference"] == f"SAR-{req['id']}"
    )
    assert sue.get(f"/api/sars/{req['id']}").json()["status"] == "answered"
    assert manifest["recipient"] == {"category": "data_subject", "reference": None}  # always the requester
    with db.session() as s:
        assert s.get(ExportRecord, r.json()["id"]).recipient == "data_subject"

    subject = sar.subject_tracks(db, cfg, req["id"])["cam1"]
    checked = _check_clips(path, manifest, frames, t0, subject, tmp_path)
    assert checked >= 0.7 * len(frames), checked


def _check_clips(path: Path, manifest: dict[str, Any], frames: list[np.ndarray], t0: datetime,
                 subject: Any, tmp_path: Path) -> int:  # fmt: skip
    """Per exported frame where the subject is followed: the subject's face keeps its detail and
    every other reference face (YuNet on the raw frame) has lost it. Returns the frames checked."""
    import zipfile

    checked = closed = others = 0
    missed: list[Any] = []
    with zipfile.ZipFile(path) as z:
        for f in manifest["files"]:
            assert f["subject_frames"] >= 0
            clip = tmp_path / "got" / f["path"]
            clip.parent.mkdir(parents=True, exist_ok=True)
            clip.write_bytes(z.read(f["path"]))
            start = datetime.fromisoformat(f["start"])
            offset = round((start - t0).total_seconds() * 10)
            for i, img in enumerate(read_mp4(clip)):
                ts = start.timestamp() + i / 10
                keep = subject.box(ts)
                if keep is None or offset + i >= len(frames):
                    continue
                ref = frames[offset + i]
                h, w = img.shape[:2]
                if sharpness(img, (0, 0, w, h)) < 0.2 * sharpness(ref, (0, 0, w, h)):
                    closed += 1  # no stored sample close enough to this frame: blurred whole (fail closed)
                    continue
                px = (keep[0] * w, keep[1] * h, keep[2] * w, keep[3] * h)
                assert sharpness(img, px) >= 0.5 * sharpness(ref, px), (f["path"], i)  # visible
                for b in reference_faces(ref):
                    cx, cy = (b[0] + b[2]) / 2 / w, (b[1] + b[3]) / 2 / h
                    grown = 0.5 * max(keep[2] - keep[0], keep[3] - keep[1])
                    if keep[0] - grown <= cx <= keep[2] + grown and keep[1] - grown <= cy <= keep[3] + grown:
                        continue  # the subject (or touching it)
                    others += 1
                    if sharpness(img, b) >= 0.3 * max(sharpness(ref, b), 1e-6):
                        missed.append((f["path"], i, b))
                checked += 1
    assert closed <= 3, closed  # at the edges of the stored track only
    # everyone else stays hidden as at every other exit: the coverage bar (issue #10) is 99 % of faces
    assert len(missed) <= 0.01 * others, (len(missed), others, missed[:5])
    return checked


def test_bad_requests_are_refused_clearly(db: Database, tmp_path: Path) -> None:
    cfg = _cfg(tmp_path)
    t = datetime(2026, 3, 1, 12, tzinfo=UTC)
    with db.session() as s:
        for bad, words in (
            (_body(t, t + timedelta(hours=1), jurisdiction="xx"), "unknown jurisdiction"),
            (_body(t, t + timedelta(days=2)), "24 hours"),
            (_body(t, t + timedelta(hours=1), camera_ids=["nope"]), "unknown camera"),
            (_body(t, t + timedelta(hours=1), identity_check="ok"), "identity_check"),
        ):
            with pytest.raises(sar.SarError, match=words):
                sar.record_request(s, cfg, "ada", "auditor", bad)
        r = sar.record_request(s, cfg, "ada", "auditor", _body(t, t + timedelta(hours=1)))
        with pytest.raises(sar.SarError, match="outside the request"):
            sar.add_mark(s, r.id, "olga", "operator", "cam1", t - timedelta(hours=1), 0.5, 0.5)
        with pytest.raises(sar.SarError, match="reason"):
            sar.refuse(s, r.id, "ada", "auditor", "no")
        sar.refuse(s, r.id, "ada", "auditor", "the requester withdrew the request")
        with pytest.raises(sar.SarError, match="refused"):
            sar.refuse(s, r.id, "ada", "auditor", "the requester withdrew the request")
