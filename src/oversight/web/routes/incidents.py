"""HTTP API of emergency response: /api/incidents, /api/units, /api/dispatch, and the one route
that escalates an alert to an incident (/api/events/{id}/escalate).

Who may do what comes from the permission table (``incidents.read``, ``incidents.manage``,
``units.manage``, ``alerts.handle``, ``footage.view``): operators, supervisors and admins create,
edit and dispatch; auditors read (incidents and reports, for accountability); viewers have no
access (incidents carry callers' details). Unit
status may also come from an integration holding an API token with the operator role (mobile
app, radio gateway). Every service error becomes a 4xx with a plain message and changes nothing.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from oversight.config.incidents import PRIORITIES, UNIT_TYPES
from oversight.i18n import N_, use
from oversight.incidents.errors import IncidentError
from oversight.incidents.models import INCIDENT_STATUSES
from oversight.incidents.reports import incidents_csv, report_csv, report_svg, response_report
from oversight.incidents.serialize import assignment_dict, clip_dict, entry_dict, incident_dict, unit_dict
from oversight.incidents.service import DISPOSITIONS, IncidentService
from oversight.web.auth import Principal, check_cameras, get_ctx, require
from oversight.web.context import AppContext
from oversight.web.errors import http_error, service_error
from oversight.web.params import DbId
from oversight.web.routes.i18n import request_locale

log = logging.getLogger(__name__)


def service_for(ctx: AppContext) -> IncidentService:
    """The installation's incident service (its life belongs to ``oversight.compose``)."""
    return ctx.incident_service()


router = APIRouter(tags=["incidents"])


def _tx(ctx: AppContext, work: Callable[[Session], Any], attempts: int = 4) -> Any:
    """Run ``work`` in its own transaction. On SQLite a writer whose snapshot went stale gets "database
    is locked" at once (busy_timeout does not apply); the whole unit of work is then retried."""
    for attempt in range(attempts):
        try:
            with _errors(), ctx.db.session() as s:
                return work(s)
        except OperationalError as exc:
            if ctx.db.dialect != "sqlite" or "locked" not in str(exc) or attempt == attempts - 1:
                raise
            time.sleep(0.02 * (attempt + 1))
    raise AssertionError("unreachable")


def _change_incident(
    request: Request, incident_id: int, change: Callable[[IncidentService, Session], object]
) -> dict[str, Any]:
    """Apply one change to an incident in its own (retried) transaction; return the new detail."""
    ctx = get_ctx(request)
    svc = service_for(ctx)
    who: Principal = request.state.principal

    def work(s: Session) -> Any:
        _in_scope(svc, s, incident_id, who)
        change(svc, s)
        return _detail(svc, s, incident_id, who)

    return _tx(ctx, work)


@contextlib.contextmanager
def _errors() -> Iterator[None]:
    try:
        yield
    except IncidentError as exc:
        raise service_error(exc) from None
    except ValueError as exc:
        raise service_error(exc, 422) from None


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class LocationFields(_Body):
    lat: float | None = None
    lon: float | None = None
    x: float | None = None
    y: float | None = None
    address: str | None = Field(default=None, max_length=500)


class IncidentIn(LocationFields):
    type: str = Field(min_length=1, max_length=32)
    priority: str | None = None
    district: str | None = Field(default=None, max_length=64)
    description: str = Field(default="", max_length=5000)
    notes: str = Field(default="", max_length=5000)
    caller_name: str | None = Field(default=None, max_length=128)
    caller_phone: str | None = Field(default=None, max_length=64)
    caller_account: str | None = Field(default=None, max_length=5000)
    reported_at: datetime | None = None
    source: Literal["call", "api"] = "call"


class IncidentPatch(_Body):
    type: str | None = None
    priority: str | None = None
    description: str | None = Field(default=None, max_length=5000)
    address: str | None = Field(default=None, max_length=500)
    district: str | None = None
    lat: float | None = None
    lon: float | None = None
    x: float | None = None
    y: float | None = None
    caller_name: str | None = None
    caller_phone: str | None = None
    caller_account: str | None = None


class FromAlertIn(_Body):
    type: str | None = None
    priority: str | None = None
    note: str | None = Field(default=None, max_length=2000)


class StatusIn(_Body):
    status: str
    disposition: str | None = None


class NoteIn(_Body):
    text: str = Field(min_length=1, max_length=5000)


class ClipIn(_Body):
    camera_id: str
    start: datetime
    end: datetime
    note: str = Field(default="", max_length=500)


