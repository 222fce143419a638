"""Events and alerts: search with keyset pagination, thumbnails, acknowledge, escalate."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from oversight.events.search import BadCursor, search
from oversight.i18n import N_
from oversight.privacy.egress import egress
from oversight.store.base import utcnow
from oversight.store.models import Event
from oversight.web.audit import audit
from oversight.web.auth import Principal, get_ctx, require, scoped_cameras
from oversight.web.context import AppContext
from oversight.web.errors import http_error, service_error
from oversight.web.params import DbId, as_utc

router = APIRouter(prefix="/api/events", tags=["events"])


class EventOut(BaseModel):
    id: int
    camera_id: str
    camera_name: str
    label: str
    rule_id: str | None
    rule_type: str | None
    track_id: int | None
    start: datetime
    end: datetime | None
    confidence: float
    has_snapshot: bool
    thumbnail: str | None
    acknowledged_at: datetime | None
    acknowledged_by: str | None
    ack_note: str | None
    data: dict[str, Any]


class EventPage(BaseModel):
    items: list[EventOut]
    next_cursor: str | None


class Ack(BaseModel):
    note: str = Field("", max_length=2000)


def _names(ctx: AppContext) -> dict[str, str]:
    return {c.id: c.display_name for c in ctx.cfg.cameras}


def event_out(e: Event, names: dict[str, str]) -> EventOut:
    data = {k: v for k, v in (e.data or {}).items() if k not in ("snapshot", "snapshot_path")}
    return EventOut(
        id=e.id,
        camera_id=e.camera_id,
        camera_name=names.get(e.camera_id, e.camera_id),
        label=e.label,
        rule_id=e.rule_id,
        rule_type=e.rule_type,
        track_id=e.track_id,
        start=e.start,
        end=e.end,
        confidence=e.confidence,
        has_snapshot=bool(e.snapshot_path),
        thumbnail=f"/api/events/{e.id}/thumbnail.jpg" if e.snapshot_path else None,
        acknowledged_at=e.acknowledged_at,
        acknowledged_by=e.acknowledged_by,
        ack_note=e.ack_note,
        data=data,
    )


@router.get("", response_model=EventPage)
def list_events(
    request: Request,
    camera: list[str] | None = Query(None, max_length=64),
    start: datetime | None = None,
    end: datetime | None = None,
    label: str | None = Query(None, max_length=64),
    rule: str | None = Query(None, max_length=64),
    unacknowledged: bool = False,
    limit: int = Query(50, ge=1, le=500),
    cursor: str | None = Query(None, max_length=200),
    who: Principal = Depends(require("events.read")),
) -> EventPage:
    """Events newest first. Filter by camera (repeatable), time range, label, rule; page with ``cursor``."""
    ctx = get_ctx(request)
    cameras = scoped_cameras(who, camera)
    if cameras == []:
        return EventPage(items=[], next_cursor=None)
    with _bad_cursor(), ctx.db.session() as s:
        rows, nxt = search(
            s,
            cameras=cameras,
            start=as_utc(start, "start"),
            end=as_utc(end, "end"),
            label=label,
            rule_id=rule,
            unacknowledged=unacknowledged,
            limit=limit,
            cursor=cursor,
        )
        names = _names(ctx)
        return EventPage(items=[event_out(e, names) for e in rows], next_cursor=nxt)


@contextmanager
def _bad_cursor() -> Iterator[None]:
    try:
        yield
    except BadCursor:
        raise http_error(422, N_("bad cursor")) from None


def _get(s: Session, event_id: int, who: Principal) -> Event:
    e = s.get(Event, event_id)
    if e is None or not who.sees(e.camera_id):
        raise http_error(404, N_("no such event"))
    return e


@router.get("/{event_id}", response_model=EventOut)
def get_event(event_id: DbId, request: Request, who: Principal = Depends(require("events.read"))) -> EventOut:
    ctx = get_ctx(request)
    with ctx.db.session() as s:
        audit(s, who, "event.view", "event", event_id)
        return event_out(_get(s, event_id, who), _names(ctx))


@router.get(
    "/{event_id}/thumbnail.jpg", response_class=Response, responses={200: {"content": {"image/jpeg": {}}}}
)
def thumbnail(
    event_id: DbId, request: Request, who: Principal = Depends(require("footage.view"))
) -> Response:
    """The event's snapshot, redacted like live video unless the viewer holds a covering reveal."""
    ctx = get_ctx(request)
    try:
        jpeg = egress(ctx).thumbnail(who, event_id)
    except LookupError as exc:
        raise service_error(exc, 404) from None
    return Response(jpeg, media_type="image/jpeg", headers={"Cache-Control": "private, no-store"})


@router.post("/{event_id}/ack", response_model=EventOut)
def acknowledge(
    event_id: DbId, body: Ack, request: Request, who: Principal = Depends(require("alerts.handle"))
) -> EventOut:
    """Acknowledge an alert with a note. Acknowledging twice keeps the first acknowledgement."""
    ctx = get_ctx(request)
    with ctx.db.session() as s:
        e = _get(s, event_id, who)
        if e.acknowledged_at is None:
            e.acknowledged_at = utcnow()
            e.acknowledged_by = who.username
            e.ack_note = body.note.strip() or None
            audit(s, who, "alert.ack", "event", event_id, detail={"note": e.ack_note})
        out = event_out(e, _names(ctx))
    ctx.bus.publish(
        "alert.ack",
        {
            "id": out.id,
            "camera_id": out.camera_id,
            "by": out.acknowledged_by,
            "at": out.acknowledged_at.isoformat() if out.acknowledged_at else None,
            "note": out.ack_note,
        },
    )
    return out


# Escalating an alert to an incident: POST /api/events/{event_id}/escalate in routes/incidents.py.
