"""The incident service: every change to an incident or a unit goes through here.

Each method takes the caller's DB session and the acting username, validates everything before it
writes (bad input changes nothing), writes a timeline line for every change, and queues a bus
message that is published only after the session commits (so a console never sees a change that
was rolled back). Dispatch is decided by the database: a conditional UPDATE on the unit row.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import event, select, update
from sqlalchemy.orm import Session

from oversight.config.incidents import PRIORITIES, UNIT_TYPES, IncidentSettings
from oversight.config.schema import SiteConfig
from oversight.events.bus import EventBus
from oversight.incidents import geo
from oversight.incidents.errors import Conflict, InvalidInput, NotFound
from oversight.incidents.models import (
    INCIDENT_STATUSES,
    UNIT_STATUSES,
    Assignment,
    Incident,
    IncidentClip,
    IncidentEntry,
    ResponseUnit,
)
from oversight.incidents.serialize import incident_dict, unit_dict
from oversight.privacy.audit import record
from oversight.store.base import utcnow
from oversight.store.models import Event, EvidenceHold

ACTIVE_STATUSES = ("new", "dispatched", "en_route", "on_scene")
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
MAX_CLIP = timedelta(hours=24)
_PENDING = "oversight_incidents_pending"


def _flush_pending(session: Session) -> None:
    pending = session.info.pop(_PENDING, [])
    for bus, topic, data in pending:
        bus.publish(topic, data)


def _drop_pending(session: Session) -> None:
    session.info.pop(_PENDING, None)


def _audit(
    session: Session, actor: str, action: str, object_type: str, object_id: Any, detail: Any = None
) -> None:
    """Append to the privacy audit log, in the caller's transaction."""
    record(
        session,
        actor,
        action,
        object_type,
        str(object_id),
        purpose="emergency response",
        source="incidents",
        detail=detail,
    )


