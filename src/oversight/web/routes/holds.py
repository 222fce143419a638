"""Evidence holds: list them with their expiry, and renew one (a supervisor, in person).

A hold keeps retention away from footage for at most ``site.max_hold_days``; keeping it longer
takes a supervisor's renewal, which moves the expiry to now + ``max_hold_days`` and is audited
with the before and after values (``oversight.recording.retention.holds_in_force``)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field
from sqlalchemy import select

from oversight.i18n import N_
from oversight.store.base import utcnow
from oversight.store.models import EvidenceHold
from oversight.web.audit import audit
from oversight.web.auth import Principal, get_ctx, require
from oversight.web.errors import http_error
from oversight.web.params import DbId

router = APIRouter(prefix="/api/holds", tags=["evidence holds"])
readers = require("holds.read")
renewers = require("holds.renew")


class RenewIn(BaseModel):
    reason: str = Field(min_length=10, max_length=4000)


def _expiry(h: EvidenceHold, max_days: float) -> Any:
    return h.expires_at or h.created_at + timedelta(days=max_days)


def _hold_dict(h: EvidenceHold, max_days: float) -> dict[str, Any]:
    expires = _expiry(h, max_days)
    return {
        "id": h.id,
        "camera_id": h.camera_id,
        "start": h.start.isoformat(),
        "end": h.end.isoformat(),
        "reason": h.reason,
        "reference": h.reference,
        "created_by": h.created_by,
        "created_at": h.created_at.isoformat(),
        "released_at": h.released_at.isoformat() if h.released_at else None,
        "expires_at": expires.isoformat(),
        "in_force": h.released_at is None and expires > utcnow(),
    }


@router.get("")
def list_holds(request: Request, who: Principal = Depends(readers)) -> list[dict[str, Any]]:
    ctx = get_ctx(request)
    with ctx.db.session() as s:
        rows = s.scalars(select(EvidenceHold).order_by(EvidenceHold.id.desc()).limit(500))
        return [_hold_dict(h, ctx.cfg.site.max_hold_days) for h in rows if who.sees(h.camera_id)]


@router.post("/{hold_id}/renew")
def renew_hold(
    hold_id: DbId, body: RenewIn, request: Request, who: Principal = Depends(renewers)
) -> dict[str, Any]:
    ctx = get_ctx(request)
    if who.via != "session":
        raise http_error(403, N_("a hold is renewed by a supervisor logged in, not an API token"))
    max_days = ctx.cfg.site.max_hold_days
    with ctx.db.session() as s:
        h = s.get(EvidenceHold, hold_id, with_for_update=True)
        if h is None or not who.sees(h.camera_id):
            raise http_error(404, N_("no such evidence hold"))
        before = _expiry(h, max_days)
        if h.released_at is not None or before <= utcnow():
            raise http_error(409, N_("this hold is released or has lapsed; place a new one"))
        h.expires_at = utcnow() + timedelta(days=max_days)
        audit(
            s,
            who,
            "evidence.renew",
            "evidence_hold",
            h.id,
            purpose=body.reason,
            detail={"expires_before": before.isoformat(), "expires_after": h.expires_at.isoformat()},
        )
        return _hold_dict(h, max_days)
