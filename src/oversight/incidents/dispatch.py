"""Response units: their register, the recommendation, dispatch, and the statuses they report.

Invariant: a unit serves at most one incident. Dispatch claims the unit row with a conditional
``UPDATE ... WHERE status='available'`` and every status change is conditional on the status it
was read in, so of two consoles racing for the same unit or step exactly one wins.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from oversight.config.incidents import UNIT_TYPES
from oversight.i18n import N_, term
from oversight.incidents import geo
from oversight.incidents.errors import Conflict, InvalidInput, NotFound
from oversight.incidents.journal import audit
from oversight.incidents.models import (
    ACTIVE_STATUSES,
    STATUS_WORDS,
    UNIT_STATUSES,
    Assignment,
    Incident,
    ResponseUnit,
)
from oversight.incidents.roster import Roster
from oversight.incidents.serialize import unit_dict
from oversight.maps import roads
from oversight.store.base import utcnow

UNIT_FLOW = ("dispatched", "en_route", "on_scene")
FOLLOW = {"en_route": "dispatched", "on_scene": "en_route"}  # unit status -> incident status it advances


class Dispatch(Roster):
    UNIT_FLOW = UNIT_FLOW

    # ---- the register -----------------------------------------------------------------------------

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
            raise InvalidInput(
                N_("unit type must be one of {choices}, not {type!r}"),
                choices=", ".join(UNIT_TYPES),
                type=type,
            )
        if not id or len(id) > 32 or not all(ch.isalnum() or ch in "-_" for ch in id):
            raise InvalidInput(N_("unit id (call sign) must be 1-32 letters, digits, '-' or '_'"))
        if lat is not None or x is not None:
            self._check_location(lat, lon, x, y, None)
        if session.get(ResponseUnit, id) is not None:
            raise Conflict(N_("unit {id!r} already exists"), id=id)
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
        self.at_station(session, unit)
        audit(session, actor, "unit.create", "unit", id, {"type": type, "station": station})
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

    def units(self, session: Session, retired: bool = False) -> list[ResponseUnit]:
        q = select(ResponseUnit).order_by(ResponseUnit.type, ResponseUnit.id)
        return list(session.scalars(q if retired else q.where(ResponseUnit.retired_at.is_(None))))

    def assignments(self, session: Session, incident_id: int) -> list[Assignment]:
        return list(
            session.scalars(
                select(Assignment).where(Assignment.incident_id == incident_id).order_by(Assignment.id)
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

    # ---- recommendation and dispatch ----------------------------------------------------------

    def road_network(self) -> roads.RoadNetwork | None:
        """The city's road graph (``site.road_network``), or None: straight lines then."""
        path = self.cfg.site.road_network
        return roads.load(path, self.settings.travel_speed_kmh) if path else None

    def _road_seconds(self, inc: Incident, units: list[ResponseUnit]) -> list[float | None]:
        net = self.road_network()
        if net is None or inc.lat is None or inc.lon is None:
            return [None] * len(units)
        placed = [u for u in units if u.lat is not None and u.lon is not None]
        secs = net.travel_seconds((inc.lat, inc.lon), [(u.lat, u.lon) for u in placed])  # type: ignore[misc]
        by_id = dict(zip([u.id for u in placed], secs, strict=True))
        return [by_id.get(u.id) for u in units]

    def recommend(self, session: Session, incident_id: int, limit: int = 5) -> dict[str, Any]:
        """On-shift available units ranked by estimated travel: suitable types first, then the rest.

        Seconds come from the travel-time table (unit station → incident district) when it has the
        pair, else over the road network when the city supplies one, else from straight-line distance
        at ``travel_speed_kmh``; ``routing`` says which the ranking could use, each candidate its own.
        """
        inc = self.get(session, incident_id)
        itype = self.settings.type(inc.type)
        suitable = list(itype.unit_types) if itype else list(UNIT_TYPES)
        q = select(ResponseUnit).where(
            ResponseUnit.status == "available",
            ResponseUnit.on_duty.is_(True),
            ResponseUnit.retired_at.is_(None),
        )
        units = list(session.scalars(q))
        road = self._road_seconds(inc, units)
        cands = [self._candidate(inc, u, s, u.type in suitable) for u, s in zip(units, road, strict=True)]
        routing = "road" if self.cfg.site.road_network and inc.lat is not None else "straight_line"
        # with roads, a unit no road leads from (its straight-line time a guess) ranks after those timed
        guess = {"distance"} if routing == "road" else set()
        cands.sort(
            key=lambda c: (
                not c["suitable"],
                c["eta_s"] is None,
                c["method"] in guess,
                c["eta_s"] or 0.0,
                c["unit"]["id"],
            )
        )
        rec = cands[0] if cands and cands[0]["suitable"] else None
        return {
            "incident_id": inc.id,
            "suitable_types": suitable,
            "routing": routing,
            "recommended": rec,
            "candidates": cands[:limit],
        }

    def _candidate(
        self, inc: Incident, u: ResponseUnit, road_s: float | None, suitable: bool
    ) -> dict[str, Any]:
        d = geo.distance_m(inc, u, self.settings)
        table = self.settings.travel_times.get(u.station or "", {}).get(inc.district or "")
        if table is not None:
            eta, method = float(table), "table"
        elif road_s is not None:
            eta, method = road_s, "road"
        elif d is not None:
            eta, method = d / (self.settings.travel_speed_kmh / 3.6), "distance"
        else:
            eta, method = None, "unknown"
        return {
            "unit": unit_dict(u),
            "suitable": suitable,
            "distance_m": round(d, 1) if d is not None else None,
            "eta_s": round(eta, 1) if eta is not None else None,
            "method": method,
        }

    def _claim(self, session: Session, unit_id: str, incident_id: int, now: datetime) -> Incident:
        """Claim an available unit for an active incident, or raise with the unit left as it was."""
        res = session.execute(
            update(ResponseUnit)
            .where(
                ResponseUnit.id == unit_id,
                ResponseUnit.status == "available",
                ResponseUnit.on_duty.is_(True),
                ResponseUnit.retired_at.is_(None),
            )
            .values(status="dispatched", incident_id=incident_id, status_changed_at=now)
            .execution_options(synchronize_session=False)
        )
        if res.rowcount != 1:  # type: ignore[attr-defined]
            unit = session.get(ResponseUnit, unit_id)
            if unit is None:
                raise NotFound(N_("unit {unit_id!r} not found"), unit_id=unit_id)
            session.refresh(unit)
            state = unit.status
            if unit.retired_at is not None or not unit.on_duty:
                state = "retired" if unit.retired_at is not None else "off_shift"
            if unit.incident_id:
                raise Conflict(
                    N_("unit {unit_id} is not available: it is {state} to incident #{incident_id}"),
                    unit_id=unit_id,
                    state=term(state, STATUS_WORDS),
                    incident_id=unit.incident_id,
                )
            raise Conflict(
                N_("unit {unit_id} is not available: it is {state}"),
                unit_id=unit_id,
                state=term(state, STATUS_WORDS),
            )
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
                raise NotFound(N_("incident {incident_id} not found"), incident_id=incident_id)
            raise InvalidInput(
                N_("incident {incident_id} is {state}; units can only be sent to active incidents"),
                incident_id=incident_id,
                state=term(inc.status, STATUS_WORDS),
            )
        return inc

    def dispatch(
        self,
        session: Session,
        incident_id: int,
        unit_id: str,
        actor: str,
        recommended_unit_id: str | None = None,
    ) -> Assignment:
        """Send a unit; the incident moves from new to dispatched with its first unit."""
        now = utcnow()
        inc = self._claim(session, unit_id, incident_id, now)
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
            self._follow(session, inc, "dispatched", actor, now, "Status new → dispatched")
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
        audit(session, actor, "incident.dispatch", "incident", inc.id, {"unit": unit_id})
        self._unit_changed(session, unit, "status", actor)
        self._incident_changed(session, inc, "dispatch", actor)
        return a

    def _follow(
        self, session: Session, inc: Incident, status: str, actor: str, now: datetime, msg: str
    ) -> None:
        """Move ``inc`` one step to ``status`` because of a unit (conditional on its current status)."""
        prev = inc.status
        session.execute(
            update(Incident)
            .where(Incident.id == inc.id, Incident.status == prev)
            .values(status=status, updated_at=now, **{f"{status}_at": now})
            .execution_options(synchronize_session=False)
        )
        session.refresh(inc)
        self._log(session, inc.id, actor, "status", msg, status=status, previous=prev)

    # ---- what units report --------------------------------------------------------------------

    def _check_unit_step(self, unit: ResponseUnit, status: str) -> None:
        cur, unit_id = unit.status, unit.id
        if unit.incident_id is not None:
            if status == "out_of_service":
                raise InvalidInput(
                    N_("unit {unit_id} is assigned to incident #{incident_id}; release it first"),
                    unit_id=unit_id,
                    incident_id=unit.incident_id,
                )
            if status != "available":
                i, j = UNIT_FLOW.index(cur), UNIT_FLOW.index(status)
                if j != i + 1:
                    nxt = UNIT_FLOW[i + 1] if i + 1 < len(UNIT_FLOW) else "available"
                    raise InvalidInput(
                        N_("unit {unit_id} cannot go from {cur!r} to {state!r}: the next step is {nxt!r}"),
                        unit_id=unit_id,
                        cur=term(cur, STATUS_WORDS),
                        state=term(status, STATUS_WORDS),
                        nxt=term(nxt, STATUS_WORDS),
                    )
        elif status in UNIT_FLOW:
            raise InvalidInput(
                N_("unit {unit_id} is not assigned to an incident; it cannot be {state}"),
                unit_id=unit_id,
                state=term(status, STATUS_WORDS),
            )

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
            raise InvalidInput(
                N_("unknown unit status {state!r}; statuses: {choices}"),
                state=status,
                choices=", ".join(UNIT_STATUSES),
            )
        if lat is not None or lon is not None or x is not None or y is not None:
            self._check_location(lat, lon, x, y, None)
        unit = self._live_unit(session, unit_id)
        cur = unit.status
        if status == "dispatched":
            raise InvalidInput(N_("use dispatch to send a unit to an incident"))
        if cur == status:
            if lat is not None or x is not None:
                return self.set_unit_location(session, unit_id, actor, lat=lat, lon=lon, x=x, y=y)
            return unit
        self._check_unit_step(unit, status)
        now = utcnow()
        values: dict[str, Any] = {"status": status, "status_changed_at": now}
        if status == "available":
            values["incident_id"] = None
        if lat is not None or x is not None:
            values.update(lat=lat, lon=lon, x=x, y=y, location_at=now)
        res = session.execute(
            update(ResponseUnit)
            .where(ResponseUnit.id == unit_id, ResponseUnit.status == cur)
            .values(**values)
            .execution_options(synchronize_session=False)
        )
        if res.rowcount != 1:  # type: ignore[attr-defined]
            raise Conflict(N_("unit {unit_id} changed meanwhile; reload and try again"), unit_id=unit_id)
        inc_id = unit.incident_id
        session.refresh(unit)
        if inc_id is not None:
            self._unit_reported(session, inc_id, unit_id, status, actor, now)
        self._unit_changed(session, unit, "status", actor)
        return unit

    def _unit_reported(
        self, session: Session, inc_id: int, unit_id: str, status: str, actor: str, now: datetime
    ) -> None:
        """The assignment and the incident follow what an assigned unit reported."""
        a = session.scalar(
            select(Assignment).where(Assignment.unit_id == unit_id, Assignment.released_at.is_(None))
        )
        if a is not None:
            if status == "available":
                a.released_at = now
            else:
                setattr(a, f"{status}_at", now)
        inc = session.get(Incident, inc_id)
        if inc is None:
            return
        label = status.replace("_", " ")
        self._log(session, inc.id, actor, "unit", f"Unit {unit_id} {label}", unit_id=unit_id, status=status)
        if FOLLOW.get(status) == inc.status:
            msg = f"Status {inc.status} → {status} (unit {unit_id})"
            self._follow(session, inc, status, actor, now, msg)
        self._incident_changed(session, inc, "unit", actor)

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
        unit = self._live_unit(session, unit_id)
        unit.lat, unit.lon, unit.x, unit.y = lat, lon, x, y
        unit.location_at = utcnow()
        self._unit_changed(session, unit, "location", actor)
        return unit
