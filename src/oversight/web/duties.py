"""Separation of duties, admins included: a change that could expose people waits for a second person.

Invariant: a sensitive change (weakening a camera's redaction, changing its retention, minting a
token that sees footage or administers, giving an account footage or admin rights, resetting
another user's password) has no effect until a *different* person with the admin or auditor role,
logged in through a browser session, approves it. Request, approval and rejection are audited
with the before and after values.

Each kind of change registers how it is applied (``@applier("kind")``) next to the route that
proposes it, so this module knows nothing of cameras or users.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from oversight.config.schema import CameraConfig, RecordConfig, RedactionConfig
from oversight.i18n import N_, Message, TextError, term
from oversight.permissions import roles_for
from oversight.store.base import utcnow
from oversight.web.audit import audit
from oversight.web.auth import Principal
from oversight.web.context import AppContext
from oversight.web.models import PendingChange

APPROVER_ROLES = roles_for("changes.decide")
# roles whose holder sees footage (even redacted) or can grant rights: granting them needs two people
GUARDED_ROLES = ("viewer", "operator", "supervisor", "admin")

FOOTAGE_RANK = {"viewer": 1, "operator": 2, "supervisor": 3}  # admins and auditors see no footage
# a change's status as a word inside messages (translated where read)
WORDS = {
    "pending": N_("pending"),
    "approving": N_("being applied"),
    "approved": N_("approved"),
    "rejected": N_("rejected"),
    "failed": N_("failed"),
}


def grants_more(old_role: str, new_role: str) -> bool:
    """Whether moving an account from ``old_role`` to ``new_role`` gives it footage or admin rights it
    lacked (a demotion, say operator -> viewer, applies at once)."""
    if new_role == old_role:
        return False
    return new_role == "admin" or FOOTAGE_RANK.get(new_role, 0) > FOOTAGE_RANK.get(old_role, 0)


Applier = Callable[[AppContext, PendingChange, Principal], Awaitable[dict[str, Any]]]
APPLIERS: dict[str, Applier] = {}


class DutyError(TextError):
    def __init__(self, message: str | Message, /, status: int = 400, **params: Any):
        super().__init__(message, **params)
        self.status = status


def applier(kind: str) -> Callable[[Applier], Applier]:
    def register(fn: Applier) -> Applier:
        APPLIERS[kind] = fn
        return fn

    return register


def redaction_weakened(old: RedactionConfig, new: RedactionConfig) -> list[str]:
    """What in ``new`` hides less than ``old`` (a different detector model counts: it may find fewer)."""
    out = [
        f"redaction.{f} turned off"
        for f in ("faces", "persons", "plates")
        if getattr(old, f) and not getattr(new, f)
    ]
    for f in ("face_model_path", "plate_model_path"):
        if getattr(old, f) != getattr(new, f):
            out.append(f"redaction.{f} changed")
    return out


def retention_changed(old: RecordConfig, new: RecordConfig) -> list[str]:
    return [
        f"record.{f} {getattr(old, f)} -> {getattr(new, f)}"
        for f in ("retention_days", "event_retention_days")
        if getattr(old, f) != getattr(new, f)
    ]


def camera_reasons(old: CameraConfig | None, new: CameraConfig) -> list[str]:
    """Why a camera change needs a second person (empty: it may apply at once). A new camera is
    compared with the defaults."""
    red = old.redaction if old else RedactionConfig()
    rec = old.record if old else RecordConfig()
    return (
        redaction_weakened(red, new.redaction) + retention_changed(rec, new.record) + masks_weakened(old, new)
    )


def masks_weakened(old: CameraConfig | None, new: CameraConfig) -> list[str]:
    """A privacy mask removed, moved, made liftable or tied to a preset, or a PTZ camera's presets
    changed: each can show a private place that was hidden."""
    if old is None:
        return []
    now = {m.id: m for m in new.masks}
    out = [f"privacy mask {m.id} removed or changed" for m in old.masks if now.get(m.id) != m]
    if old.ptz is not None and (new.ptz is None or set(new.ptz.presets) != set(old.ptz.presets)):
        out.append("ptz presets changed")
    return out


def propose(
    s: Session,
    who: Principal,
    kind: str,
    target: str,
    reasons: list[str],
    before: dict[str, Any],
    after: dict[str, Any],
    payload: dict[str, Any] | None = None,
) -> PendingChange:
    row = PendingChange(
        kind=kind,
        target=target,
        reasons=reasons,
        before=before,
        after=after,
        payload=payload or {},
        status="pending",
        requested_by=who.username,
        requested_at=utcnow(),
    )
    s.add(row)
    s.flush()
    audit(
        s,
        who,
        "change.request",
        "pending_change",
        row.id,
        detail={"kind": kind, "target": target, "reasons": reasons, "before": before, "after": after},
    )
    return row


def change_dict(c: PendingChange) -> dict[str, Any]:
    return {
        "id": c.id,
        "kind": c.kind,
        "target": c.target,
        "reasons": list(c.reasons or []),
        "before": c.before,
        "after": c.after,
        "status": c.status,
        "requested_by": c.requested_by,
        "requested_at": c.requested_at.isoformat(),
        "decided_by": c.decided_by,
        "decided_at": c.decided_at.isoformat() if c.decided_at else None,
        "note": c.note,
        "needs": "approval by another admin or an auditor" if c.status == "pending" else None,
    }


def pending_answer(c: PendingChange) -> dict[str, Any]:
    """What a route answers (HTTP 202) when its change waits for a second person."""
    return {"pending_change": change_dict(c), "applied": False}


def _claim(s: Session, change_id: int, who: Principal) -> PendingChange:
    c = s.get(PendingChange, change_id, with_for_update=True)
    if c is None:
        raise DutyError(N_("no pending change {change_id}"), 404, change_id=change_id)
    if who.via != "session":
        raise DutyError(N_("a change must be decided by a person logged in, not an API token"), 403)
    if who.role not in APPROVER_ROLES:
        raise DutyError(N_("only an admin or an auditor may decide a change"), 403)
    if who.username == c.requested_by:
        raise DutyError(N_("the requester cannot decide their own change (separation of duties)"), 403)
    if c.status != "pending":
        raise DutyError(
            N_("change {change_id} is already {state}"), 409, change_id=change_id, state=term(c.status, WORDS)
        )
    return c


async def decide(
    ctx: AppContext, change_id: int, who: Principal, approve: bool, note: str | None
) -> dict[str, Any]:
    """Approve (apply, then record) or reject a pending change."""
    with ctx.db.session() as s:
        c = _claim(s, change_id, who)
        c.status = "approving" if approve else "rejected"
        c.decided_by, c.decided_at, c.note = who.username, utcnow(), note
        if not approve:
            audit(
                s, who, "change.reject", "pending_change", c.id, detail={"kind": c.kind, "target": c.target}
            )
            return change_dict(c)
        s.flush()  # "approving" is committed first: a second approval in the meantime gets 409
        s.expunge(c)
    result: dict[str, Any] = {}
    status = "approved"
    try:
        result = await APPLIERS[c.kind](ctx, c, who)
    except Exception as exc:  # the change did not take effect: say so, keep it decided
        status, result = "failed", {"error": f"{type(exc).__name__}: {exc}"}
    with ctx.db.session() as s:
        row = s.get(PendingChange, change_id)
        assert row is not None
        row.status = status
        audit(
            s,
            who,
            "change.approve",
            "pending_change",
            row.id,
            purpose=note,
            detail={
                "kind": row.kind,
                "target": row.target,
                "requested_by": row.requested_by,
                "before": row.before,
                "after": row.after,
                "status": status,
                "result": result,
            },
        )
        return change_dict(row) | {"result": result}


def list_changes(s: Session, status: str | None = None) -> list[PendingChange]:
    q = select(PendingChange).order_by(PendingChange.id.desc()).limit(200)
    if status:
        q = q.where(PendingChange.status == status)
    return list(s.scalars(q))