class IncidentService:
    def __init__(
        self,
        cfg: SiteConfig | None = None,
        bus: EventBus | None = None,
        settings: IncidentSettings | None = None,
    ):
        self.cfg = cfg or SiteConfig()
        self.settings = settings or self.cfg.incidents or IncidentSettings()
        self.bus = bus

    # ---- plumbing -------------------------------------------------------------------------------

    def _publish(self, session: Session, topic: str, data: dict[str, Any]) -> None:
        if self.bus is None:
            return
        if not session.info.get(_PENDING + "_hooked"):
            event.listen(session, "after_commit", _flush_pending)
            event.listen(session, "after_rollback", _drop_pending)
            session.info[_PENDING + "_hooked"] = True
        session.info.setdefault(_PENDING, []).append((self.bus, topic, data))

    def _incident_changed(self, session: Session, inc: Incident, what: str, actor: str) -> None:
        session.flush()
        self._publish(
            session,
            "incident",
            {
                "event": f"incident.{what}",
                "id": inc.id,
                "actor": actor,
                "at": utcnow().isoformat(),
                "incident": incident_dict(inc, self.settings),
            },
        )

    def _unit_changed(self, session: Session, unit: ResponseUnit, what: str, actor: str) -> None:
        session.flush()
        self._publish(
            session,
            "unit",
            {
                "event": f"unit.{what}",
                "id": unit.id,
                "actor": actor,
                "at": utcnow().isoformat(),
                "unit": unit_dict(unit),
            },
        )

    def _log(self, session: Session, inc_id: int, actor: str, kind: str, message: str, **detail: Any) -> None:
        session.add(
            IncidentEntry(
                incident_id=inc_id, at=utcnow(), actor=actor, kind=kind, message=message, detail=detail
            )
        )

    def get(self, session: Session, incident_id: int) -> Incident:
        inc = session.get(Incident, incident_id)
        if inc is None:
            raise NotFound(f"incident {incident_id} not found")
        return inc

    def get_unit(self, session: Session, unit_id: str) -> ResponseUnit:
        unit = session.get(ResponseUnit, unit_id)
        if unit is None:
            raise NotFound(f"unit {unit_id!r} not found")
        return unit

    # ---- validation -----------------------------------------------------------------------------

    def _check_type(self, type_id: str) -> None:
        if self.settings.type(type_id) is None:
            known = ", ".join(t.id for t in self.settings.types)
            raise InvalidInput(f"unknown incident type {type_id!r}; known types: {known}")

    @staticmethod
    def _check_priority(priority: str) -> None:
        if priority not in PRIORITIES:
            raise InvalidInput(f"priority must be one of {', '.join(PRIORITIES)}, not {priority!r}")

    def _check_district(self, district: str | None) -> None:
        if district and self.settings.districts and district not in {d.id for d in self.settings.districts}:
            known = ", ".join(d.id for d in self.settings.districts)
            raise InvalidInput(f"unknown district {district!r}; known districts: {known}")

    def _check_location(
        self, lat: float | None, lon: float | None, x: float | None, y: float | None, address: str | None
    ) -> None:
        try:
            geo.validate_location(self.settings, lat, lon, x, y, address)
        except geo.LocationError as exc:
            raise InvalidInput(str(exc)) from None

    # ---- incidents ------------------------------------------------------------------------------

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
        self._check_type(type)
        itype = self.settings.type(type)
        assert itype is not None
        priority = priority or itype.priority
        self._check_priority(priority)
        self._check_location(lat, lon, x, y, address)
        self._check_district(district)
        now = utcnow()
        if reported_at is None:
            reported_at = now
        elif reported_at.tzinfo is None:
            raise InvalidInput("reported_at needs a time zone (use UTC, e.g. 2026-01-01T12:00:00Z)")
        elif reported_at > now + timedelta(minutes=1):
            raise InvalidInput("reported_at is in the future")
        if source not in ("call", "alert", "api"):
            raise InvalidInput("source must be call, alert or api")
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
            reported_at=reported_at,
            created_at=now,
            created_by=actor,
            updated_at=now,
        )
        session.add(inc)
        session.flush()
        self._log(
            session,
            inc.id,
            actor,
            "created",
            f"Incident created from {source}: {itype.label}, {priority}",
            type=type,
            priority=priority,
            source=source,
        )
        _audit(session, actor, "incident.create", "incident", inc.id, {"type": type, "source": source})
        self._incident_changed(session, inc, "created", actor)
        return inc

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
            raise NotFound(f"alert {event_id} not found")
        existing = session.scalar(
            select(Incident).where(
                Incident.event_id == event_id, Incident.status.in_(ACTIVE_STATUSES + ("cleared",))
            )
        )
        if existing is not None:
            return existing, False
        type = type or ALERT_TYPE_BY_RULE.get(ev.rule_type or "", "other")
        self._check_type(type)
        cam = next((c for c in self.cfg.cameras if c.id == ev.camera_id), None)
        loc = cam.location if cam else None
        lat, lon, x, y = (loc.lat, loc.lon, loc.x, loc.y) if loc else (None, None, None, None)
        address = (loc.address if loc else None) or f"camera {cam.display_name if cam else ev.camera_id}"
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
            lat=lat,
            lon=lon,
            x=x,
            y=y,
            address=address,
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
        """``create_from_alert`` plus the escalating person's note on a new incident."""
        inc, created = self.create_from_alert(session, event_id, actor, type=type, priority=priority)
        if created and note:
            self.add_note(session, inc.id, actor, note)
        return inc, created

    def update(self, session: Session, incident_id: int, actor: str, **changes: Any) -> Incident:
        inc = self.get(session, incident_id)
        if inc.status == "closed":
            raise InvalidInput(f"incident {incident_id} is closed; it cannot be edited")
        loc_keys = {"lat", "lon", "x", "y"}
        unknown = set(changes) - set(self.EDITABLE) - loc_keys
        if unknown:
            raise InvalidInput(f"cannot change {', '.join(sorted(unknown))}")
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
            raise InvalidInput("a note cannot be empty")
        inc = self.get(session, incident_id)
        if inc.status == "closed":
            raise InvalidInput(f"incident {incident_id} is closed")
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
            raise InvalidInput(f"unknown status {to!r}; statuses: {', '.join(INCIDENT_STATUSES)}")
        inc = self.get(session, incident_id)
        cur = inc.status
        nxt = INCIDENT_STATUSES[INCIDENT_STATUSES.index(cur) + 1] if cur != "closed" else None
        cancel = to == "closed" and cur == "new" and disposition in CANCEL_DISPOSITIONS
        if to != nxt and not cancel:
            if cur == "closed":
                raise InvalidInput(f"incident {incident_id} is closed")
            raise InvalidInput(
                f"cannot go from {cur!r} to {to!r}: the next step is {nxt!r}"
                + (
                    " (a new incident may also be closed as " + "/".join(CANCEL_DISPOSITIONS) + ")"
                    if cur == "new" and to == "closed"
                    else ""
                )
            )
        if to == "dispatched":
            raise InvalidInput("dispatch a unit to move the incident to 'dispatched'")
        if to == "closed":
            if not disposition:
                raise InvalidInput("closing needs a disposition: " + ", ".join(DISPOSITIONS))
            if disposition not in DISPOSITIONS:
                raise InvalidInput(
                    f"unknown disposition {disposition!r}; dispositions: {', '.join(DISPOSITIONS)}"
                )
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
            raise Conflict(f"incident {incident_id} changed meanwhile; reload and try again")
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
        if to == "closed":
            self._close_holds(session, inc, actor, now)
            _audit(session, actor, "incident.close", "incident", inc.id, {"disposition": disposition})
        self._incident_changed(session, inc, "status", actor)
        return inc

    # ---- footage --------------------------------------------------------------------------------

    def attach_clip(
        self,
        session: Session,
        incident_id: int,
        camera_id: str,
        start: datetime,
        end: datetime,
        actor: str,
        note: str = "",
        known_camera_only: bool = True,
    ) -> IncidentClip:
        """Attach footage and hold it: an EvidenceHold keeps retention away while the incident is open."""
        inc = self.get(session, incident_id)
        if inc.status == "closed":
            raise InvalidInput(f"incident {incident_id} is closed")
        if known_camera_only and self.cfg.cameras and camera_id not in {c.id for c in self.cfg.cameras}:
            raise InvalidInput(f"unknown camera {camera_id!r}")
        if start.tzinfo is None or end.tzinfo is None:
            raise InvalidInput("clip times need a time zone (use UTC)")
        if not start < end:
            raise InvalidInput("a clip must end after it starts")
        if end - start > MAX_CLIP:
            raise InvalidInput("a clip may be at most 24 hours long")
        hold = EvidenceHold(
            camera_id=camera_id,
            start=start,
            end=end,
            reason=f"incident #{inc.id} ({inc.type})" + (f": {note}" if note else ""),
            reference=f"incident:{inc.id}",
            created_by=actor,
            created_at=utcnow(),
        )
        session.add(hold)
        session.flush()
        clip = IncidentClip(
            incident_id=inc.id,
            camera_id=camera_id,
            start=start,
            end=end,
            hold_id=hold.id,
            note=note,
            added_by=actor,
            added_at=utcnow(),
        )
        session.add(clip)
        session.flush()
        self._log(
            session,
            inc.id,
            actor,
            "clip",
            f"Footage of {camera_id} {start:%H:%M:%S}–{end:%H:%M:%S} attached and held",
            camera_id=camera_id,
            hold_id=hold.id,
            start=start.isoformat(),
            end=end.isoformat(),
        )
        _audit(
            session,
            actor,
            "evidence.hold",
            "evidence_hold",
            hold.id,
            {"incident": inc.id, "camera": camera_id},
        )
        self._incident_changed(session, inc, "updated", actor)
        return clip

    def _close_holds(self, session: Session, inc: Incident, actor: str, now: datetime) -> None:
        clips = list(session.scalars(select(IncidentClip).where(IncidentClip.incident_id == inc.id)))
        pol = self.settings.evidence
        for clip in clips:
            if pol.on_close == "release":
                hold = session.get(EvidenceHold, clip.hold_id)
                if hold is not None and hold.released_at is None:
                    hold.released_at, hold.released_by = now, actor
            else:
                clip.release_after = now + timedelta(days=pol.keep_days)
        if clips:
            what = "released" if pol.on_close == "release" else f"kept {pol.keep_days:g} more days"
            self._log(session, inc.id, actor, "clip", f"Evidence holds {what} on close", policy=pol.on_close)

    def release_due_holds(self, session: Session, now: datetime | None = None, actor: str = "system") -> int:
        """Release holds whose keep-N-days period after closing has passed. Safe to call often."""
        now = now or utcnow()
        rows = session.execute(
            select(IncidentClip, EvidenceHold)
            .join(EvidenceHold, EvidenceHold.id == IncidentClip.hold_id)
            .where(
                IncidentClip.release_after.is_not(None),
                IncidentClip.release_after <= now,
                EvidenceHold.released_at.is_(None),
            )
        ).all()
        for _clip, hold in rows:
            hold.released_at, hold.released_by = now, actor
        return len(rows)

    def nearest_cameras(self, inc: Incident, limit: int | None = None) -> list[dict[str, Any]]:
        limit = self.settings.nearest_cameras if limit is None else limit
        out: list[dict[str, Any]] = []
        for cam in self.cfg.cameras:
            if not cam.enabled or cam.location is None:
                continue
            d = geo.distance_m(inc, cam.location, self.settings)
            if d is not None:
                out.append({"id": cam.id, "name": cam.display_name, "distance_m": round(d, 1)})
        out.sort(key=lambda c: c["distance_m"])
        return out[:limit]

    # ---- units ----------------------------------------------------------------------------------

    def create_unit(
        self,
        session: Session,
        actor: str,
        *,
        id: str,
        type: str,
        name: str | None = None,
        station: str | None = None,
        lat: float | None = None,
        lon: float | None = None,
        x: float | None = None,
        y: float | None = None,
    ) -> ResponseUnit:
        if type not in UNIT_TYPES:
            raise InvalidInput(f"unit type must be one of {', '.join(UNIT_TYPES)}, not {type!r}")
        if not id or len(id) > 32 or not all(ch.isalnum() or ch in "-_" for ch in id):
            raise InvalidInput("unit id (call sign) must be 1-32 letters, digits, '-' or '_'")
        if lat is not None or x is not None:
            self._check_location(lat, lon, x, y, None)
        if session.get(ResponseUnit, id) is not None:
            raise Conflict(f"unit {id!r} already exists")
        unit = ResponseUnit(
            id=id,
            type=type,
            name=name,
            station=station,
            lat=lat,
            lon=lon,
            x=x,
            y=y,
            status="available",
            status_changed_at=utcnow(),
        )
        session.add(unit)
        self._unit_changed(session, unit, "created", actor)
        return unit

    def sync_units(self, session: Session) -> int:
        """Create the units declared in the config that are not in the database yet."""
        n = 0
        for seed in self.settings.units:
            if session.get(ResponseUnit, seed.id) is None:
                session.add(
                    ResponseUnit(
                        id=seed.id,
                        name=seed.name,
                        type=seed.type,
                        station=seed.station,
                        lat=seed.lat,
                        lon=seed.lon,
                        x=seed.x,
                        y=seed.y,
                        status="available",
                        status_changed_at=utcnow(),
                    )
                )
                n += 1
        session.flush()
        return n

    def recommend(self, session: Session, incident_id: int, limit: int = 5) -> dict[str, Any]:
        """Available units ranked by estimated travel: suitable types first, then the rest.

        Estimated seconds come from the travel-time table (unit station → incident district) when it
        has the pair, otherwise from straight-line distance at ``travel_speed_kmh``.
        """
        inc = self.get(session, incident_id)
        itype = self.settings.type(inc.type)
        suitable = list(itype.unit_types) if itype else list(UNIT_TYPES)
        speed = self.settings.travel_speed_kmh / 3.6
        cands: list[dict[str, Any]] = []
        for u in session.scalars(select(ResponseUnit).where(ResponseUnit.status == "available")):
            d = geo.distance_m(inc, u, self.settings)
            table = self.settings.travel_times.get(u.station or "", {}).get(inc.district or "")
            if table is not None:
                eta, method = float(table), "table"
            elif d is not None:
                eta, method = d / speed, "distance"
            else:
                eta, method = None, "unknown"
            cands.append(
                {
                    "unit": unit_dict(u),
                    "suitable": u.type in suitable,
                    "distance_m": round(d, 1) if d is not None else None,
                    "eta_s": round(eta, 1) if eta is not None else None,
                    "method": method,
                }
            )
        cands.sort(key=lambda c: (not c["suitable"], c["eta_s"] is None, c["eta_s"] or 0.0, c["unit"]["id"]))
        rec = cands[0] if cands and cands[0]["suitable"] else None
        return {
            "incident_id": inc.id,
            "suitable_types": suitable,
            "recommended": rec,
            "candidates": cands[:limit],
        }

    def dispatch(
        self,
        session: Session,
        incident_id: int,
        unit_id: str,
        actor: str,
        recommended_unit_id: str | None = None,
    ) -> Assignment:
        """Send a unit. The unit row is claimed first with ``UPDATE ... WHERE status='available'``:
        of two operators racing for the same unit exactly one gets rowcount 1."""
        now = utcnow()
        res = session.execute(
            update(ResponseUnit)
            .where(ResponseUnit.id == unit_id, ResponseUnit.status == "available")
            .values(status="dispatched", incident_id=incident_id, status_changed_at=now)
            .execution_options(synchronize_session=False)
        )
        if res.rowcount != 1:  # type: ignore[attr-defined]
            unit = session.get(ResponseUnit, unit_id)
            if unit is None:
                raise NotFound(f"unit {unit_id!r} not found")
            session.refresh(unit)
            where = f" to incident #{unit.incident_id}" if unit.incident_id else ""
            raise Conflict(f"unit {unit_id} is not available: it is {unit.status.replace('_', ' ')}{where}")
        inc = session.get(Incident, incident_id)
        if inc is None or inc.status not in ACTIVE_STATUSES:
            # give the unit back before refusing, so a caller that commits anyway changes nothing
            session.execute(
                update(ResponseUnit)
                .where(ResponseUnit.id == unit_id, ResponseUnit.incident_id == incident_id)
                .values(status="available", incident_id=None)
                .execution_options(synchronize_session=False)
            )
            if inc is None:
                raise NotFound(f"incident {incident_id} not found")
            raise InvalidInput(
                f"incident {incident_id} is {inc.status}; units can only be sent to active incidents"
            )
        unit = session.get(ResponseUnit, unit_id)
        assert unit is not None
        session.refresh(unit)
        a = Assignment(
            incident_id=inc.id,
            unit_id=unit_id,
            dispatched_at=now,
            dispatched_by=actor,
            recommended_unit_id=recommended_unit_id,
        )
        session.add(a)
        if inc.status == "new":
            session.execute(
                update(Incident)
                .where(Incident.id == inc.id, Incident.status == "new")
                .values(status="dispatched", dispatched_at=now, updated_at=now)
                .execution_options(synchronize_session=False)
            )
            session.refresh(inc)
            self._log(
                session,
                inc.id,
                actor,
                "status",
                "Status new → dispatched",
                status="dispatched",
                previous="new",
            )
        note = ""
        if recommended_unit_id and recommended_unit_id != unit_id:
            note = f" (recommended {recommended_unit_id})"
        self._log(
            session,
            inc.id,
            actor,
            "dispatch",
            f"Unit {unit_id} ({unit.type}) dispatched{note}",
            unit_id=unit_id,
            recommended_unit_id=recommended_unit_id,
        )
        _audit(session, actor, "incident.dispatch", "incident", inc.id, {"unit": unit_id})
        self._unit_changed(session, unit, "status", actor)
        self._incident_changed(session, inc, "dispatch", actor)
        return a

    UNIT_FLOW = ("dispatched", "en_route", "on_scene")

    def set_unit_status(
        self,
        session: Session,
        unit_id: str,
        status: str,
        actor: str,
        *,
        lat: float | None = None,
        lon: float | None = None,
        x: float | None = None,
        y: float | None = None,
    ) -> ResponseUnit:
        """A unit reports progress (console, mobile app, radio gateway). Assigned units move
        dispatched → en_route → on_scene → available; the incident follows its first unit."""
        if status not in UNIT_STATUSES:
            raise InvalidInput(f"unknown unit status {status!r}; statuses: {', '.join(UNIT_STATUSES)}")
        if lat is not None or lon is not None or x is not None or y is not None:
            self._check_location(lat, lon, x, y, None)
        unit = self.get_unit(session, unit_id)
        cur = unit.status
        if status == "dispatched":
            raise InvalidInput("use dispatch to send a unit to an incident")
        if cur == status:
            if lat is not None or x is not None:
                return self.set_unit_location(session, unit_id, actor, lat=lat, lon=lon, x=x, y=y)
            return unit
        if unit.incident_id is not None:
            if status == "out_of_service":
                raise InvalidInput(
                    f"unit {unit_id} is assigned to incident #{unit.incident_id}; release it first"
                )
            if status != "available":
                i, j = self.UNIT_FLOW.index(cur), self.UNIT_FLOW.index(status)
                if j != i + 1:
                    nxt = self.UNIT_FLOW[i + 1] if i + 1 < len(self.UNIT_FLOW) else "available"
                    raise InvalidInput(
                        f"unit {unit_id} cannot go from {cur!r} to {status!r}: the next step is {nxt!r}"
                    )
        elif status in self.UNIT_FLOW:
            raise InvalidInput(
                f"unit {unit_id} is not assigned to an incident; it cannot be {status.replace('_', ' ')}"
            )
        now = utcnow()
        values: dict[str, Any] = {"status": status, "status_changed_at": now}
        if status == "available":
            values["incident_id"] = None
        if lat is not None or x is not None:
            values.update(lat=lat, lon=lon, x=x, y=y)
        res = session.execute(
            update(ResponseUnit)
            .where(ResponseUnit.id == unit_id, ResponseUnit.status == cur)
            .values(**values)
            .execution_options(synchronize_session=False)
        )
        if res.rowcount != 1:  # type: ignore[attr-defined]
            raise Conflict(f"unit {unit_id} changed meanwhile; reload and try again")
        inc_id = unit.incident_id
        session.refresh(unit)
        if inc_id is not None:
            a = session.scalar(
                select(Assignment).where(Assignment.unit_id == unit_id, Assignment.released_at.is_(None))
            )
            inc = session.get(Incident, inc_id)
            if a is not None:
                if status == "available":
                    a.released_at = now
                else:
                    setattr(a, f"{status}_at", now)
            if inc is not None:
                label = status.replace("_", " ")
                self._log(
                    session, inc.id, actor, "unit", f"Unit {unit_id} {label}", unit_id=unit_id, status=status
                )
                follow = {"en_route": "dispatched", "on_scene": "en_route"}
                if follow.get(status) == inc.status:
                    session.execute(
                        update(Incident)
                        .where(Incident.id == inc.id, Incident.status == inc.status)
                        .values(status=status, updated_at=now, **{f"{status}_at": now})
                        .execution_options(synchronize_session=False)
                    )
                    prev = inc.status
                    session.refresh(inc)
                    self._log(
                        session,
                        inc.id,
                        actor,
                        "status",
                        f"Status {prev} → {status} (unit {unit_id})",
                        status=status,
                        previous=prev,
                    )
                self._incident_changed(session, inc, "unit", actor)
        self._unit_changed(session, unit, "status", actor)
        return unit

    def set_unit_location(
        self,
        session: Session,
        unit_id: str,
        actor: str,
        *,
        lat: float | None = None,
        lon: float | None = None,
        x: float | None = None,
        y: float | None = None,
    ) -> ResponseUnit:
        self._check_location(lat, lon, x, y, None)
        unit = self.get_unit(session, unit_id)
        unit.lat, unit.lon, unit.x, unit.y = lat, lon, x, y
        self._unit_changed(session, unit, "location", actor)
        return unit

    # ---- reads ----------------------------------------------------------------------------------

    def list_incidents(self, session: Session, status: str = "open", limit: int = 200) -> list[Incident]:
        q = select(Incident).order_by(Incident.reported_at.desc()).limit(limit)
        if status == "open":
            q = q.where(Incident.status != "closed")
        elif status != "all":
            if status not in INCIDENT_STATUSES:
                raise InvalidInput(f"unknown status {status!r}")
            q = q.where(Incident.status == status)
        return list(session.scalars(q))

    def timeline(self, session: Session, incident_id: int) -> list[IncidentEntry]:
        return list(
            session.scalars(
                select(IncidentEntry)
                .where(IncidentEntry.incident_id == incident_id)
                .order_by(IncidentEntry.id)
            )
        )

    def assignments(self, session: Session, incident_id: int) -> list[Assignment]:
        return list(
            session.scalars(
                select(Assignment).where(Assignment.incident_id == incident_id).order_by(Assignment.id)
            )
        )

    def clips(self, session: Session, incident_id: int) -> list[IncidentClip]:
        return list(
            session.scalars(
                select(IncidentClip).where(IncidentClip.incident_id == incident_id).order_by(IncidentClip.id)
            )
        )

    def active_units_by_incident(self, session: Session, incident_ids: list[int]) -> dict[int, list[str]]:
        """Unreleased unit ids per incident, in one query (for lists)."""
        out: dict[int, list[str]] = {}
        if not incident_ids:
            return out
        q = select(Assignment.incident_id, Assignment.unit_id).where(
            Assignment.incident_id.in_(incident_ids), Assignment.released_at.is_(None)
        )
        for iid, uid in session.execute(q.order_by(Assignment.id)):
            out.setdefault(iid, []).append(uid)
        return out

    def units(self, session: Session) -> list[ResponseUnit]:
        return list(session.scalars(select(ResponseUnit).order_by(ResponseUnit.type, ResponseUnit.id)))


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
