"""The incident service, and the incident lifecycle: every change to an incident or a unit goes through here.

``IncidentService`` is the lifecycle (create, from an alert, edit, note, advance, close) on top of
``Dispatch`` (units, recommendation, dispatch, unit status: ``incidents/dispatch.py``), ``Evidence``
(clips and holds: ``incidents/evidence.py``) and ``Journal`` (timeline, audit, bus messages after
commit, lookups and checks: ``incidents/journal.py``). Each method takes the caller's DB session and
the acting username and validates everything before it writes (bad input changes nothing).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from oversight.config.incidents import IncidentType
from oversight.config.schema import SiteConfig
from oversight.events import topics
from oversight.events.bus import EventBus
from oversight.i18n import N_
from oversight.incidents import geo
from oversight.incidents.dispatch import Dispatch
from oversight.incidents.errors import Conflict, InvalidInput, NotFound
from oversight.incidents.evidence import MAX_CLIP, Evidence
from oversight.incidents.journal import audit
from oversight.incidents.models import (
    ACTIVE_STATUSES,
    INCIDENT_STATUSES,
    UNIT_STATUSES,
    Assignment,
    Incident,
    ResponseUnit,
)
from oversight.store.base import utcnow
from oversight.store.models import Event

__all__ = ["ACTIVE_STATUSES", "DISPOSITIONS", "MAX_CLIP", "IncidentService", "create_from_alert"]

DISPOSITIONS = (
    "resolved",
    "arrest",
    "transported",
    "report_taken",
    "advice_given",
    "referred",
    "no_action",
    "false_alarm",
    "cancelled",
    "duplicate",
)
CANCEL_DISPOSITIONS = ("no_action", "false_alarm", "cancelled", "duplicate")  # may close a 'new' incident
ALERT_TYPE_BY_RULE = {
    "zone": "intrusion",
    "line": "intrusion",
    "crowd": "crowd_surge",
    "dwell": "disturbance",
}


class IncidentService(Evidence, Dispatch):
    # ---- incidents ------------------------------------------------------------------------------

    def _check_kind(self, type: str, priority: str | None) -> IncidentType:
        self._check_type(type)
        itype = self.settings.type(type)
        assert itype is not None
        self._check_priority(priority or itype.priority)
        return itype

    @staticmethod
    def _check_report(source: str, reported_at: datetime | None) -> None:
        if reported_at is not None and reported_at.tzinfo is None:
            raise InvalidInput(N_("reported_at needs a time zone (use UTC, e.g. 2026-01-01T12:00:00Z)"))
        if reported_at is not None and reported_at > utcnow() + timedelta(minutes=1):
            raise InvalidInput(N_("reported_at is in the future"))
        if source not in ("call", "alert", "api"):
            raise InvalidInput(N_("source must be call, alert or api"))

    def create(
        self,
        session: Session,
        actor: str,
        *,
        type: str,
        priority: str | None = None,
        lat: float | None = None,
        lon: float | None = None,
        x: float | None = None,
        y: float | None = None,
        address: str | None = None,
        district: str | None = None,
        description: str = "",
        notes: str = "",
        caller_name: str | None = None,
        caller_phone: str | None = None,
        caller_account: str | None = None,
        source: str = "call",
        reported_at: datetime | None = None,
        camera_id: str | None = None,
        event_id: int | None = None,
        snapshot_path: str | None = None,
    ) -> Incident:
        itype = self._check_kind(type, priority)
        priority = priority or itype.priority
        self._check_location(lat, lon, x, y, address)
        self._check_district(district)
        self._check_report(source, reported_at)
        now = utcnow()
        place = geo.Place(lat, lon, x, y)
        inc = Incident(
            type=type,
            priority=priority,
            status="new",
            source=source,
            lat=lat,
            lon=lon,
            x=x,
            y=y,
            address=(address or "").strip() or None,
            district=district or geo.district_for(self.settings, place),
            description=description.strip(),
            notes=notes.strip(),
            caller_name=caller_name,
            caller_phone=caller_phone,
            caller_account=caller_account,
            camera_id=camera_id,
            event_id=event_id,
            snapshot_path=snapshot_path,
            reported_at=reported_at or now,
            created_at=now,
            created_by=actor,
            updated_at=now,
        )
        session.add(inc)
        session.flush()
        self._created(session, inc, itype, actor)
        return inc

    def _created(self, session: Session, inc: Incident, itype: IncidentType, actor: str) -> None:
        what = f"Incident created from {inc.source}: {itype.label}, {inc.priority}"
        self._log(
            session, inc.id, actor, "created", what, type=inc.type, priority=inc.priority, source=inc.source
        )
        audit(session, actor, "incident.create", "incident", inc.id, {"type": inc.type, "source": inc.source})
        self._incident_changed(session, inc, "created", actor)

    def create_from_alert(
        self,
        session: Session,
        event_id: int,
        actor: str,
        *,
        type: str | None = None,
        priority: str | None = None,
        description: str | None = None,
    ) -> tuple[Incident, bool]:
        """One click from an alert: its camera, snapshot and time come along, and the footage around it
        is put on hold. Returns (incident, created); a second click returns the open incident."""
        ev = session.get(Event, event_id)
        if ev is None:
            raise NotFound(N_("alert {event_id} not found"), event_id=event_id)
        existing = session.scalar(
            select(Incident).where(
                Incident.event_id == event_id, Incident.status.in_(ACTIVE_STATUSES + ("cleared",))
            )
        )
        if existing is not None:
            return existing, False
        type = type or ALERT_TYPE_BY_RULE.get(ev.rule_type or "", "other")
        self._check_type(type)
        desc = description or (
            f"{ev.label} alert"
            + (f" on rule {ev.rule_id}" if ev.rule_id else "")
            + f" at camera {ev.camera_id}"
        )
        inc = self.create(
            session,
            actor,
            type=type,
            priority=priority,
            **self._camera_place(ev.camera_id),
            description=desc,
            source="alert",
            reported_at=ev.start,
            camera_id=ev.camera_id,
            event_id=ev.id,
            snapshot_path=ev.snapshot_path,
        )
        pol = self.settings.evidence
        self.attach_clip(
            session,
            inc.id,
            ev.camera_id,
            ev.start - timedelta(seconds=pol.alert_pre_seconds),
            (ev.end or ev.start) + timedelta(seconds=pol.alert_post_seconds),
            actor,
            note=f"footage of alert {ev.id}",
            known_camera_only=False,
        )
        return inc, True

    def _camera_place(self, camera_id: str) -> dict[str, Any]:
        """Where a camera is (its configured location), as ``create``'s place arguments."""
        cam = next((c for c in self.cfg.cameras if c.id == camera_id), None)
        loc = cam.location if cam else None
        lat, lon, x, y = (loc.lat, loc.lon, loc.x, loc.y) if loc else (None, None, None, None)
        address = (loc.address if loc else None) or f"camera {cam.display_name if cam else camera_id}"
        return {"lat": lat, "lon": lon, "x": x, "y": y, "address": address}

    EDITABLE = (
        "type",
        "priority",
        "description",
        "address",
        "district",
        "caller_name",
        "caller_phone",
        "caller_account",
    )

    def escalate(
        self,
        session: Session,
        event_id: int,
        actor: str,
        note: str | None = None,
        *,
        type: str | None = None,
        priority: str | None = None,
    ) -> tuple[Incident, bool]:
        """An alert becomes an incident (``create_from_alert``, with the escalating person's note) and
        is acknowledged as escalated; consoles hear of the acknowledgement after the commit."""
        inc, created = self.create_from_alert(session, event_id, actor, type=type, priority=priority)
        if created and note:
            self.add_note(session, inc.id, actor, note)
        ev = session.get(Event, event_id)
        if ev is not None and ev.acknowledged_at is None:
            ev.acknowledged_at, ev.acknowledged_by = utcnow(), actor
            ev.ack_note = ("escalated: " + (note or "")).strip()
        self._publish(session, topics.ALERT_ACK, {"id": event_id, "by": actor, "escalated": True})
        return inc, created

    def update(self, session: Session, incident_id: int, actor: str, **changes: Any) -> Incident:
        inc = self.get(session, incident_id)
        if inc.status == "closed":
            raise InvalidInput(
                N_("incident {incident_id} is closed; it cannot be edited"), incident_id=incident_id
            )
        loc_keys = {"lat", "lon", "x", "y"}
        unknown = set(changes) - set(self.EDITABLE) - loc_keys
        if unknown:
            raise InvalidInput(N_("cannot change {unknown}"), unknown=", ".join(sorted(unknown)))
        if "type" in changes:
            self._check_type(changes["type"])
        if "priority" in changes:
            self._check_priority(changes["priority"])
        if "district" in changes:
            self._check_district(changes["district"])
        if loc_keys & set(changes) or "address" in changes:
            new = {k: changes.get(k, getattr(inc, k)) for k in (*loc_keys, "address")}
            self._check_location(new["lat"], new["lon"], new["x"], new["y"], new["address"])
        changed = {}
        for k, v in changes.items():
            old = getattr(inc, k)
            if old != v:
                setattr(inc, k, v)
                changed[k] = {"from": old, "to": v}
        if not changed:
            return inc
        if loc_keys & set(changed) and "district" not in changes:
            inc.district = geo.district_for(self.settings, inc) or inc.district
        inc.updated_at = utcnow()
        desc = ", ".join(f"{k}: {c['from']!r} → {c['to']!r}" for k, c in changed.items())
        self._log(session, inc.id, actor, "field", f"Changed {desc}", changes=changed)
        self._incident_changed(session, inc, "updated", actor)
        return inc

    def add_note(self, session: Session, incident_id: int, actor: str, text: str) -> Incident:
        text = text.strip()
        if not text:
            raise InvalidInput(N_("a note cannot be empty"))
        inc = self.get(session, incident_id)
        if inc.status == "closed":
            raise InvalidInput(N_("incident {incident_id} is closed"), incident_id=incident_id)
        now = utcnow()
        inc.notes = (inc.notes + "\n" if inc.notes else "") + f"[{now:%H:%M:%S} {actor}] {text}"
        inc.updated_at = now
        self._log(session, inc.id, actor, "note", text)
        self._incident_changed(session, inc, "updated", actor)
        return inc

    def advance(
        self, session: Session, incident_id: int, to: str, actor: str, disposition: str | None = None
    ) -> Incident:
        """Move the incident one step along new → dispatched → en_route → on_scene → cleared → closed."""
        if to not in INCIDENT_STATUSES:
            raise InvalidInput(
                N_("unknown status {to!r}; statuses: {choices}"), to=to, choices=", ".join(INCIDENT_STATUSES)
            )
        inc = self.get(session, incident_id)
        cur = inc.status
        self._check_step(inc, to, disposition)
        now = utcnow()
        active = list(
            session.scalars(
                select(Assignment).where(Assignment.incident_id == inc.id, Assignment.released_at.is_(None))
            )
        )
        # the status is updated conditionally so two consoles pressing the same button cannot both win
        res = session.execute(
            update(Incident)
            .where(Incident.id == inc.id, Incident.status == cur)
            .values(status=to, updated_at=now, **{f"{to}_at": now})
            .execution_options(synchronize_session=False)
        )
        if res.rowcount != 1:  # type: ignore[attr-defined]
            raise Conflict(
                N_("incident {incident_id} changed meanwhile; reload and try again"), incident_id=incident_id
            )
        session.refresh(inc)
        if to == "closed":
            inc.disposition = disposition
        self._log(
            session,
            inc.id,
            actor,
            "status",
            f"Status {cur} → {to}" + (f" ({disposition})" if disposition else ""),
            status=to,
            previous=cur,
        )
        self._units_follow(session, inc, active, to, actor, now)
        if to == "closed":
            self._close_holds(session, inc, actor, now)
            audit(session, actor, "incident.close", "incident", inc.id, {"disposition": disposition})
        self._incident_changed(session, inc, "status", actor)
        return inc

    def _check_step(self, inc: Incident, to: str, disposition: str | None) -> None:
        """``to`` is the next step of ``inc`` (or a cancelling close of a new one), with a disposition
        when it closes."""
        cur = inc.status
        nxt = INCIDENT_STATUSES[INCIDENT_STATUSES.index(cur) + 1] if cur != "closed" else None
        cancel = to == "closed" and cur == "new" and disposition in CANCEL_DISPOSITIONS
        if to != nxt and not cancel:
            if cur == "closed":
                raise InvalidInput(N_("incident {id} is closed"), id=inc.id)
            raise InvalidInput(
                f"cannot go from {cur!r} to {to!r}: the next step is {nxt!r}"
                + (
                    " (a new incident may also be closed as " + "/".join(CANCEL_DISPOSITIONS) + ")"
                    if cur == "new" and to == "closed"
                    else ""
                )
            )
        if to == "dispatched":
            raise InvalidInput(N_("dispatch a unit to move the incident to 'dispatched'"))
        if to == "closed":
            if not disposition:
                raise InvalidInput("closing needs a disposition: " + ", ".join(DISPOSITIONS))
            if disposition not in DISPOSITIONS:
                raise InvalidInput(
                    N_("unknown disposition {disposition!r}; dispositions: {choices}"),
                    disposition=disposition,
                    choices=", ".join(DISPOSITIONS),
                )

    def _units_follow(
        self, session: Session, inc: Incident, active: list[Assignment], to: str, actor: str, now: datetime
    ) -> None:
        """Assigned units move along with the incident; clearing or closing releases them."""
        for a in active:
            unit = session.get(ResponseUnit, a.unit_id)
            if unit is None:
                continue
            if to in ("en_route", "on_scene") and UNIT_STATUSES.index(unit.status) < UNIT_STATUSES.index(to):
                setattr(a, f"{to}_at", getattr(a, f"{to}_at") or now)
                if to == "on_scene" and a.en_route_at is None:
                    a.en_route_at = now
                unit.status, unit.status_changed_at = to, now
                self._unit_changed(session, unit, "status", actor)
            elif to in ("cleared", "closed"):
                a.released_at = now
                unit.status, unit.incident_id, unit.status_changed_at = "available", None, now
                self._log(session, inc.id, actor, "unit", f"Unit {unit.id} released", unit_id=unit.id)
                self._unit_changed(session, unit, "status", actor)

    def list_incidents(self, session: Session, status: str = "open", limit: int = 200) -> list[Incident]:
        q = select(Incident).order_by(Incident.reported_at.desc()).limit(limit)
        if status == "open":
            q = q.where(Incident.status != "closed")
        elif status != "all":
            if status not in INCIDENT_STATUSES:
                raise InvalidInput(N_("unknown status {state!r}"), state=status)
            q = q.where(Incident.status == status)
        return list(session.scalars(q))


def create_from_alert(
    session: Session,
    event_or_id: Event | int,
    actor: str,
    *,
    note: str | None = None,
    bus: EventBus | None = None,
    cfg: SiteConfig | None = None,
    type: str | None = None,
    priority: str | None = None,
) -> Incident:
    """An incident from an alert with a service built for this call (scripts, tests); a running
    installation calls ``IncidentService.escalate`` on its own service instead."""
    event_id = event_or_id if isinstance(event_or_id, int) else event_or_id.id
    inc, _ = IncidentService(cfg, bus).escalate(session, event_id, actor, note, type=type, priority=priority)
    return inc
