"""Signed evidence export: redacted unless a reveal covers it, verifiable offline, tamper fails."""

from __future__ import annotations

import json
import zipfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from oversight.privacy import audit, reveals
from oversight.privacy.export import ExportError, export_footage, verify_export
from oversight.privacy.keys import load_or_create_signing_key, public_hex
from oversight.privacy.models import ExportRecord
from oversight.store.db import Database
from oversight.store.models import Segment
from privacy_helpers import (
    YUNET,
    face_image,
    fraction_hidden,
    panned_frames,
    read_mp4,
    reference_faces,
    site,
    write_mp4,
)

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def footage(db: Database, tmp_path: Path):  # type: ignore[no-untyped-def]
    img = face_image(1)
    if img is None or not YUNET.exists():
        pytest.skip("face photos / YuNet model not present")
    cfg = site(tmp_path, face_model_path=str(YUNET))
    frames = panned_frames(img, 4, 320, 240, step=5)
    paths = []
    with db.session() as s:
        for cam in ("cam1", "cam2"):
            p = write_mp4(tmp_path / "data" / "recordings" / cam / "seg.mp4", frames)
            s.add(
                Segment(
                    camera_id=cam,
                    start=T0,
                    end=T0 + timedelta(seconds=0.4),
                    path=str(p),
                    bytes=p.stat().st_size,
                    has_event=True,
                )
            )
            paths.append(p)
    return cfg, frames, paths


def _export(db, cfg, **kw):  # type: ignore[no-untyped-def]
    args = dict(
        camera_ids=["cam1"],
        start=T0 - timedelta(seconds=5),
        end=T0 + timedelta(seconds=5),
        exporter="sue",
        role="supervisor",
        purpose="handover to the prosecutor",
        reference="INC-42",
        recipient="prosecutor",
        recipient_ref="Fiscalía N° 3",
    )
    args.update(kw)
    return export_footage(db, cfg, **args)