class DispatchIn(_Body):
    incident_id: int
    unit_id: str
    recommended_unit_id: str | None = None


class UnitIn(_Body):
    id: str
    type: str
    name: str | None = None
    station: str | None = None
    lat: float | None = None
    lon: float | None = None
    x: float | None = None
    y: float | None = None


class UnitStatusIn(_Body):
    status: str
    lat: float | None = None
    lon: float | None = None
    x: float | None = None
    y: float | None = None


class UnitLocationIn(_Body):
    lat: float | None = None
    lon: float | None = None
    x: float | None = None
    y: float | None = None


def _in_scope(svc: IncidentService, s: Any, inc_id: int, who: Principal) -> Any:
    """The incident, unless it came from a camera outside ``who``'s scope (then the same 404 as for
    no incident); incidents with no camera (a phone call) are everyone's who may read incidents."""
    inc = svc.get(s, inc_id)
    if not who.sees(inc.camera_id):
        raise http_error(404, N_("incident {inc_id} not found"), inc_id=inc_id)
    return inc


def _detail(svc: IncidentService, s: Any, inc_id: int, who: Principal) -> dict[str, Any]:
    inc = _in_scope(svc, s, inc_id, who)
    out = incident_dict(inc, svc.settings)
    out["timeline"] = [entry_dict(e) for e in svc.timeline(s, inc.id)]
    out["assignments"] = [assignment_dict(a) for a in svc.assignments(s, inc.id)]
    out["clips"] = [clip_dict(c) for c in svc.clips(s, inc.id) if who.sees(c.camera_id)]
    cams = [c for c in svc.nearest_cameras(inc) if who.sees(c["id"])]
    for c in cams:
        c["live_url"] = f"/api/cameras/{c['id']}/live.mjpeg"
    out["cameras"] = cams
    out["snapshot_url"] = (
        f"/api/events/{inc.event_id}/thumbnail.jpg" if inc.event_id and inc.snapshot_path else None
    )
    out["recommendation"] = svc.recommend(s, inc.id) if inc.status not in ("cleared", "closed") else None
    return out


def _event_in_scope(s: Session, event_id: int, who: Principal) -> None:
    from oversight.store.models import Event

    e = s.get(Event, event_id)
    if e is not None and not who.sees(e.camera_id):
        raise http_error(404, N_("event {event_id} not found"), event_id=event_id)


# ---- catalogue & reports (static paths before /{incident_id}) -----------------------------------


@router.get("/api/incidents/catalogue")
def catalogue(request: Request, who: Principal = Depends(require("incidents.read"))) -> dict[str, Any]:
    """Types, priorities with their targets, statuses, dispositions, districts: what the forms offer."""
    svc = service_for(get_ctx(request))
    st = svc.settings
    return {
        "types": [t.model_dump() for t in st.types],
        "priorities": [{"id": p, "targets": st.target(p).model_dump()} for p in PRIORITIES],
        "statuses": list(INCIDENT_STATUSES),
        "dispositions": list(DISPOSITIONS),
        "unit_types": list(UNIT_TYPES),
        "districts": [{"id": d.id, "name": d.name or d.id} for d in st.districts],
    }


def _period(start: datetime | None, end: datetime | None) -> tuple[datetime, datetime]:
    end = end or datetime.now(UTC) + timedelta(seconds=1)
    start = start or end - timedelta(days=30)
    if start.tzinfo is None or end.tzinfo is None:
        raise http_error(422, N_("start and end need a time zone (e.g. 2026-01-01T00:00:00Z)"))
    return start, end


@router.get("/api/incidents/reports")
def reports(
    request: Request,
    start: datetime | None = None,
    end: datetime | None = None,
    group_by: str = Query("type"),
    period: str = Query("day"),
    who: Principal = Depends(require("incidents.read")),
) -> dict[str, Any]:
    ctx = get_ctx(request)
    svc = service_for(ctx)
    start, end = _period(start, end)
    with _errors(), ctx.db.session() as s:
        return response_report(s, start, end, group_by, period, svc.settings)


@router.get("/api/incidents/reports.csv", response_class=Response)
def reports_csv(
    request: Request,
    start: datetime | None = None,
    end: datetime | None = None,
    group_by: str = Query("type"),
    period: str = Query("day"),
    detail: bool = Query(False, description="one line per incident instead of the grouped percentiles"),
    who: Principal = Depends(require("incidents.read")),
) -> Response:
    ctx = get_ctx(request)
    svc = service_for(ctx)
    start, end = _period(start, end)
    with _errors(), ctx.db.session() as s:
        text = (
            incidents_csv(s, start, end)
            if detail
            else report_csv(response_report(s, start, end, group_by, period, svc.settings))
        )
    name = "incidents" if detail else f"response-times-by-{group_by}"
    return Response(
        text, media_type="text/csv", headers={"Content-Disposition": f'attachment; filename="{name}.csv"'}
    )


