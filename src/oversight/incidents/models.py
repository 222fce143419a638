"""Tables of the emergency-response side: incidents, their timeline, response units, assignments,
and attached footage.

The "one unit, one incident" rule is held by the database twice: dispatch is a conditional
``UPDATE response_units ... WHERE status = 'available'`` (rowcount tells who won), and a unique
partial index allows only one unreleased assignment per unit.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Float, ForeignKey, Index, Integer, String, Text, text, true
from sqlalchemy.orm import Mapped, mapped_column

from oversight.i18n import N_
from oversight.store import models as _core  # noqa: F401  (evidence_holds, referenced below)
from oversight.store.base import Base, UTCDateTime, utcnow

INCIDENT_STATUSES = ("new", "dispatched", "en_route", "on_scene", "cleared", "closed")
UNIT_STATUSES = ("available", "dispatched", "en_route", "on_scene", "out_of_service")
ACTIVE_STATUSES = ("new", "dispatched", "en_route", "on_scene")  # units may be sent; one per alert
# the statuses as words inside messages (i18n.term translates them where they are read)
STATUS_WORDS = {
    "new": N_("new"),
    "available": N_("available"),
    "dispatched": N_("dispatched"),
    "en_route": N_("en route"),
    "on_scene": N_("on scene"),
    "cleared": N_("cleared"),
    "closed": N_("closed"),
    "out_of_service": N_("out of service"),
    "off_shift": N_("off shift"),
    "retired": N_("retired"),
}


class Incident(Base):
    __tablename__ = "incidents"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    type: Mapped[str] = mapped_column(String(32))
    priority: Mapped[str] = mapped_column(String(2))
    status: Mapped[str] = mapped_column(String(16), default="new")
    source: Mapped[str] = mapped_column(String(16), default="call")  # call | alert | api
    lat: Mapped[float | None] = mapped_column(Float, nullable=True)
    lon: Mapped[float | None] = mapped_column(Float, nullable=True)
    x: Mapped[float | None] = mapped_column(Float, nullable=True)  # site plan, 0..1
    y: Mapped[float | None] = mapped_column(Float, nullable=True)
    address: Mapped[str | None] = mapped_column(Text, nullable=True)
    district: Mapped[str | None] = mapped_column(String(64), nullable=True)
    description: Mapped[str] = mapped_column(Text, default="")
    notes: Mapped[str] = mapped_column(Text, default="")
    caller_name: Mapped[str | None] = mapped_column(String(128), nullable=True)
    caller_phone: Mapped[str | None] = mapped_column(String(64), nullable=True)
    caller_account: Mapped[str | None] = mapped_column(Text, nullable=True)  # what the caller said
    camera_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    event_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    snapshot_path: Mapped[str | None] = mapped_column(String(1024), nullable=True)
    reported_at: Mapped[datetime] = mapped_column(UTCDateTime)  # the call / alert: timers start here
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by: Mapped[str] = mapped_column(String(64))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    dispatched_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    en_route_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    on_scene_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    cleared_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    disposition: Mapped[str | None] = mapped_column(String(64), nullable=True)
    __table_args__ = (
        Index("ix_incidents_status", "status"),
        Index("ix_incidents_reported_at", "reported_at"),
        Index("ix_incidents_event_id", "event_id"),
    )


class IncidentEntry(Base):
    """One line of an incident's timeline: who changed what, when."""

    __tablename__ = "incident_timeline"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    actor: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(16))  # created | status | field | note | dispatch | unit | clip
    message: Mapped[str] = mapped_column(Text)
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class ResponseUnit(Base):
    __tablename__ = "response_units"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)  # call sign
    name: Mapped[str | None] = mapped_column(String(128), nullable=True)
    type: Mapped[str] = mapped_column(String(16))  # police | fire | medical | other
    status: Mapped[str] = mapped_column(String(16), default="available")
    station: Mapped[str | None] = mapped_column(String(64), nullable=True)
    lat: Mapped[float | None] = mapped_column(Float, nullable=True)
    lon: Mapped[float | None] = mapped_column(Float, nullable=True)
    x: Mapped[float | None] = mapped_column(Float, nullable=True)
    y: Mapped[float | None] = mapped_column(Float, nullable=True)
    incident_id: Mapped[int | None] = mapped_column(Integer, nullable=True)  # current assignment
    status_changed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # when the position last arrived (AVL or a dispatcher); None: the configured station position
    location_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # the roster: off-shift and retired units are never recommended; retired ones leave the map but
    # keep their row, so past assignments still name them
    on_duty: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    duty_changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    retired_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    retired_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    __table_args__ = (Index("ix_response_units_status", "status"),)


class Station(Base):
    """Where units are based; a unit at a station with no position of its own starts there."""

    __tablename__ = "stations"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(128))
    lat: Mapped[float | None] = mapped_column(Float, nullable=True)
    lon: Mapped[float | None] = mapped_column(Float, nullable=True)
    x: Mapped[float | None] = mapped_column(Float, nullable=True)
    y: Mapped[float | None] = mapped_column(Float, nullable=True)


class Assignment(Base):
    """A unit sent to an incident; open until ``released_at``."""

    __tablename__ = "incident_assignments"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"), index=True)
    unit_id: Mapped[str] = mapped_column(ForeignKey("response_units.id"))
    dispatched_at: Mapped[datetime] = mapped_column(UTCDateTime)
    dispatched_by: Mapped[str] = mapped_column(String(64))
    recommended_unit_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    en_route_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    on_scene_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    released_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    __table_args__ = (
        Index(
            "uq_incident_assignments_active_unit",
            "unit_id",
            unique=True,
            sqlite_where=text("released_at IS NULL"),
            postgresql_where=text("released_at IS NULL"),
        ),
    )


class IncidentClip(Base):
    """Footage attached to an incident; ``hold_id`` is the EvidenceHold keeping it from retention."""

    __tablename__ = "incident_clips"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"), index=True)
    camera_id: Mapped[str] = mapped_column(String(64))
    start: Mapped[datetime] = mapped_column(UTCDateTime)
    end: Mapped[datetime] = mapped_column(UTCDateTime)
    hold_id: Mapped[int] = mapped_column(ForeignKey("evidence_holds.id"))
    note: Mapped[str] = mapped_column(Text, default="")
    added_by: Mapped[str] = mapped_column(String(64))
    added_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    release_after: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)  # keep_days policy
