"""Retention on a fixed clock: exactly what is due goes, held evidence never, the cap evicts oldest first."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from oversight.config.schema import SiteConfig
from oversight.recording.index import insert_segment
from oversight.recording.retention import run_retention
from oversight.recording.storage import LocalStorage
from oversight.store.db import Database
from oversight.store.models import EvidenceHold, Segment

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def site(tmp_path: Path, cap_gb: float | None = None) -> SiteConfig:
    cams = [
        {
            "id": "a",
            "purpose": "retention test",
            "streams": {"record": "x.mp4"},
            "record": {"retention_days": 7, "event_retention_days": 30},
        },
        {
            "id": "b",
            "purpose": "retention test",
            "streams": {"record": "y.mp4"},
            "record": {"retention_days": 2, "event_retention_days": None},
        },
    ]
    return SiteConfig.model_validate(
        {"site": {"data_dir": str(tmp_path), "storage_cap_gb": cap_gb}, "cameras": cams}
    )


def add(
    db: Database,
    storage: LocalStorage,
    cam: str,
    age_days: float,
    *,
    event: bool = False,
    nbytes: int = 1000,
    minutes: float = 1,
) -> int:
    start = NOW - timedelta(days=age_days)
    path = storage.new_segment_path(cam, start)
    path.write_bytes(b"\0" * nbytes)
    return insert_segment(db, cam, start, start + timedelta(minutes=minutes), path, nbytes, event).id


def rows(db: Database) -> dict[int, Segment]:
    with db.session() as s:
        return {x.id: x for x in s.scalars(select(Segment))}


def hold(db: Database, cam: str, start: datetime, end: datetime, released: bool = False) -> None:
    with db.session() as s:
        s.add(
            EvidenceHold(
                camera_id=cam,
                start=start,
                end=end,
                reason="case 12",
                created_by="sup",
                released_at=NOW if released else None,
            )
        )


def assert_index_true(db: Database) -> None:
    for seg in rows(db).values():
        assert Path(seg.path).is_file(), f"row {seg.id} points to a missing file"


def test_deletes_exactly_what_is_due(db: Database, tmp_path: Path):
    st = LocalStorage(tmp_path)
    keep_a = add(db, st, "a", 6.9)
    due_a = add(db, st, "a", 7.1)
    event_a = add(db, st, "a", 20, event=True)  # an event keeps 30 days
    event_due_a = add(db, st, "a", 31, event=True)
    keep_b = add(db, st, "b", 1.9)
    due_b = add(db, st, "b", 2.1)
    event_b = add(db, st, "b", 2.1, event=True)  # no event retention: plain 2 days
    gone_cam = add(db, st, "removed", 8)  # a camera no longer configured: default 7 days
    calls: list[tuple[int, str]] = []

    def hook(session: Session, seg: Segment, reason: str) -> None:
        assert isinstance(session, Session)
        calls.append((seg.id, reason))

    paths = {k: v.path for k, v in rows(db).items()}
    res = run_retention(db, site(tmp_path), NOW, st, on_delete=hook)
    assert sorted(res.deleted) == sorted([due_a, event_due_a, due_b, event_b, gone_cam])
    assert sorted(calls) == sorted((i, "retention") for i in res.deleted)
    assert set(rows(db)) == {keep_a, event_a, keep_b}
    for i in res.deleted:
        assert not Path(paths[i]).exists()
    assert res.bytes_freed == 5000
    assert_index_true(db)
    assert run_retention(db, site(tmp_path), NOW, st).deleted == []  # idempotent


def test_held_evidence_is_never_deleted(db: Database, tmp_path: Path):
    st = LocalStorage(tmp_path)
    held = add(db, st, "a", 40)
    released = add(db, st, "a", 50)
    other_cam = add(db, st, "b", 40)  # a hold on camera a does not protect camera b
    s_held = NOW - timedelta(days=40)
    hold(db, "a", s_held + timedelta(seconds=30), s_held + timedelta(hours=1))  # overlaps the segment
    s_rel = NOW - timedelta(days=50)
    hold(db, "a", s_rel, s_rel + timedelta(hours=1), released=True)
    res = run_retention(db, site(tmp_path), NOW, st)
    assert sorted(res.deleted) == sorted([released, other_cam])
    assert set(rows(db)) == {held} and res.held == 1
    assert_index_true(db)


def test_storage_cap_evicts_oldest_first_but_not_held(db: Database, tmp_path: Path):
    st = LocalStorage(tmp_path)
    mb = 1024 * 1024
    ids = [add(db, st, "a", age, nbytes=mb) for age in (5.0, 4.0, 3.0, 2.0, 1.0)]  # all within retention
    oldest = NOW - timedelta(days=5)
    hold(db, "a", oldest, oldest + timedelta(minutes=1))
    res = run_retention(db, site(tmp_path, cap_gb=2.5 * mb / 1024**3), NOW, st)
    # 5 MB over a 2.5 MB cap: the held oldest stays, then the next oldest go until <= 2.5 MB
    assert res.deleted == [ids[1], ids[2], ids[3]]
    assert res.by_reason == {"storage_cap": 3}
    assert set(rows(db)) == {ids[0], ids[4]}
    assert res.bytes_after == 2 * mb
    assert_index_true(db)


def test_failed_unlink_keeps_the_row(db: Database, tmp_path: Path):
    class StuckStorage(LocalStorage):
        def delete(self, path: str | Path) -> bool:
            raise PermissionError(f"read-only: {path}")

    st = StuckStorage(tmp_path)
    seg = add(db, st, "a", 10)
    audited: list[Any] = []
    res = run_retention(db, site(tmp_path), NOW, st, on_delete=lambda s, x, r: audited.append(x.id))
    assert res.deleted == [] and res.errors and "read-only" in res.errors[0]
    assert set(rows(db)) == {seg}  # the row (and its audit entry) rolled back with the failed unlink
    assert_index_true(db)


def test_failing_audit_hook_deletes_nothing(db: Database, tmp_path: Path):
    st = LocalStorage(tmp_path)
    seg = add(db, st, "a", 10)

    def broken(session: Session, s: Segment, reason: str) -> None:
        raise RuntimeError("audit log unavailable")

    res = run_retention(db, site(tmp_path), NOW, st, on_delete=broken)
    assert res.deleted == [] and set(rows(db)) == {seg}
    assert_index_true(db)


def test_row_whose_file_vanished_is_removed(db: Database, tmp_path: Path):
    st = LocalStorage(tmp_path)
    seg = add(db, st, "a", 1)
    Path(rows(db)[seg].path).unlink()
    res = run_retention(db, site(tmp_path), NOW, st)
    assert res.by_reason == {"missing": 1} and rows(db) == {}


@pytest.mark.parametrize("event", [False, True])
def test_boundary_is_by_segment_end(db: Database, tmp_path: Path, event: bool):
    st = LocalStorage(tmp_path)
    days = 30 if event else 7
    # starts just before the boundary but ends after it: not yet due
    seg = add(db, st, "a", days + 0.0001, event=event, minutes=10)
    assert run_retention(db, site(tmp_path), NOW, st).deleted == []
    assert run_retention(db, site(tmp_path), NOW + timedelta(minutes=10), st).deleted == [seg]


def test_runtime_default_hook_writes_the_audit_log(db: Database, tmp_path: Path):
    pytest.importorskip("oversight.privacy.audit")
    from oversight.privacy.models import AuditEntry
    from oversight.runtime import audit_deletion

    st = LocalStorage(tmp_path)
    seg = add(db, st, "a", 10)
    res = run_retention(db, site(tmp_path), NOW, st, on_delete=audit_deletion)
    assert res.deleted == [seg]
    with db.session() as s:
        entries = list(s.scalars(select(AuditEntry).where(AuditEntry.action == "segment.delete")))
    assert [e.object_id for e in entries] == [str(seg)]


def test_one_unusable_camera_is_reported_and_the_others_still_processed(db: Database, tmp_path: Path):
    cfg = site(tmp_path, cap_gb=2500 / 1024**3)
    cfg.cameras[0].record.retention_days = 1e6  # bypasses validation, as a hand-built config could
    storage = LocalStorage(tmp_path / "rec")
    old_a = add(db, storage, "a", 10)
    old_b = add(db, storage, "b", 10)  # due on camera b
    newer = [add(db, storage, "a", 1), add(db, storage, "b", 1), add(db, storage, "a", 0.5)]
    res = run_retention(db, cfg, NOW, storage)
    assert any(e.startswith("camera a:") for e in res.errors), res.errors
    assert res.by_reason.get("retention") == 1 and old_b in res.deleted
    # the storage cap still acts for everyone: 4000 bytes left, cap 2500, oldest go first
    assert res.by_reason.get("storage_cap") == 2 and old_a in res.deleted
    assert set(rows(db)) == set(newer[1:])
    assert_index_true(db)