def test_redacted_export_verifies_and_hides_faces(db: Database, footage, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    cfg, frames, paths = footage
    res = _export(db, cfg)
    assert res.redacted and res.path.is_dir()
    manifest = json.loads((res.path / "manifest.json").read_text())
    assert manifest["redaction"] == "redacted" and manifest["reference"] == "INC-42"
    assert manifest["exporter"] == "sue" and manifest["purpose"] == "handover to the prosecutor"
    assert manifest["recipient"] == {"category": "prosecutor", "reference": "Fiscalía N° 3"}
    [f] = manifest["files"]
    clip = read_mp4(res.path / f["path"])
    assert len(clip) == len(frames)
    for raw, out in zip(frames, clip, strict=True):
        assert fraction_hidden(raw, out, reference_faces(raw)) >= 0.95
    pub = tmp_path / "pub.txt"
    pub.write_text(public_hex(load_or_create_signing_key(cfg.site.data_dir)))
    check = verify_export(res.path, pub)
    assert check.ok and check.trusted_key, check.problems
    with db.session() as s:
        rec = s.execute(select(ExportRecord)).scalar_one()
        assert rec.manifest_sha256 == res.manifest_sha256
        e = [e for e in audit.query(s) if e.action == "export.create"][0]
        assert e.detail["manifest_sha256"] == res.manifest_sha256 and e.actor == "sue"
        assert (rec.recipient, rec.recipient_ref) == ("prosecutor", "Fiscalía N° 3")
        assert e.detail["recipient"] == "prosecutor"


def test_any_changed_byte_fails(db: Database, footage, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    cfg, _, _ = footage
    res = _export(db, cfg)
    key = load_or_create_signing_key(cfg.site.data_dir).verify_key
    clip = next((res.path / "clips").rglob("*.mp4"))
    data = bytearray(clip.read_bytes())
    data[len(data) // 2] ^= 0x01
    clip.write_bytes(bytes(data))
    check = verify_export(res.path, key)
    assert not check.ok and clip.name in check.message and "SHA-256" in check.message
    clip.write_bytes(bytes(data[:-1]))  # truncated
    assert not verify_export(res.path, key).ok


def test_manifest_edit_extra_file_and_wrong_key_fail(db: Database, footage, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from nacl.signing import SigningKey

    cfg, _, _ = footage
    key = load_or_create_signing_key(cfg.site.data_dir).verify_key
    res = _export(db, cfg, reference="INC-43")
    m = res.path / "manifest.json"
    original = m.read_bytes()
    m.write_bytes(original.replace(b"INC-43", b"INC-44"))
    check = verify_export(res.path, key)
    assert not check.ok and "manifest.json" in check.message
    m.write_bytes(original)
    assert verify_export(res.path, key).ok
    (res.path / "clips" / "planted.mp4").write_bytes(b"x")
    check = verify_export(res.path, key)
    assert not check.ok and "planted.mp4" in check.message
    (res.path / "clips" / "planted.mp4").unlink()
    # a forger who re-signs with their own key and swaps public_key.txt fails against the real key
    assert not verify_export(res.path, SigningKey.generate().verify_key).ok


def test_zip_export_and_tamper(db: Database, footage, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    cfg, _, _ = footage
    key = load_or_create_signing_key(cfg.site.data_dir).verify_key
    res = _export(db, cfg, camera_ids=["cam1", "cam2"], zip_it=True)
    assert res.path.suffix == ".zip" and res.files == 2
    assert verify_export(res.path, key).ok
    bad = tmp_path / "bad.zip"
    with zipfile.ZipFile(res.path) as zin, zipfile.ZipFile(bad, "w") as zout:
        for info in zin.infolist():
            data = zin.read(info)
            if info.filename.endswith(".mp4") and "cam2" in info.filename:
                data = data[:-10] + b"0123456789"
            zout.writestr(info, data)
    check = verify_export(bad, key)
    assert not check.ok and "cam2" in check.message


def test_reveal_gives_original_bytes_only_for_covered_camera(db: Database, footage) -> None:  # type: ignore[no-untyped-def]
    cfg, _, paths = footage
    with db.session() as s:
        r = reveals.request_reveal(
            s,
            "sue",
            "supervisor",
            ["cam1"],
            T0 - timedelta(minutes=1),
            T0 + timedelta(minutes=1),
            "identify the robbery suspect",
            "INC-42",
        )
        reveals.decide(s, r.id, "sam", "supervisor", True, "justified")
    res = _export(db, cfg, camera_ids=["cam1", "cam2"])
    m = json.loads((res.path / "manifest.json").read_text())
    by_cam = {f["camera_id"]: f for f in m["files"]}
    assert by_cam["cam1"]["redacted"] is False and by_cam["cam2"]["redacted"] is True
    assert (res.path / by_cam["cam1"]["path"]).read_bytes() == paths[0].read_bytes()
    assert m["redaction"] == "mixed"
    actions = [c["action"] for c in m["chain_of_custody"]]
    assert actions[:2] == ["reveal.request", "reveal.approve"] and actions[-1] == "export.create"
    # a window wider than the reveal is unredacted only where the reveal reaches, and says so
    res2 = _export(db, cfg, start=T0 - timedelta(minutes=5))
    m2 = json.loads((res2.path / "manifest.json").read_text())
    [w] = m2["unredacted_windows"]
    assert (w["camera_id"], w["start"], w["end"]) == (
        "cam1",
        (T0 - timedelta(minutes=1)).isoformat(),
        (T0 + timedelta(seconds=5)).isoformat(),
    )


def test_export_rules(db: Database, footage) -> None:  # type: ignore[no-untyped-def]
    cfg, _, _ = footage
    with pytest.raises(ExportError, match="supervisor"):
        _export(db, cfg, role="operator")
    with pytest.raises(ExportError, match="unknown camera"):
        _export(db, cfg, camera_ids=["nope"])
    with pytest.raises(ExportError, match="no recorded footage"):
        _export(db, cfg, start=T0 + timedelta(hours=1), end=T0 + timedelta(hours=2))
    with db.session() as s:
        assert s.execute(select(ExportRecord)).first() is None


def test_export_through_api(db: Database, footage, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from oversight.events.bus import EventBus
    from oversight.web.app import create_app
    from oversight.web.context import AppContext
    from privacy_helpers import client, make_users

    cfg, _, _ = footage
    make_users(db, olga="operator", sue="supervisor", alice="auditor")
    app = create_app(AppContext(cfg=cfg, db=db, bus=EventBus()))
    body = {
        "camera_ids": ["cam1"],
        "start": (T0 - timedelta(seconds=5)).isoformat(),
        "end": (T0 + timedelta(seconds=5)).isoformat(),
        "purpose": "handover to the prosecutor",
        "reference": "INC-1",
        "recipient": "prosecutor",
    }
    assert client(app, "olga").post("/api/exports", json=body).status_code == 403
    sue = client(app, "sue")
    job = made(sue, body)
    z = sue.get(job["download"])
    assert z.status_code == 200
    (tmp_path / "dl.zip").write_bytes(z.content)
    assert verify_export(tmp_path / "dl.zip", load_or_create_signing_key(cfg.site.data_dir).verify_key).ok
    alice = client(app, "alice")
    assert alice.get(job["download"]).status_code == 403  # auditors never get footage
    assert len(alice.get("/api/exports").json()) == 1


def made(c, body):  # type: ignore[no-untyped-def]
    """POST an export (a background job) and poll it until it is finished; the finished job."""
    import time

    r = c.post("/api/exports", json=body)
    assert r.status_code == 202, r.text
    for _ in range(1200):
        job = c.get(f"/api/exports/jobs/{r.json()['id']}").json()
        if job["status"] not in ("queued", "running"):
            assert job["status"] == "done", job
            return job
        time.sleep(0.05)
    raise AssertionError(f"export job never finished: {job}")


def _approved(db: Database, who: str, cams: list[str], start: datetime, end: datetime) -> int:
    with db.session() as s:
        r = reveals.request_reveal(s, who, "supervisor", cams, start, end, "identify the suspect", "INC-9")
        reveals.decide(s, r.id, "approver", "supervisor", True, "justified")
        return r.id


@pytest.fixture
def three_seconds(db: Database, tmp_path: Path):  # type: ignore[no-untyped-def]
    """One 3-s segment of cam1 at 10 fps with faces in every frame."""
    img = face_image(1)
    if img is None or not YUNET.exists():
        pytest.skip("face photos / YuNet model not present")
    cfg = site(tmp_path, face_model_path=str(YUNET))
    frames = panned_frames(img, 30, 320, 240, step=2)
    p = write_mp4(tmp_path / "data" / "recordings" / "cam1" / "seg3.mp4", frames)
    with db.session() as s:
        s.add(Segment(camera_id="cam1", start=T0, end=T0 + timedelta(seconds=3), path=str(p), bytes=1))
    return cfg, frames


def test_one_second_reveal_exports_one_second_unredacted(db: Database, three_seconds) -> None:  # type: ignore[no-untyped-def]
    cfg, frames = three_seconds
    _approved(db, "sue", ["cam1"], T0 + timedelta(seconds=1), T0 + timedelta(seconds=2))
    res = _export(db, cfg, start=T0, end=T0 + timedelta(seconds=3))
    m = json.loads((res.path / "manifest.json").read_text())
    assert m["redaction"] == "mixed" and not res.redacted
    [f] = m["files"]
    [part] = f["unredacted"]
    assert part["start"] == (T0 + timedelta(seconds=1)).isoformat() and part["frames"] == 10
    assert part["end"] == (T0 + timedelta(seconds=2)).isoformat() and f["redacted"] is True
    clip = read_mp4(res.path / f["path"])
    assert len(clip) == len(frames)
    shown = []
    for i, (raw, out) in enumerate(zip(frames, clip, strict=True)):
        faces = reference_faces(raw)
        assert len(faces) > 0
        hidden = fraction_hidden(raw, out, faces)
        if hidden < 0.5:
            shown.append(i)
        else:
            assert hidden >= 0.95, f"frame {i}: only {hidden:.0%} of faces hidden"
    assert shown == list(range(10, 20))  # exactly the approved second, nothing either side


def _api(db: Database, cfg):  # type: ignore[no-untyped-def]
    from oversight.events.bus import EventBus
    from oversight.web.app import create_app
    from oversight.web.context import AppContext
    from privacy_helpers import make_users

    make_users(db, sue="supervisor", sam="supervisor", approver="supervisor")
    return create_app(AppContext(cfg=cfg, db=db, bus=EventBus()))


BODY = {
    "camera_ids": ["cam1"],
    "start": (T0 - timedelta(seconds=5)).isoformat(),
    "end": (T0 + timedelta(seconds=5)).isoformat(),
    "purpose": "handover to the prosecutor",
    "reference": "INC-1",
    "recipient": "prosecutor",
}


def test_another_supervisor_cannot_download_an_unredacted_export(db: Database, footage) -> None:  # type: ignore[no-untyped-def]
    from privacy_helpers import client

    cfg, _, _ = footage
    app = _api(db, cfg)
    _approved(db, "sue", ["cam1"], T0 - timedelta(minutes=1), T0 + timedelta(minutes=1))
    sue, sam = client(app, "sue"), client(app, "sam")
    job = made(sue, BODY)
    assert job["redacted"] is False, job
    url = job["download"]
    assert sam.get(url).status_code == 403
    assert sue.get(url).status_code == 200
    redacted = made(sam, BODY)  # sam holds no reveal: redacted
    assert redacted["redacted"] is True and sue.get(redacted["download"]).status_code == 200
    _approved(db, "sam", ["cam1"], T0 - timedelta(seconds=5), T0 + timedelta(seconds=5))
    assert sam.get(url).status_code == 200  # his own reveal covers the same window
    with db.session() as s:
        refused = [e for e in audit.query(s) if e.action == "export.download_refused"]
        assert [e.actor for e in refused] == ["sam"]


def test_a_token_never_exports_unredacted(db: Database, footage) -> None:  # type: ignore[no-untyped-def]
    from fastapi.testclient import TestClient

    from oversight.web.auth import create_api_token
    from privacy_helpers import client

    cfg, _, _ = footage
    app = _api(db, cfg)
    with db.session() as s:
        _, secret = create_api_token(s, "robot", "supervisor", "admin")
    bot = TestClient(app)
    bot.headers["Authorization"] = f"Bearer {secret}"
    r = bot.post(
        "/api/reveals",
        json={
            **{k: BODY[k] for k in ("camera_ids", "start", "end")},
            "reason": "identify the suspect",
            "reference": "INC-1",
        },
    )
    if r.status_code == 201:  # if tokens may still ask, a person's approval must not help them
        assert client(app, "sam").post(f"/api/reveals/{r.json()['id']}/approve", json={}).status_code == 200
    assert made(bot, BODY)["redacted"] is True
    # and an unredacted export made by a person is never handed to a token
    _approved(db, "sue", ["cam1"], T0 - timedelta(minutes=1), T0 + timedelta(minutes=1))
    sue_export = made(client(app, "sue"), BODY)
    assert sue_export["redacted"] is False
    assert bot.get(sue_export["download"]).status_code == 403


def test_concurrent_exports_of_one_segment_transcode_it_once(db: Database, footage, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from concurrent.futures import ThreadPoolExecutor

    from oversight.privacy import egress as egress_module

    cfg, _, _ = footage
    calls: list[str] = []
    real = egress_module._transcode  # export clips are encoded by the gate

    def counting(src, dst, per_frame, **kw):  # type: ignore[no-untyped-def]
        calls.append(str(src))
        return real(src, dst, per_frame, **kw)

    monkeypatch.setattr(egress_module, "_transcode", counting)
    key = load_or_create_signing_key(cfg.site.data_dir).verify_key  # (its first creation is not thread-safe)
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda i: _export(db, cfg, reference=f"INC-{i}"), range(4)))
    assert all(verify_export(r.path, key).ok for r in results)
    assert len(calls) == 1  # one transcode served four exports
    _export(db, cfg)
    assert len(calls) == 1  # and the next one too
    cfg.camera("cam1").redaction.persons = True  # other settings: other pixels, a new transcode
    _export(db, cfg)
    assert len(calls) == 2


def test_export_transcodes_are_bounded(db: Database, footage, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import threading
    import time
    from concurrent.futures import ThreadPoolExecutor

    from oversight.privacy import egress as egress_module
    from oversight.privacy.redaction import Redactor

    cfg, _, _ = footage
    active, peak, lock = [0], [0], threading.Lock()
    real = egress_module._transcode  # export clips are encoded by the gate

    def slow(src, dst, per_frame, **kw):  # type: ignore[no-untyped-def]
        with lock:
            active[0] += 1
            peak[0] = max(peak[0], active[0])
        time.sleep(0.3)
        try:
            return real(src, dst, per_frame, **kw)
        finally:
            with lock:
                active[0] -= 1

    monkeypatch.setattr(egress_module, "_transcode", slow)
    load_or_create_signing_key(cfg.site.data_dir)
    with ThreadPoolExecutor(6) as pool:  # a redactor_factory: no shared transcode, six real ones
        list(pool.map(lambda i: _export(db, cfg, reference=f"B-{i}", redactor_factory=Redactor), range(6)))
    assert peak[0] == egress_module.MAX_EXPORT_TRANSCODES
