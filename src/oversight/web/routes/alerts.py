"""The alert queue: list, server-side counts, acknowledge with a reason (one or many), escalate to
an incident, and the false-alarm report per rule and camera.

Counts come from the database (``/api/alerts/count``), never from the length of a page. An
acknowledgement is kept once (the first stands) and is audited; each one is pushed on the bus
(topic ``alert``, phase ``ack``) so every console updates its queue and stops its sound.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field, model_validator
from sqlalchemy import case, func, or_, select
from sqlalchemy.orm import Session

from oversight.config.schema import PRIORITIES
from oversight.events import topics
from oversight.events.alerts import acknowledge, alert_dict, localized
from oversight.events.models import ACK_REASONS, FALSE_ALARM_CAUSES, Alert
from oversight.i18n import N_, InvalidValue, Translator
from oversight.incidents.errors import IncidentError
from oversight.web.audit import audit
from oversight.web.auth import Principal, get_ctx, require, scoped_cameras
from oversight.web.errors import http_error, service_error
from oversight.web.params import DbId, as_utc
from oversight.web.routes.i18n import request_locale

router = APIRouter(prefix="/api/alerts", tags=["alerts"])
Reason = Literal["real", "false_alarm", "test", "duplicate"]
Cause = Literal["weather", "lighting", "animal", "vegetation", "reflection", "camera", "detection", "other"]
assert set(Reason.__args__) == set(ACK_REASONS) and set(Cause.__args__) == set(FALSE_ALARM_CAUSES)  # type: ignore[attr-defined]


class AckIn(BaseModel):
    reason: Reason
    cause: Cause | None = None  # what caused a false alarm
    note: str = Field("", max_length=2000)

    @model_validator(mode="after")
    def _cause_for_false_alarms(self) -> AckIn:
        if self.reason == "false_alarm" and self.cause is None:
            raise InvalidValue(
                N_("a false alarm needs a cause ({choices})"), choices=", ".join(FALSE_ALARM_CAUSES)
            )
        return self


class BulkAckIn(AckIn):
    ids: list[int] = Field(min_length=1, max_length=1000)


class EscalateIn(BaseModel):
    note: str = Field("", max_length=2000)


def _names(request: Request) -> dict[str, str]:
    return {c.id: c.display_name for c in get_ctx(request).cfg.cameras}


def _in_scope(q: Any, who: Principal) -> Any:
    """Only alerts of cameras in ``who``'s scope, and server-wide ones (no camera)."""
    cams = scoped_cameras(who, None)
    return q if cams is None else q.where(or_(Alert.camera_id.is_(None), Alert.camera_id.in_(cams)))


def _reader(request: Request, who: Principal) -> Translator:
    """The language the reader sees alert titles in (the bus and MQTT keep the English and msgid)."""
    return Translator(request_locale(request, who))


def _out(a: Alert, names: dict[str, str]) -> dict[str, Any]:
    d = alert_dict(a)
    d["camera_name"] = names.get(a.camera_id or "", a.camera_id or "server")
    return d


@router.get("/count")
def count(request: Request, who: Principal = Depends(require("events.read"))) -> dict[str, Any]:
    """Unacknowledged alerts in total, by priority and by camera: what the header badge shows."""
    with get_ctx(request).db.session() as s:
        rows = s.execute(
            _in_scope(select(Alert.priority, Alert.camera_id, func.count()), who)
            .where(Alert.acknowledged_at.is_(None))
            .group_by(Alert.priority, Alert.camera_id)
        ).all()
    by_priority: dict[str, int] = dict.fromkeys(PRIORITIES, 0)
    by_camera: dict[str, int] = {}
    for prio, cam, n in rows:
        by_priority[prio] = by_priority.get(prio, 0) + int(n)
        by_camera[cam or ""] = by_camera.get(cam or "", 0) + int(n)
    return {"unacknowledged": sum(by_priority.values()), "by_priority": by_priority, "by_camera": by_camera}


@router.get("/report")
def report(
    request: Request,
    start: datetime | None = None,
    end: datetime | None = None,
    who: Principal = Depends(require("reports.alerts")),
) -> dict[str, Any]:
    """Per camera and rule: alerts, acknowledgements by reason and the false-alarm rate
    (false alarms / acknowledged with a reason), so a city can tune or retire rules."""
    q = select(
        Alert.camera_id,
        Alert.kind,
        Alert.rule_id,
        func.count(),
        *(func.sum(case((Alert.ack_reason == r, 1), else_=0)) for r in ACK_REASONS),
    ).group_by(Alert.camera_id, Alert.kind, Alert.rule_id)
    q = _in_scope(q, who)
    start, end = as_utc(start, "start"), as_utc(end, "end")
    if start is not None:
        q = q.where(Alert.opened_at >= start)
    if end is not None:
        q = q.where(Alert.opened_at < end)
    with get_ctx(request).db.session() as s:
        rows = s.execute(q.order_by(Alert.camera_id, Alert.rule_id)).all()
    out = []
    for cam, kind, rule, n, *by_reason in rows:
        reasons = {r: int(v or 0) for r, v in zip(ACK_REASONS, by_reason, strict=True)}
        judged = sum(reasons.values())
        out.append(
            {
                "camera_id": cam,
                "kind": kind,
                "rule_id": rule,
                "alerts": int(n),
                **reasons,
                "false_alarm_rate": round(reasons["false_alarm"] / judged, 3) if judged else None,
            }
        )
    return {"start": start, "end": end, "rows": out}