@router.get("/api/incidents/reports/chart.svg", response_class=Response)
def reports_chart(
    request: Request,
    start: datetime | None = None,
    end: datetime | None = None,
    group_by: str = Query("type"),
    period: str = Query("day"),
    step: Literal["dispatch", "turnout", "travel", "total"] = "total",
    who: Principal = Depends(require("incidents.read")),
) -> Response:
    ctx = get_ctx(request)
    svc = service_for(ctx)
    start, end = _period(start, end)
    with _errors(), ctx.db.session() as s, use(request_locale(request, who)):  # the reader's language
        svg = report_svg(response_report(s, start, end, group_by, period, svc.settings), step)
    return Response(svg, media_type="image/svg+xml")


# ---- incidents ----------------------------------------------------------------------------------


@router.get("/api/incidents")
def list_incidents(
    request: Request,
    status: str = Query("open", description="open (not closed), all, or one status"),
    limit: int = Query(200, ge=1, le=1000),
    who: Principal = Depends(require("incidents.read")),
) -> list[dict[str, Any]]:
    ctx = get_ctx(request)
    svc = service_for(ctx)
    with _errors(), ctx.db.session() as s:
        incs = [i for i in svc.list_incidents(s, status, limit) if who.sees(i.camera_id)]
        units = svc.active_units_by_incident(s, [i.id for i in incs])
        return [{**incident_dict(i, svc.settings), "units": units.get(i.id, [])} for i in incs]


@router.post("/api/incidents", status_code=201)
def create_incident(
    body: IncidentIn, request: Request, who: Principal = Depends(require("incidents.manage"))
) -> dict[str, Any]:
    ctx = get_ctx(request)
    svc = service_for(ctx)
    source = "api" if who.via == "token" else body.source

    def work(s: Session) -> Any:
        inc = svc.create(s, who.username, source=source, **body.model_dump(exclude={"source"}))
        return _detail(svc, s, inc.id, who)

    return _tx(ctx, work)


@router.post("/api/events/{event_id}/escalate")
def escalate(
    event_id: DbId,
    request: Request,
    body: FromAlertIn | None = None,
    who: Principal = Depends(require("alerts.handle")),
) -> dict[str, Any]:
    """The one way an alert becomes an incident (the alerts page's "Escalate", integrations): the
    alert is acknowledged as escalated; ``created`` is false when an open incident already has it."""
    ctx = get_ctx(request)
    svc = service_for(ctx)
    req = body or FromAlertIn()

    def work(s: Session) -> Any:
        _event_in_scope(s, event_id, who)
        inc, created = svc.escalate(s, event_id, who.username, req.note, type=req.type, priority=req.priority)
        return {
            **_detail(svc, s, inc.id, who),
            "created": created,
            "event_id": event_id,
            "incident_id": inc.id,
        }

    return _tx(ctx, work)


@router.get("/api/incidents/{incident_id}")
def get_incident(
    incident_id: int, request: Request, who: Principal = Depends(require("incidents.read"))
) -> dict[str, Any]:
    ctx = get_ctx(request)
    svc = service_for(ctx)
    with _errors(), ctx.db.session() as s:
        return _detail(svc, s, incident_id, who)


@router.patch("/api/incidents/{incident_id}")
def patch_incident(
    incident_id: int,
    body: IncidentPatch,
    request: Request,
    who: Principal = Depends(require("incidents.manage")),
) -> dict[str, Any]:
    changes = body.model_dump(exclude_unset=True)
    return _change_incident(
        request, incident_id, lambda svc, s: svc.update(s, incident_id, who.username, **changes)
    )


@router.post("/api/incidents/{incident_id}/status")
def set_status(
    incident_id: int, body: StatusIn, request: Request, who: Principal = Depends(require("incidents.manage"))
) -> dict[str, Any]:
    return _change_incident(
        request,
        incident_id,
        lambda svc, s: svc.advance(s, incident_id, body.status, who.username, body.disposition),
    )


@router.post("/api/incidents/{incident_id}/notes")
def add_note(
    incident_id: int, body: NoteIn, request: Request, who: Principal = Depends(require("incidents.manage"))
) -> dict[str, Any]:
    return _change_incident(
        request, incident_id, lambda svc, s: svc.add_note(s, incident_id, who.username, body.text)
    )


