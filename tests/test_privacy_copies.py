"""Every copy made from footage has a lifecycle: snapshots, exports, reports, playback and reveal
caches are deleted by their rule, a revoked reveal's cache file goes at once, files are private."""

from __future__ import annotations

import os
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from oversight.privacy import audit, reveals
from oversight.privacy.copies import copies_report, sweep_copies
from oversight.privacy.models import ExportRecord
from oversight.store.db import Database
from oversight.store.models import Event, EvidenceHold, Segment
from privacy_helpers import client, make_users, site, write_mp4

NOW = datetime(2026, 3, 20, 12, 0, tzinfo=UTC)


def _file(path: Path, age: timedelta | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"x" * 100)
    if age is not None:
        t = (NOW - age).timestamp()
        os.utime(path, (t, t))
    return path


def _event(db: Database, cam: str, age_days: float, snap: Path) -> int:
    with db.session() as s:
        e = Event(
            camera_id=cam, label="person", start=NOW - timedelta(days=age_days), snapshot_path=str(snap)
        )
        s.add(e)
        s.flush()
        return e.id


def _export(db: Database, age_days: float, path: Path) -> int:
    with db.session() as s:
        r = ExportRecord(
            created_at=NOW - timedelta(days=age_days),
            exporter="sue",
            camera_ids=["cam1"],
            start=NOW,
            end=NOW,
            purpose="handover to the prosecutor",
            path=str(path),
            manifest_sha256="0" * 64,
        )
        s.add(r)
        s.flush()
        return r.id


def test_retention_deletes_expired_snapshots_exports_reports_and_cache(db: Database, tmp_path: Path) -> None:
    cfg = site(tmp_path)  # event retention 30 days; exports 90 days; reports 24 h; cache 24 h
    data = tmp_path / "data"
    old_snap, new_snap, held_snap = (_file(data / "snapshots" / "cam1" / f"{n}.jpg") for n in "onh")
    old_id = _event(db, "cam1", 40, old_snap)
    new_id = _event(db, "cam1", 5, new_snap)
    _event(db, "cam2", 40, held_snap)
    with db.session() as s:
        s.add(
            EvidenceHold(
                camera_id="cam2",
                start=NOW - timedelta(days=41),
                end=NOW - timedelta(days=39),
                reason="case 7",
                created_by="sue",
            )
        )
    old_zip, new_zip = _file(data / "exports" / "old.zip"), _file(data / "exports" / "new.zip")
    old_export = _export(db, 100, old_zip)
    _export(db, 10, new_zip)
    cache = data / "cache" / "web"
    old_report = _file(cache / "reports" / "pia.html", timedelta(hours=30))
    new_report = _file(cache / "reports" / "transparency.html", timedelta(hours=1))
    old_clip = _file(cache / "cam1" / "7-redacted-abc.mp4", timedelta(hours=30))
    new_clip = _file(cache / "cam1" / "8-redacted-abc.mp4", timedelta(hours=1))

    before = {k.kind: k for k in copies_report(db, cfg, NOW)}
    assert before["snapshots"].overdue == 1 and before["exports"].overdue == 1
    assert before["reports"].overdue == 1 and before["cache"].overdue == 1

    res = sweep_copies(db, cfg, NOW)
    assert res.errors == []
    assert res.deleted == {"snapshots": 1, "exports": 1, "reports": 1, "cache": 1}
    assert not old_snap.exists() and new_snap.exists() and held_snap.exists()
    assert not old_zip.exists() and new_zip.exists()
    assert not old_report.exists() and new_report.exists()
    assert not old_clip.exists() and new_clip.exists()
    with db.session() as s:
        assert s.get(Event, old_id).snapshot_path is None  # type: ignore[union-attr]
        assert s.get(Event, new_id).snapshot_path == str(new_snap)  # type: ignore[union-attr]
        [e] = [e for e in audit.query(s) if e.action == "export.delete"]
        assert e.object_id == str(old_export)
    assert all(k.overdue == 0 for k in copies_report(db, cfg, NOW))


def test_cache_is_bounded_oldest_first(db: Database, tmp_path: Path) -> None:
    cfg = site(tmp_path)
    cfg.site.copies.cache_max_gb = 250 / 1024**3
    cache = tmp_path / "data" / "cache" / "web" / "cam1"
    files = [_file(cache / f"{i}-redacted-abc.mp4", timedelta(minutes=10 - i)) for i in range(4)]
    assert sweep_copies(db, cfg, NOW).deleted == {"cache": 2}
    assert [f.exists() for f in files] == [False, False, True, True]


