"""What every part of the incident service shares: the journal and the lookups and checks.

The journal is three records of each change: a timeline line (``IncidentEntry``), an audit entry,
and a bus message that is queued on the session and published only after it commits (a console
never sees a change that was rolled back). Lookups raise ``NotFound``; checks raise
``InvalidInput`` before anything is written.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import event, select
from sqlalchemy.orm import Session

from oversight.config.incidents import PRIORITIES, IncidentSettings
from oversight.config.schema import SiteConfig
from oversight.events import topics
from oversight.events.bus import EventBus
from oversight.i18n import N_, message_of
from oversight.incidents import geo
from oversight.incidents.errors import InvalidInput, NotFound
from oversight.incidents.models import Incident, IncidentEntry, ResponseUnit
from oversight.incidents.serialize import incident_dict, unit_dict
from oversight.privacy.audit import record
from oversight.store.base import utcnow

_PENDING = "oversight_incidents_pending"


def _flush_pending(session: Session) -> None:
    pending = session.info.pop(_PENDING, [])
    for bus, topic, data in pending:
        bus.publish(topic, data)


def _drop_pending(session: Session) -> None:
    session.info.pop(_PENDING, None)


def audit(
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


class Journal:
    """The base of ``IncidentService``: its settings, bus, journal, lookups and checks."""

    def __init__(
        self,
        cfg: SiteConfig | None = None,
        bus: EventBus | None = None,
        settings: IncidentSettings | None = None,
    ):
        self.cfg = cfg or SiteConfig()
        self.settings = settings or self.cfg.incidents or IncidentSettings()
        self.bus = bus

    # ---- journal --------------------------------------------------------------------------------

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
            topics.INCIDENT,
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
            topics.UNIT,
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

    def timeline(self, session: Session, incident_id: int) -> list[IncidentEntry]:
        return list(
            session.scalars(
                select(IncidentEntry)
                .where(IncidentEntry.incident_id == incident_id)
                .order_by(IncidentEntry.id)
            )
        )

    # ---- lookups --------------------------------------------------------------------------------

    def get(self, session: Session, incident_id: int) -> Incident:
        inc = session.get(Incident, incident_id)
        if inc is None:
            raise NotFound(N_("incident {incident_id} not found"), incident_id=incident_id)
        return inc

    def get_unit(self, session: Session, unit_id: str) -> ResponseUnit:
        unit = session.get(ResponseUnit, unit_id)
        if unit is None:
            raise NotFound(N_("unit {unit_id!r} not found"), unit_id=unit_id)
        return unit

    # ---- checks ---------------------------------------------------------------------------------

    def _check_type(self, type_id: str) -> None:
        if self.settings.type(type_id) is None:
            known = ", ".join(t.id for t in self.settings.types)
            raise InvalidInput(
                N_("unknown incident type {type_id!r}; known types: {known}"), type_id=type_id, known=known
            )

    @staticmethod
    def _check_priority(priority: str) -> None:
        if priority not in PRIORITIES:
            raise InvalidInput(
                N_("priority must be one of {choices}, not {priority!r}"),
                choices=", ".join(PRIORITIES),
                priority=priority,
            )

    def _check_district(self, district: str | None) -> None:
        if district and self.settings.districts and district not in {d.id for d in self.settings.districts}:
            known = ", ".join(d.id for d in self.settings.districts)
            raise InvalidInput(
                N_("unknown district {district!r}; known districts: {known}"), district=district, known=known
            )

    def _check_location(
        self, lat: float | None, lon: float | None, x: float | None, y: float | None, address: str | None
    ) -> None:
        try:
            geo.validate_location(self.settings, lat, lon, x, y, address)
        except geo.LocationError as exc:
            raise InvalidInput(message_of(exc)) from None
