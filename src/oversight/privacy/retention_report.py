"""Retention proof: per camera, the policy, the oldest footage held, and any violation; per kind of
copy (snapshots, caches, exports, reports), its rule and what is overdue.

A violation is footage older than its policy that is not under an active evidence hold: it
should have been deleted. Deletions themselves are proven by the audit log (``segment.delete``
entries written by the retention job through ``on_delete``), which the report counts.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select

from oversight.config.schema import RecordConfig, SiteConfig
from oversight.privacy.copies import CopyKind, copies_report
from oversight.privacy.models import AuditEntry
from oversight.recording.retention import holds_in_force
from oversight.store.base import utcnow
from oversight.store.db import Database
from oversight.store.models import EvidenceHold, Segment

DELETE_ACTIONS = ("segment.delete", "footage.delete")


def _keep_days(rec: RecordConfig, has_event: bool) -> float:
    """Same rule as ``oversight.recording.retention``: event footage keeps the longer of the two."""
    if has_event and rec.event_retention_days is not None:
        return max(rec.retention_days, rec.event_retention_days)
    return rec.retention_days


@dataclass
class CameraRetention:
    camera_id: str
    name: str
    retention_days: float
    event_retention_days: float | None
    segments: int = 0
    bytes: int = 0
    oldest: str | None = None  # start of the oldest footage held
    oldest_age_days: float | None = None
    held_segments: int = 0  # past policy but kept because of an evidence hold
    violations: int = 0  # past policy, not held: should be gone
    oldest_violation: str | None = None
    deleted_in_period: int = 0

    @property
    def compliant(self) -> bool:
        return self.violations == 0


@dataclass
class RetentionReport:
    generated_at: str
    since: str | None
    cameras: list[CameraRetention] = field(default_factory=list)
    active_holds: int = 0
    copies: list[CopyKind] = field(default_factory=list)  # snapshots, caches, exports, reports

    @property
    def compliant(self) -> bool:
        return all(c.compliant for c in self.cameras) and not any(k.overdue for k in self.copies)

    def as_dict(self) -> dict[str, Any]:
        return {
            "generated_at": self.generated_at,
            "since": self.since,
            "compliant": self.compliant,
            "active_holds": self.active_holds,
            "cameras": [asdict(c) | {"compliant": c.compliant} for c in self.cameras],
            "copies": [asdict(k) for k in self.copies],
        }


def retention_report(
    db: Database, cfg: SiteConfig, now: datetime | None = None, since: datetime | None = None
) -> RetentionReport:
    now = now or utcnow()
    rep = RetentionReport(generated_at=now.isoformat(), since=since.isoformat() if since else None)
    cams = {c.id: c for c in cfg.cameras}
    with db.session() as s:
        seg_cams = set(s.execute(select(Segment.camera_id).distinct()).scalars())
        in_force = holds_in_force(now, cfg.site.max_hold_days)
        holds = list(s.execute(select(EvidenceHold).where(in_force)).scalars())
        rep.active_holds = len(holds)
        deletions: dict[str, int] = {}
        q = select(AuditEntry.detail).where(AuditEntry.action.in_(DELETE_ACTIONS))
        if since:
            q = q.where(AuditEntry.ts >= since)
        for detail in s.execute(q).scalars():
            cid = (detail or {}).get("camera_id", "?")
            deletions[cid] = deletions.get(cid, 0) + 1
        for cid in sorted(set(cams) | seg_cams):
            cam = cams.get(cid)
            rec = cam.record if cam else RecordConfig.model_validate({})
            row = CameraRetention(
                cid,
                cam.display_name if cam else f"{cid} (removed from config)",
                rec.retention_days,
                rec.event_retention_days,
            )
            agg = s.execute(
                select(
                    func.count(Segment.id), func.coalesce(func.sum(Segment.bytes), 0), func.min(Segment.start)
                ).where(Segment.camera_id == cid)
            ).one()
            row.segments, row.bytes = int(agg[0]), int(agg[1])
            if agg[2] is not None:
                oldest = agg[2]
                row.oldest = oldest.isoformat()
                row.oldest_age_days = round((now - oldest).total_seconds() / 86400, 2)
            cam_holds = [h for h in holds if h.camera_id == cid]
            cutoff = now - timedelta(days=min(rec.retention_days, _keep_days(rec, True)))
            old = s.execute(
                select(Segment).where(Segment.camera_id == cid, Segment.end < cutoff).order_by(Segment.start)
            ).scalars()
            for seg in old:
                if seg.end >= now - timedelta(days=_keep_days(rec, seg.has_event)):
                    continue
                if any(h.start < seg.end and h.end > seg.start for h in cam_holds):
                    row.held_segments += 1
                else:
                    row.violations += 1
                    row.oldest_violation = row.oldest_violation or seg.start.isoformat()
            row.deleted_in_period = deletions.get(cid, 0)
            rep.cameras.append(row)
    rep.copies = copies_report(db, cfg, now)
    return rep


def format_table(rep: RetentionReport) -> str:
    lines = [
        f"Retention report at {rep.generated_at} — {'COMPLIANT' if rep.compliant else 'VIOLATIONS FOUND'}",
        f"{'camera':<16} {'policy d':>8} {'event d':>8} {'segments':>8} {'oldest age d':>12} "
        f"{'held':>5} {'violations':>10} {'deleted':>8}",
    ]
    for c in rep.cameras:
        lines.append(
            f"{c.camera_id:<16} {c.retention_days:>8g} {c.event_retention_days or 0:>8g} {c.segments:>8} "
            f"{'' if c.oldest_age_days is None else c.oldest_age_days:>12} {c.held_segments:>5} "
            f"{c.violations:>10} {c.deleted_in_period:>8}"
        )
        if c.violations:
            lines.append(
                f"  ! {c.violations} segment(s) past policy and not held; oldest from {c.oldest_violation}"
            )
    lines.append(f"{'copies':<16} {'rule':<46} {'files':>6} {'bytes':>12} {'overdue':>8}")
    for k in rep.copies:
        lines.append(f"{k.kind:<16} {k.rule:<46} {k.files:>6} {k.bytes:>12} {k.overdue:>8}")
    return "\n".join(lines)
