"""The operator console's own state: saved views (layouts of chosen cameras, tours) and bookmarks.

Views are the console's furniture, not footage: they carry camera ids, never pixels. A private view
is its owner's alone; a shared one is listed to every console user and only ``views.share`` may
create, change or delete it. Bookmarks mark a moment or span of a camera's footage with a note;
attaching one to an incident holds its footage as evidence (``incidents.evidence``), in the same
transaction that records the link. Writes are audited.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from oversight.i18n import N_
from oversight.incidents.errors import IncidentError
from oversight.permissions import allowed
from oversight.store.base import utcnow
from oversight.store.models import Event
from oversight.web.audit import audit
from oversight.web.auth import Principal, check_cameras, get_ctx, require
from oversight.web.console_models import Bookmark, SavedView
from oversight.web.context import AppContext
from oversight.web.errors import http_error, service_error
from oversight.web.params import CameraId, DbId, as_utc

router = APIRouter(prefix="/api", tags=["console"])
USERS = require("views.use")
READERS = require("bookmarks.read")
MARKERS = require("bookmarks.create")
SHARERS = require("views.share")
RECORDERS = require("recording.manual")

# tiles per layout; "1+5" is one large tile and five small ones around it
LAYOUTS: dict[str, int] = {"1": 1, "2x2": 4, "3x3": 9, "4x4": 16, "1+5": 6}
MOMENT_CLIP = timedelta(seconds=15)  # a moment attached as evidence holds this much either side


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CellIn(_Body):
    cameras: list[str] = Field(default_factory=list, max_length=32)  # more than one: a tour
    dwell_s: int = Field(10, ge=3, le=3600)  # seconds on each camera of a tour


class ViewIn(_Body):
    name: str = Field(min_length=1, max_length=80)
    layout: Literal["1", "2x2", "3x3", "4x4", "1+5"]
    cells: list[CellIn] = Field(max_length=16)
    shared: bool = False


class ShareIn(_Body):
    shared: bool


class BookmarkIn(_Body):
    camera_id: str = Field(min_length=1, max_length=64)
    start: datetime
    end: datetime | None = None
    note: str = Field(default="", max_length=2000)
    source: Literal["live", "playback"] = "live"


class RecordNowIn(_Body):
    seconds: int = Field(60, ge=5, le=1800)
    note: str = Field(default="", max_length=2000)


class AttachIn(_Body):
    incident_id: int = Field(ge=1, le=2_147_483_647)


def _view_dict(v: SavedView, who: Principal) -> dict[str, Any]:
    """A view as ``who`` gets it: a shared view's cells name only the cameras ``who`` may see."""
    cells = [{**c, "cameras": [cid for cid in c.get("cameras", []) if who.sees(cid)]} for c in v.cells or []]
    return {
        "id": v.id,
        "name": v.name,
        "layout": v.layout,
        "cells": cells,
        "owner": v.owner,
        "shared": bool(v.shared),
        "updated_at": v.updated_at.isoformat(),
    }


def _check_view(ctx: AppContext, body: ViewIn, who: Principal) -> None:
    if body.shared and not allowed(who.role, "views.share"):
        raise http_error(403, N_("only a supervisor may share a view"))
    if len(body.cells) > LAYOUTS[body.layout]:
        raise http_error(
            422,
            N_("layout {layout} has {tiles} tiles, not {cells}"),
            layout=body.layout,
            tiles=LAYOUTS[body.layout],
            cells=len(body.cells),
        )
    known = {c.id for c in ctx.cfg.cameras}
    unknown = sorted({c for cell in body.cells for c in cell.cameras} - known)
    if unknown:
        raise http_error(422, N_("unknown camera(s): {unknown}"), unknown=", ".join(unknown))
    check_cameras(who, [c for cell in body.cells for c in cell.cameras])


def _visible(who: Principal) -> Any:
    return or_(SavedView.owner == who.username, SavedView.shared.is_(True))


def _own_view(s: Session, view_id: int, who: Principal) -> SavedView:
    """The view ``who`` may change: their own, or a shared one when they may share views."""
    v = s.get(SavedView, view_id)
    if v is None or (v.owner != who.username and not v.shared):
        raise http_error(404, N_("no such view"))
    if v.owner != who.username and not allowed(who.role, "views.share"):
        raise http_error(403, N_("a shared view is changed by a supervisor"))
    return v


