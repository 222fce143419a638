"""Retention proof: exactly the due footage is deleted, never held evidence, each deletion audited,
and the retention report shows the policy, the oldest footage and any violation."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import select

from oversight.privacy import audit
from oversight.privacy.retention_report import format_table, retention_report
from oversight.store.db import Database
from oversight.store.models import EvidenceHold, Segment
from privacy_helpers import site

NOW = datetime(2026, 3, 20, 12, 0, tzinfo=UTC)


def _seg(s, path: Path, cam: str, age_days: float, has_event: bool = False) -> Segment:  # type: ignore[no-untyped-def]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"x" * 100)
    start = NOW - timedelta(days=age_days)
    seg = Segment(
        camera_id=cam,
        start=start,
        end=start + timedelta(seconds=10),
        path=str(path),
        bytes=100,
        has_event=has_event,
    )
    s.add(seg)
    s.flush()
    return seg


def test_retention_deletes_due_keeps_held_and_audits(db: Database, tmp_path: Path) -> None:
    from oversight.recording.retention import run_retention
    from oversight.recording.storage import LocalStorage
    from oversight.runtime import audit_deletion

    cfg = site(tmp_path)
    cfg.cameras[0].record.retention_days = 3
    cfg.cameras[0].record.event_retention_days = 10
    storage = LocalStorage(cfg.site.data_dir)
    root = storage.camera_dir("cam1")
    with db.session() as s:
        due = _seg(s, root / "a.mp4", "cam1", 5).id
        fresh = _seg(s, root / "b.mp4", "cam1", 1).id
        event_kept = _seg(s, root / "c.mp4", "cam1", 5, has_event=True).id
        event_due = _seg(s, root / "d.mp4", "cam1", 12, has_event=True).id
        held = _seg(s, root / "e.mp4", "cam1", 6).id
        held_start = s.get(Segment, held).start  # type: ignore[union-attr]
        s.add(
            EvidenceHold(
                camera_id="cam1",
                start=held_start - timedelta(seconds=5),
                end=held_start + timedelta(seconds=5),
                reason="assault case",
                reference="INC-9",
                created_by="sue",
            )
        )
    before = retention_report(db, cfg, NOW)
    row = before.cameras[0]
    assert (row.violations, row.held_segments) == (2, 1) and not before.compliant
    assert "VIOLATIONS" in format_table(before)

    res = run_retention(db, cfg, NOW, storage, on_delete=audit_deletion)
    assert sorted(res.deleted) == sorted([due, event_due])
    with db.session() as s:
        left = set(s.execute(select(Segment.id)).scalars())
        assert left == {fresh, event_kept, held}
        entries = [e for e in audit.query(s) if e.action == "segment.delete"]
        assert sorted(int(e.object_id) for e in entries) == sorted([due, event_due])  # type: ignore[arg-type]
        assert all(e.detail["camera_id"] == "cam1" for e in entries)
        assert audit.verify(s).ok
    assert not (root / "a.mp4").exists() and (root / "e.mp4").exists()

    after = retention_report(db, cfg, NOW)
    row = after.cameras[0]
    assert after.compliant and row.violations == 0 and row.held_segments == 1
    assert row.deleted_in_period == 2 and row.segments == 3
    assert row.oldest_age_days is not None and 5.9 < row.oldest_age_days < 6.1
    assert after.as_dict()["cameras"][0]["compliant"] is True

    # releasing the hold makes that segment due; the next run deletes it, audited
    with db.session() as s:
        h = s.execute(select(EvidenceHold)).scalar_one()
        h.released_at, h.released_by = NOW, "sue"
    assert retention_report(db, cfg, NOW).cameras[0].violations == 1
    res = run_retention(db, cfg, NOW, storage, on_delete=audit_deletion)
    assert res.deleted == [held]