@pytest.fixture
def app_with_segment(db: Database, tmp_path: Path):  # type: ignore[no-untyped-def]
    from oversight.events.bus import EventBus
    from oversight.web.app import create_app
    from oversight.web.context import AppContext
    from privacy_helpers import synthetic_face_frame

    cfg = site(tmp_path)
    make_users(db, sue="supervisor", sam="supervisor")
    frame, _ = synthetic_face_frame()
    p = write_mp4(tmp_path / "data" / "recordings" / "cam1" / "seg.mp4", [frame] * 3)
    t0 = datetime.now(UTC) - timedelta(minutes=5)
    with db.session() as s:
        seg = Segment(camera_id="cam1", start=t0, end=t0 + timedelta(seconds=0.3), path=str(p), bytes=1)
        s.add(seg)
        s.flush()
        seg_id = seg.id
    ctx = AppContext(cfg=cfg, db=db, bus=EventBus())
    ctx.redactor_factory = lambda red: _Blur()
    return create_app(ctx), ctx, seg_id, t0


class _Blur:
    def redact(self, frame, tracks=None):  # type: ignore[no-untyped-def]
        return frame // 2


def test_a_revoked_reveals_cache_file_is_gone(db: Database, app_with_segment) -> None:  # type: ignore[no-untyped-def]
    app, ctx, seg_id, t0 = app_with_segment
    with db.session() as s:
        r = reveals.request_reveal(
            s,
            "sue",
            "supervisor",
            ["cam1"],
            t0 - timedelta(minutes=1),
            t0 + timedelta(minutes=1),
            "identify the suspect",
            "INC-1",
        )
        reveals.decide(s, r.id, "sam", "supervisor", True, "justified")
        rid = r.id
    sue, sam = client(app, "sue"), client(app, "sam")
    assert sue.get(f"/api/segments/{seg_id}/video.mp4").status_code == 200
    assert sam.get(f"/api/segments/{seg_id}/video.mp4").status_code == 200
    cached = sorted(p.name for p in (ctx.web_cache_dir() / "cam1").glob("*.mp4"))
    revealed = [n for n in cached if f"-reveal{rid}-" in n]
    assert len(cached) == 2 and len(revealed) == 1, cached
    assert sue.post(f"/api/reveals/{rid}/revoke").status_code == 200
    left = sorted(p.name for p in (ctx.web_cache_dir() / "cam1").glob("*.mp4"))
    assert left == [n for n in cached if n not in revealed]  # the redacted copy stays, shared


def test_an_expired_reveals_cache_file_is_swept(db: Database, app_with_segment) -> None:  # type: ignore[no-untyped-def]
    from oversight.privacy.models import RevealRequest

    app, ctx, seg_id, t0 = app_with_segment
    with db.session() as s:
        r = reveals.request_reveal(
            s,
            "sue",
            "supervisor",
            ["cam1"],
            t0 - timedelta(minutes=1),
            t0 + timedelta(minutes=1),
            "identify the suspect",
            "INC-1",
        )
        reveals.decide(s, r.id, "sam", "supervisor", True, "justified")
        rid = r.id
    assert client(app, "sue").get(f"/api/segments/{seg_id}/video.mp4").status_code == 200
    with db.session() as s:
        s.get(RevealRequest, rid).expires_at = datetime.now(UTC) - timedelta(seconds=1)  # type: ignore[union-attr]
    res = sweep_copies(db, ctx.cfg, datetime.now(UTC), ctx.web_cache_dir())
    assert res.deleted == {"reveal_cache": 1}
    assert not [p for p in ctx.web_cache_dir().rglob("*.mp4") if "-reveal" in p.name]


def test_cache_key_includes_the_redaction_settings(db: Database, app_with_segment) -> None:  # type: ignore[no-untyped-def]
    app, ctx, seg_id, _ = app_with_segment
    sam = client(app, "sam")
    first = sam.get(f"/api/segments/{seg_id}/video.mp4").content
    ctx.cfg.camera("cam1").redaction.persons = True  # settings changed: the old file must not be served
    sam.get(f"/api/segments/{seg_id}/video.mp4")
    names = sorted(p.name for p in (ctx.web_cache_dir() / "cam1").glob("*.mp4"))
    assert len(names) == 2 and first


def test_commands_write_private_files(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from oversight.cli import app

    old = os.umask(0o022)
    try:
        cfg = tmp_path / "site.yaml"
        cfg.write_text("cameras: []\n")
        assert CliRunner().invoke(app, ["check-config", str(cfg)]).exit_code == 0
        d = tmp_path / "made"
        d.mkdir()
        f = d / "file"
        f.write_bytes(b"x")
        assert stat.S_IMODE(d.stat().st_mode) == 0o700 and stat.S_IMODE(f.stat().st_mode) == 0o600
    finally:
        os.umask(old)


def test_retention_report_covers_copies(db: Database, tmp_path: Path) -> None:
    from oversight.privacy.retention_report import format_table, retention_report

    cfg = site(tmp_path)
    _event(db, "cam1", 40, _file(tmp_path / "data" / "snapshots" / "a.jpg"))
    rep = retention_report(db, cfg, now=NOW)
    kinds = {k["kind"]: k for k in rep.as_dict()["copies"]}
    assert set(kinds) == {"snapshots", "exports", "reports", "reveal_cache", "cache"}
    assert kinds["snapshots"]["overdue"] == 1 and not rep.compliant
    assert "snapshots" in format_table(rep)
    with db.session() as s:
        assert s.execute(select(Event)).scalars().first() is not None