@router.get("/views")
def list_views(request: Request, who: Principal = Depends(USERS)) -> list[dict[str, Any]]:
    """The caller's own views and every shared one, by name."""
    with get_ctx(request).db.session() as s:
        rows = s.scalars(select(SavedView).where(_visible(who)).order_by(SavedView.name, SavedView.id))
        return [_view_dict(v, who) for v in rows]


@router.get("/views/{view_id}")
def get_view(view_id: DbId, request: Request, who: Principal = Depends(USERS)) -> dict[str, Any]:
    with get_ctx(request).db.session() as s:
        v = s.get(SavedView, view_id)
        if v is None or (v.owner != who.username and not v.shared):
            raise http_error(404, N_("no such view"))
        return _view_dict(v, who)


@router.post("/views", status_code=201)
def create_view(body: ViewIn, request: Request, who: Principal = Depends(USERS)) -> dict[str, Any]:
    ctx = get_ctx(request)
    _check_view(ctx, body, who)
    with ctx.db.session() as s:
        now = utcnow()
        v = SavedView(
            name=body.name.strip() or "view",
            layout=body.layout,
            cells=[c.model_dump() for c in body.cells],
            owner=who.username,
            shared=body.shared,
            created_at=now,
            updated_at=now,
        )
        s.add(v)
        s.flush()
        audit(s, who, "view.create", "view", v.id, detail={"name": v.name, "shared": v.shared})
        return _view_dict(v, who)


@router.put("/views/{view_id}")
def update_view(
    view_id: DbId, body: ViewIn, request: Request, who: Principal = Depends(USERS)
) -> dict[str, Any]:
    ctx = get_ctx(request)
    _check_view(ctx, body, who)
    with ctx.db.session() as s:
        v = _own_view(s, view_id, who)
        v.name, v.layout, v.shared = body.name.strip() or v.name, body.layout, body.shared
        v.cells = [c.model_dump() for c in body.cells]
        v.updated_at = utcnow()
        audit(s, who, "view.update", "view", v.id, detail={"name": v.name, "shared": v.shared})
        return _view_dict(v, who)


@router.delete("/views/{view_id}", status_code=204)
def delete_view(view_id: DbId, request: Request, who: Principal = Depends(USERS)) -> None:
    with get_ctx(request).db.session() as s:
        v = _own_view(s, view_id, who)
        audit(s, who, "view.delete", "view", v.id, detail={"name": v.name})
        s.delete(v)


@router.put("/views/{view_id}/shared")
def share_view(
    view_id: DbId, body: ShareIn, request: Request, who: Principal = Depends(SHARERS)
) -> dict[str, Any]:
    """Share a view with every console user, or take it back (any owner's view the caller can see)."""
    with get_ctx(request).db.session() as s:
        v = _own_view(s, view_id, who)
        v.shared, v.updated_at = body.shared, utcnow()
        audit(s, who, "view.share" if body.shared else "view.unshare", "view", v.id, detail={"name": v.name})
        return _view_dict(v, who)


# ---------------------------------------------------------------- bookmarks


def _bookmark_dict(b: Bookmark) -> dict[str, Any]:
    return {
        "id": b.id,
        "camera_id": b.camera_id,
        "start": b.start.isoformat(),
        "end": b.end.isoformat() if b.end else None,
        "note": b.note,
        "source": b.source,
        "created_by": b.created_by,
        "created_at": b.created_at.isoformat(),
        "incident_id": b.incident_id,
    }


@router.post("/bookmarks", status_code=201)
def create_bookmark(body: BookmarkIn, request: Request, who: Principal = Depends(MARKERS)) -> dict[str, Any]:
    ctx = get_ctx(request)
    if body.camera_id not in {c.id for c in ctx.cfg.cameras}:
        raise http_error(422, N_("unknown camera {camera_id!r}"), camera_id=body.camera_id)
    check_cameras(who, [body.camera_id])
    start, end = as_utc(body.start, "start"), as_utc(body.end, "end")
    assert start is not None
    if end is not None and not start < end:
        raise http_error(422, N_("a bookmarked span must end after it starts"))
    if end is not None and end - start > timedelta(hours=24):
        raise http_error(422, N_("a bookmarked span may be at most 24 hours long"))
    with ctx.db.session() as s:
        b = Bookmark(
            camera_id=body.camera_id,
            start=start,
            end=end,
            note=body.note.strip(),
            source=body.source,
            created_by=who.username,
            created_at=utcnow(),
        )
        s.add(b)
        s.flush()
        audit(s, who, "bookmark.create", "bookmark", b.id, detail={"camera_id": b.camera_id})
        return _bookmark_dict(b)