@router.post("/api/incidents/{incident_id}/clips", status_code=201)
def attach_clip(
    incident_id: int,
    body: ClipIn,
    request: Request,
    who: Principal = Depends(require("footage.view")),
) -> dict[str, Any]:
    """Attach footage; it is put under an evidence hold until the incident closes (see policy)."""
    ctx = get_ctx(request)
    svc = service_for(ctx)

    check_cameras(who, [body.camera_id])

    def work(s: Session) -> Any:
        _in_scope(svc, s, incident_id, who)
        clip = svc.attach_clip(s, incident_id, body.camera_id, body.start, body.end, who.username, body.note)
        return clip_dict(clip)

    return _tx(ctx, work)


class ReleaseIn(_Body):
    reason: str = Field(min_length=10, max_length=4000)


@router.post("/api/incidents/{incident_id}/holds/release")
def release_holds(
    incident_id: int, body: ReleaseIn, request: Request, who: Principal = Depends(require("holds.release"))
) -> dict[str, Any]:
    """A supervisor releases a closed incident's evidence holds, saying why; they are kept otherwise."""
    ctx = get_ctx(request)
    svc = service_for(ctx)

    def work(s: Session) -> Any:
        _in_scope(svc, s, incident_id, who)
        n = svc.release_holds(s, incident_id, who.username, body.reason)
        return {**_detail(svc, s, incident_id, who), "released": n}

    return _tx(ctx, work)


@router.get("/api/incidents/{incident_id}/recommendation")
def recommendation(
    incident_id: int, request: Request, who: Principal = Depends(require("incidents.manage"))
) -> dict[str, Any]:
    ctx = get_ctx(request)
    svc = service_for(ctx)
    with _errors(), ctx.db.session() as s:
        _in_scope(svc, s, incident_id, who)
        return svc.recommend(s, incident_id, limit=10)


# ---- dispatch & units ---------------------------------------------------------------------------


@router.post("/api/dispatch", status_code=201)
def dispatch(
    body: DispatchIn, request: Request, who: Principal = Depends(require("incidents.manage"))
) -> dict[str, Any]:
    """Send a unit. 409 with a plain message when someone else got the unit first."""
    ctx = get_ctx(request)
    svc = service_for(ctx)

    def work(s: Session) -> Any:
        _in_scope(svc, s, body.incident_id, who)
        a = svc.dispatch(s, body.incident_id, body.unit_id, who.username, body.recommended_unit_id)
        return assignment_dict(a)

    return _tx(ctx, work)


@router.get("/api/units")
def list_units(
    request: Request,
    retired: bool = Query(False, description="include retired units (the roster's history)"),
    who: Principal = Depends(require("incidents.read")),
) -> list[dict[str, Any]]:
    ctx = get_ctx(request)
    svc = service_for(ctx)
    with ctx.db.session() as s:
        return [unit_dict(u) for u in svc.units(s, retired=retired)]


@router.post("/api/units", status_code=201)
def create_unit(
    body: UnitIn, request: Request, who: Principal = Depends(require("units.manage"))
) -> dict[str, Any]:
    ctx = get_ctx(request)
    svc = service_for(ctx)

    def work(s: Session) -> Any:
        return unit_dict(svc.create_unit(s, who.username, **body.model_dump()))

    return _tx(ctx, work)


@router.post("/api/units/{unit_id}/status")
def unit_status(
    unit_id: str, body: UnitStatusIn, request: Request, who: Principal = Depends(require("incidents.manage"))
) -> dict[str, Any]:
    """Console button, mobile app or radio gateway (API token with the operator role)."""
    ctx = get_ctx(request)
    svc = service_for(ctx)

    def work(s: Session) -> Any:
        return unit_dict(
            svc.set_unit_status(
                s, unit_id, body.status, who.username, lat=body.lat, lon=body.lon, x=body.x, y=body.y
            )
        )

    return _tx(ctx, work)


@router.post("/api/units/{unit_id}/location")
def unit_location(
    unit_id: str,
    body: UnitLocationIn,
    request: Request,
    who: Principal = Depends(require("incidents.manage")),
) -> dict[str, Any]:
    ctx = get_ctx(request)
    svc = service_for(ctx)

    def work(s: Session) -> Any:
        return unit_dict(svc.set_unit_location(s, unit_id, who.username, **body.model_dump()))

    return _tx(ctx, work)
