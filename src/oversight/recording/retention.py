"""Retention: delete footage that is due, never footage under an active evidence hold.

Rules, per segment:
* due when its end is older than the camera's ``record.retention_days``; segments that overlap
  an event (``has_event``) keep ``event_retention_days`` instead (never less than the plain one);
* a segment that overlaps an ``EvidenceHold`` in force on its camera (not released, not past its
  expiry: ``holds_in_force``) is never deleted, by age or by the storage cap; a hold lasts at most
  ``site.max_hold_days`` unless a supervisor renews it;
* the storage cap (``site.storage_cap_gb``) then evicts the oldest remaining segments first;
  ``enforce_space`` applies it, and a minimum of free disk (``site.min_free_gb``), every
  ``SPACE_CHECK_S`` seconds between the full runs, with ``HEADROOM`` below the limit;
* a row whose file has vanished is removed (reason ``missing``) so the index stays true;
* a camera whose retention period cannot be used is reported in ``errors`` and skipped by age;
  every other camera, and the storage cap, are still processed.

Each deletion runs in its own transaction: the row is deleted and the ``on_delete`` hook (the
audit log) is called, then the file is unlinked, then the transaction commits. If the unlink
fails the transaction rolls back and the row stays: a row never points to a missing file.
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import ColumnElement, and_, func, or_, select
from sqlalchemy.orm import Session

from oversight.config.schema import RecordConfig, SiteConfig
from oversight.recording.storage import LocalStorage
from oversight.store.base import utcnow
from oversight.store.db import Database
from oversight.store.models import EvidenceHold, Segment

log = logging.getLogger(__name__)

OnDelete = Callable[[Session, Segment, str], Any]


@dataclass
class RetentionResult:
    deleted: list[int] = field(default_factory=list)  # segment ids
    by_reason: dict[str, int] = field(default_factory=dict)
    bytes_freed: int = 0
    held: int = 0  # due segments kept because of an evidence hold
    errors: list[str] = field(default_factory=list)
    bytes_after: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "deleted": len(self.deleted),
            "by_reason": dict(self.by_reason),
            "bytes_freed": self.bytes_freed,
            "held": self.held,
            "errors": list(self.errors),
            "bytes_after": self.bytes_after,
        }


def _keep_days(rec: RecordConfig, has_event: bool) -> float:
    if has_event and rec.event_retention_days is not None:
        return max(rec.retention_days, rec.event_retention_days)
    return rec.retention_days


def _cutoff(
    rec: RecordConfig, has_event: bool, now: datetime, camera_id: str, res: RetentionResult
) -> datetime | None:
    """Segments ending before this are due; None (reported) when the camera's value is unusable,
    so one odd camera keeps its footage while every other camera is still processed."""
    try:
        return now - timedelta(days=_keep_days(rec, has_event))
    except (OverflowError, ValueError, TypeError) as exc:
        res.errors.append(f"camera {camera_id}: retention period unusable ({exc}); nothing aged out")
        log.error("retention skipped camera %s: %s", camera_id, exc)
        return None


def holds_in_force(now: datetime, max_hold_days: float) -> ColumnElement[bool]:
    """Holds that still protect footage: not released and not past their expiry, which is
    ``expires_at`` once a supervisor renewed the hold, else ``max_hold_days`` after its creation."""
    return and_(
        EvidenceHold.released_at.is_(None),
        or_(
            EvidenceHold.expires_at > now,
            and_(
                EvidenceHold.expires_at.is_(None),
                EvidenceHold.created_at > now - timedelta(days=max_hold_days),
            ),
        ),
    )


def _held(s: Session, seg: Segment, in_force: ColumnElement[bool]) -> bool:
    q = select(EvidenceHold.id).where(
        EvidenceHold.camera_id == seg.camera_id,
        in_force,
        EvidenceHold.start < seg.end,
        EvidenceHold.end > seg.start,
    )
    return s.scalars(q.limit(1)).first() is not None


def _delete(
    db: Database,
    storage: LocalStorage,
    seg_id: int,
    reason: str,
    on_delete: OnDelete | None,
    res: RetentionResult,
    in_force: ColumnElement[bool],
) -> bool:
    try:
        with db.session() as s:
            seg = s.get(Segment, seg_id)
            if seg is None:
                return False
            if reason != "missing" and _held(s, seg, in_force):  # re-checked inside the transaction
                res.held += 1
                return False
            nbytes = seg.bytes
            s.delete(seg)
            if on_delete is not None:
                on_delete(s, seg, reason)
            s.flush()
            storage.delete(seg.path)  # OSError -> rollback, the row stays
    except Exception as exc:
        res.errors.append(f"segment {seg_id}: {exc}")
        log.warning("retention could not delete segment %s: %s", seg_id, exc)
        return False
    res.deleted.append(seg_id)
    res.by_reason[reason] = res.by_reason.get(reason, 0) + 1
    res.bytes_freed += nbytes
    return True


def run_retention(
    db: Database, cfg: SiteConfig, now: datetime, storage: LocalStorage, on_delete: OnDelete | None = None
) -> RetentionResult:
    res = RetentionResult()
    in_force = holds_in_force(now, cfg.site.max_hold_days)
    records = {c.id: c.record for c in cfg.cameras}
    default = RecordConfig.model_validate({})  # cameras removed from the config still age out
    with db.session() as s:
        rows = list(
            s.execute(
                select(
                    Segment.id,
                    Segment.camera_id,
                    Segment.start,
                    Segment.end,
                    Segment.has_event,
                    Segment.path,
                    Segment.bytes,
                ).order_by(Segment.start, Segment.id)
            )
        )
        holds = list(
            s.execute(select(EvidenceHold.camera_id, EvidenceHold.start, EvidenceHold.end).where(in_force))
        )
    held_ids = {
        r.id
        for r in rows
        if any(h.camera_id == r.camera_id and h.start < r.end and h.end > r.start for h in holds)
    }
    remaining: list[tuple[int, int]] = []  # (id, bytes) oldest first
    cutoffs: dict[tuple[str, bool], datetime | None] = {}
    for r in rows:
        if not storage.exists(r.path):
            _delete(db, storage, r.id, "missing", on_delete, res, in_force)
            continue
        key = (r.camera_id, bool(r.has_event))
        if key not in cutoffs:
            cutoffs[key] = _cutoff(records.get(r.camera_id, default), r.has_event, now, r.camera_id, res)
        cutoff = cutoffs[key]
        due = cutoff is not None and r.end < cutoff
        if due and r.id in held_ids:
            res.held += 1
        elif due and _delete(db, storage, r.id, "retention", on_delete, res, in_force):
            continue
        remaining.append((r.id, r.bytes))
    total = sum(b for _, b in remaining)
    cap = cfg.site.storage_cap_gb
    if cap is not None:
        limit = int(cap * 1024**3)
        for seg_id, nbytes in remaining:
            if total <= limit:
                break
            if seg_id in held_ids:
                continue
            if _delete(db, storage, seg_id, "storage_cap", on_delete, res, in_force):
                total -= nbytes
    res.bytes_after = total
    return res


HEADROOM = 0.05  # evict 5 % below the limit, so one pass leaves room for a while
SPACE_CHECK_S = 10.0  # how often the runtime calls ``enforce_space``


def _free_bytes(path: Path) -> int:
    while not path.exists() and path != path.parent:
        path = path.parent
    return shutil.disk_usage(path).free


def enforce_space(
    db: Database,
    cfg: SiteConfig,
    storage: LocalStorage,
    on_delete: OnDelete | None = None,
    free_bytes: Callable[[], int] | None = None,
) -> RetentionResult:
    """Cheap enough to run every few seconds: keep recordings under ``storage_cap_gb`` and the disk
    above ``min_free_gb``, evicting the oldest footage not under an evidence hold, with headroom.
    Reads one sum and, only when space is short, the segment list."""
    res = RetentionResult()
    in_force = holds_in_force(utcnow(), cfg.site.max_hold_days)
    free = (free_bytes or (lambda: _free_bytes(storage.root)))()
    with db.session() as s:
        total = int(s.scalar(select(func.coalesce(func.sum(Segment.bytes), 0))) or 0)
    need, reason = 0, "storage_cap"
    if cfg.site.storage_cap_gb is not None and total > cfg.site.storage_cap_gb * 1024**3:
        need = int(total - cfg.site.storage_cap_gb * 1024**3 * (1 - HEADROOM))
    min_free = int(cfg.site.min_free_gb * 1024**3)
    if free < min_free and min_free * (1 + HEADROOM) - free > need:
        need, reason = int(min_free * (1 + HEADROOM) - free), "disk_full"
    res.bytes_after = total
    if need <= 0:
        return res
    with db.session() as s:
        rows = list(s.execute(select(Segment.id, Segment.bytes).order_by(Segment.start, Segment.id)))
    freed = 0
    for seg_id, nbytes in rows:
        if freed >= need:
            break
        if _delete(db, storage, seg_id, reason, on_delete, res, in_force):  # held segments are skipped inside
            freed += nbytes
    res.bytes_after = total - freed
    if freed < need:
        res.errors.append(f"{reason}: could free only {freed} of {need} bytes (the rest is held evidence)")
    return res
