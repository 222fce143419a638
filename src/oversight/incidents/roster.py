"""The unit roster: editing units, shifts (on/off duty), soft retirement, and stations.

Invariants: a unit's row is never deleted (past assignments and reports name it), so retiring only
stamps ``retired_at`` and takes it out of service; a unit serving an incident can neither retire nor
go off duty. Every change is audited and announced on the bus like a status change.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from oversight.config.incidents import UNIT_TYPES
from oversight.i18n import N_
from oversight.incidents.errors import Conflict, InvalidInput, NotFound
from oversight.incidents.journal import Journal, audit
from oversight.incidents.models import ResponseUnit, Station
from oversight.store.base import utcnow

UNIT_FIELDS = ("name", "type", "station", "lat", "lon", "x", "y")


def _check_id(what: str, value: str, max_len: int) -> None:
    if not value or len(value) > max_len or not all(ch.isalnum() or ch in "-_" for ch in value):
        raise InvalidInput(f"{what} must be 1-{max_len} letters, digits, '-' or '_'")


class Roster(Journal):
    def _live_unit(self, session: Session, unit_id: str) -> ResponseUnit:
        unit = self.get_unit(session, unit_id)
        if unit.retired_at is not None:
            raise InvalidInput(f"unit {unit_id} is retired")
        return unit

    def at_station(self, session: Session, unit: ResponseUnit) -> None:
        """A unit with no position of its own starts at its station's."""
        st = session.get(Station, unit.station) if unit.station else None
        if st is not None and unit.lat is None and unit.x is None:
            unit.lat, unit.lon, unit.x, unit.y = st.lat, st.lon, st.x, st.y

    def update_unit(self, session: Session, unit_id: str, actor: str, **changes: Any) -> ResponseUnit:
        """Edit name, type, station or home position; only the fields given change."""
        unknown = set(changes) - set(UNIT_FIELDS)
        if unknown:
            raise InvalidInput(f"unknown unit field(s): {', '.join(sorted(unknown))}")
        unit = self._live_unit(session, unit_id)
        if "type" in changes and changes["type"] not in UNIT_TYPES:
            raise InvalidInput(f"unit type must be one of {', '.join(UNIT_TYPES)}, not {changes['type']!r}")
        place = {k: changes.get(k, getattr(unit, k)) for k in ("lat", "lon", "x", "y")}
        if any(k in changes for k in place) and (place["lat"] is not None or place["x"] is not None):
            self._check_location(place["lat"], place["lon"], place["x"], place["y"], None)
        before = {k: getattr(unit, k) for k in changes}
        for k, v in changes.items():
            setattr(unit, k, v)
        self.at_station(session, unit)
        audit(session, actor, "unit.update", "unit", unit.id, {"before": before, "after": changes})
        self._unit_changed(session, unit, "updated", actor)
        return unit

    def set_duty(self, session: Session, unit_id: str, on_duty: bool, actor: str) -> ResponseUnit:
        """Start or end a unit's shift; off-shift units are not recommended and cannot be sent."""
        unit = self._live_unit(session, unit_id)
        if not on_duty and unit.incident_id is not None:
            raise Conflict(
                N_("unit {unit_id} is assigned to incident #{incident_id}; release it first"),
                unit_id=unit_id,
                incident_id=unit.incident_id,
            )
        if unit.on_duty != on_duty:
            unit.on_duty, unit.duty_changed_at = on_duty, utcnow()
            audit(session, actor, "unit.shift", "unit", unit.id, {"on_duty": on_duty})
            self._unit_changed(session, unit, "shift", actor)
        return unit

    def retire_unit(self, session: Session, unit_id: str, actor: str, reason: str = "") -> ResponseUnit:
        """Take a unit off the roster for good; its row and history stay."""
        unit = self._live_unit(session, unit_id)
        if unit.incident_id is not None:
            raise Conflict(
                N_("unit {unit_id} is assigned to incident #{incident_id}; release it first"),
                unit_id=unit_id,
                incident_id=unit.incident_id,
            )
        now = utcnow()
        unit.retired_at, unit.retired_by = now, actor
        unit.status, unit.status_changed_at, unit.on_duty = "out_of_service", now, False
        audit(session, actor, "unit.retire", "unit", unit.id, {"reason": reason})
        self._unit_changed(session, unit, "retired", actor)
        return unit

    # ---- stations -------------------------------------------------------------------------------

    def stations(self, session: Session) -> list[Station]:
        return list(session.scalars(select(Station).order_by(Station.name)))

    def save_station(
        self,
        session: Session,
        actor: str,
        *,
        id: str,
        name: str,
        lat: float | None = None,
        lon: float | None = None,
        x: float | None = None,
        y: float | None = None,
        create: bool = True,
    ) -> Station:
        """Create a station (``create``) or replace an existing one's name and position."""
        _check_id("station id", id, 64)
        if not name.strip():
            raise InvalidInput("a station needs a name")
        if lat is not None or x is not None:
            self._check_location(lat, lon, x, y, None)
        st = session.get(Station, id)
        if create and st is not None:
            raise Conflict(N_("station {station} already exists"), station=id)
        if not create and st is None:
            raise NotFound(N_("station {station} not found"), station=id)
        if st is None:
            st = Station(id=id, name=name)
            session.add(st)
        st.name, st.lat, st.lon, st.x, st.y = name.strip(), lat, lon, x, y
        audit(session, actor, "station.create" if create else "station.update", "station", id, {"name": name})
        session.flush()
        return st
