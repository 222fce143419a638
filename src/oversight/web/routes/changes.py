"""Changes pending a second person: list, approve, reject (admins and auditors; ``oversight.web.duties``)."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field

from oversight.web import duties
from oversight.web.auth import Principal, get_ctx, require
from oversight.web.errors import service_error
from oversight.web.params import DbId

router = APIRouter(prefix="/api/changes", tags=["changes"])
deciders = require("changes.decide")


class DecisionIn(BaseModel):
    note: str | None = Field(None, max_length=4000)


@router.get("")
def list_changes(
    request: Request,
    status: Literal["pending", "approved", "rejected", "failed"] | None = None,
    who: Principal = Depends(deciders),
) -> list[dict[str, Any]]:
    with get_ctx(request).db.session() as s:
        return [duties.change_dict(c) for c in duties.list_changes(s, status)]


async def _decide(change_id: int, body: DecisionIn, request: Request, who: Principal, approve: bool) -> Any:
    try:
        return await duties.decide(get_ctx(request), change_id, who, approve, body.note)
    except duties.DutyError as exc:
        raise service_error(exc) from None


@router.post("/{change_id}/approve")
async def approve_change(
    change_id: DbId, request: Request, body: DecisionIn | None = None, who: Principal = Depends(deciders)
) -> Any:
    return await _decide(change_id, body or DecisionIn(), request, who, True)


@router.post("/{change_id}/reject")
async def reject_change(
    change_id: DbId, request: Request, body: DecisionIn | None = None, who: Principal = Depends(deciders)
) -> Any:
    return await _decide(change_id, body or DecisionIn(), request, who, False)