@router.get("/bookmarks")
def search_bookmarks(
    request: Request,
    q: str | None = Query(None, max_length=200, description="words in the note"),
    camera_id: str | None = Query(None, max_length=64),
    start: datetime | None = None,
    end: datetime | None = None,
    limit: int = Query(200, ge=1, le=1000),
    who: Principal = Depends(READERS),
) -> list[dict[str, Any]]:
    """Bookmarks newest first, filtered by note text, camera and the footage time they mark."""
    query = select(Bookmark).order_by(Bookmark.start.desc(), Bookmark.id.desc()).limit(limit)
    for word in (q or "").split():
        pattern = "%" + word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        query = query.where(Bookmark.note.ilike(pattern, escape="\\"))
    if camera_id:
        query = query.where(Bookmark.camera_id == camera_id)
    if (t0 := as_utc(start, "start")) is not None:
        query = query.where(Bookmark.start >= t0)
    if (t1 := as_utc(end, "end")) is not None:
        query = query.where(Bookmark.start <= t1)
    with get_ctx(request).db.session() as s:
        return [_bookmark_dict(b) for b in s.scalars(query) if who.sees(b.camera_id)]


@router.post("/bookmarks/{bookmark_id}/incident")
def attach_bookmark(
    bookmark_id: DbId, body: AttachIn, request: Request, who: Principal = Depends(MARKERS)
) -> dict[str, Any]:
    """Attach the bookmark's footage to an incident: a clip under an evidence hold with its note."""
    ctx = get_ctx(request)
    svc = ctx.incident_service()
    try:
        with ctx.db.session() as s:
            b = s.get(Bookmark, bookmark_id)
            if b is None or not who.sees(b.camera_id):
                raise http_error(404, N_("no such bookmark"))
            start, end = (b.start, b.end) if b.end else (b.start - MOMENT_CLIP, b.start + MOMENT_CLIP)
            note = f"bookmark #{b.id}" + (f": {b.note}" if b.note else "")
            svc.attach_clip(s, body.incident_id, b.camera_id, start, end, who.username, note[:500])
            b.incident_id = body.incident_id
            audit(s, who, "bookmark.attach", "bookmark", b.id, detail={"incident": body.incident_id})
            return _bookmark_dict(b)
    except IncidentError as exc:
        raise service_error(exc) from None


@router.post("/cameras/{camera_id}/record-now", status_code=201)
def record_now(
    camera_id: CameraId, body: RecordNowIn, request: Request, who: Principal = Depends(RECORDERS)
) -> dict[str, Any]:
    """A manual event on an events-only camera: it records from its pre-roll until ``seconds`` from
    now plus its post-roll, the event is on the timeline and the span is bookmarked with the note."""
    ctx = get_ctx(request)
    cam = next((c for c in ctx.cfg.cameras if c.id == camera_id), None)
    if cam is None:
        raise http_error(404, N_("no camera '{camera_id}'"), camera_id=camera_id)
    if cam.record.mode != "events":
        raise http_error(
            409,
            N_("{display_name} records continuously: bookmark the moment instead"),
            display_name=cam.display_name,
        )
    worker = ctx.worker(camera_id)
    if worker is None or not hasattr(worker, "record_now"):
        raise http_error(409, N_("{display_name} is not running here"), display_name=cam.display_name)
    now = utcnow()
    until = now + timedelta(seconds=body.seconds)
    worker.record_now(body.seconds, now.timestamp())
    note = body.note.strip() or "manual recording"
    with ctx.db.session() as s:
        ev = Event(
            camera_id=camera_id, label="manual", start=now, end=until, data={"by": who.username, "note": note}
        )
        b = Bookmark(
            camera_id=camera_id,
            start=now - timedelta(seconds=cam.record.pre_roll),
            end=until,
            note=note,
            source="live",
            created_by=who.username,
            created_at=now,
        )
        s.add_all([ev, b])
        s.flush()
        audit(
            s, who, "recording.manual", "camera", camera_id, detail={"event": ev.id, "seconds": body.seconds}
        )
        return {"event_id": ev.id, "until": until.isoformat(), "bookmark": _bookmark_dict(b)}