@router.get("")
def list_alerts(
    request: Request,
    state: Literal["unacknowledged", "open", "all"] = "unacknowledged",
    camera: str | None = Query(None, max_length=64),
    limit: int = Query(100, ge=1, le=500),
    before_id: int | None = Query(None, ge=1, le=2_147_483_647),
    who: Principal = Depends(require("events.read")),
) -> dict[str, Any]:
    """Newest first; ``open`` = situation still going on; page with ``before_id`` (``next_before``)."""
    q = _in_scope(select(Alert), who)
    if state == "unacknowledged":
        q = q.where(Alert.acknowledged_at.is_(None))
    elif state == "open":
        q = q.where(Alert.ended_at.is_(None))
    if camera:
        q = q.where(Alert.camera_id == camera)
    if before_id:
        q = q.where(Alert.id < before_id)
    names, tr = _names(request), _reader(request, who)
    with get_ctx(request).db.session() as s:
        rows = list(s.scalars(q.order_by(Alert.id.desc()).limit(limit + 1)))
        items = [localized(_out(a, names), tr) for a in rows[:limit]]
    return {"items": items, "next_before": items[-1]["id"] if len(rows) > limit else None}


def _get(s: Session, alert_id: int, who: Principal) -> Alert:
    a = s.get(Alert, alert_id)
    if a is None or not who.sees(a.camera_id):
        raise http_error(404, N_("no such alert"))
    return a


@router.get("/{alert_id}")
def get_alert(
    alert_id: DbId, request: Request, who: Principal = Depends(require("events.read"))
) -> dict[str, Any]:
    with get_ctx(request).db.session() as s:
        return localized(_out(_get(s, alert_id, who), _names(request)), _reader(request, who))


def _ack(request: Request, who: Principal, ids: list[int], body: AckIn) -> list[dict[str, Any]]:
    ctx = get_ctx(request)
    names = _names(request)
    note = body.note.strip() or None
    with ctx.db.session() as s:
        ids = list(s.scalars(_in_scope(select(Alert.id).where(Alert.id.in_(ids)), who)))
        changed = acknowledge(s, ids, who.username, body.reason, body.cause, note)
        for a in changed:
            detail = {"reason": body.reason, "cause": a.ack_cause, "note": note, "camera_id": a.camera_id}
            audit(s, who, "alert.ack", "alert", a.id, detail=detail)
        out = [_out(a, names) for a in changed]
    for d in out:
        ctx.bus.publish(topics.ALERT, {**d, "phase": "ack"})
        # the marker pages that count alerts per camera (wall, map) listen for, with no details
        ctx.bus.publish(topics.ALERT_ACK, {"alert_id": d["id"], "camera_id": d["camera_id"]})
    return out


@router.post("/ack")
def bulk_ack(
    body: BulkAckIn, request: Request, who: Principal = Depends(require("alerts.handle"))
) -> dict[str, Any]:
    """Acknowledge many alerts with one reason (a storm, a test run); already acknowledged ones are kept."""
    done = _ack(request, who, sorted(set(body.ids)), body)
    return {"acknowledged": [d["id"] for d in done]}


@router.post("/{alert_id}/ack")
def ack(
    alert_id: DbId, body: AckIn, request: Request, who: Principal = Depends(require("alerts.handle"))
) -> dict[str, Any]:
    """Acknowledge with a reason; acknowledging twice keeps the first acknowledgement."""
    ctx = get_ctx(request)
    with ctx.db.session() as s:
        _get(s, alert_id, who)
    _ack(request, who, [alert_id], body)
    with ctx.db.session() as s:
        return localized(_out(_get(s, alert_id, who), _names(request)), _reader(request, who))


@router.post("/{alert_id}/escalate")
def escalate(
    alert_id: DbId, body: EscalateIn, request: Request, who: Principal = Depends(require("alerts.handle"))
) -> dict[str, Any]:
    """Turn a rule alert into an incident through the incident service's one escalation (the same as
    ``/api/events/{id}/escalate``, on the alert's first event); acknowledged as real."""
    ctx = get_ctx(request)
    with ctx.db.session() as s:
        a = _get(s, alert_id, who)
        event_id = a.event_id
        if event_id is None:
            raise http_error(409, N_("only an alert raised by a rule can become an incident"))
        try:
            inc, _ = ctx.incident_service().escalate(s, event_id, who.username, body.note or None)
        except IncidentError as exc:
            raise service_error(exc) from None
        incident_id = inc.id
    _ack(request, who, [alert_id], AckIn(reason="real", note=("escalated: " + body.note).strip()))
    return {"alert_id": alert_id, "event_id": event_id, "incident_id": incident_id}
