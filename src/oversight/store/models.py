"""Core tables: recordings, gaps, events, users and evidence holds.

Other domains (audit, reveals, incidents, sessions) keep their tables in their own
``models`` modules on the same ``Base`` (this package imports none of them); migrations create every table.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, Float, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from oversight.store.base import Base, UTCDateTime, utcnow


class Segment(Base):
    """One closed MP4 file on storage. Rows are written only after the file is complete."""

    __tablename__ = "segments"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    camera_id: Mapped[str] = mapped_column(String(64), index=True)
    start: Mapped[datetime] = mapped_column(UTCDateTime)
    end: Mapped[datetime] = mapped_column(UTCDateTime)
    path: Mapped[str] = mapped_column(String(1024), unique=True)
    bytes: Mapped[int] = mapped_column(BigInteger)
    has_event: Mapped[bool] = mapped_column(Boolean, default=False)  # keeps event_retention_days
    __table_args__ = (Index("ix_segments_camera_start", "camera_id", "start"),)


class RecordingGap(Base):
    """A stretch of time with no footage: a camera outage or a recorder stop."""

    __tablename__ = "recording_gaps"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    camera_id: Mapped[str] = mapped_column(String(64), index=True)
    start: Mapped[datetime] = mapped_column(UTCDateTime)
    end: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)  # open while the outage lasts
    reason: Mapped[str] = mapped_column(String(255), default="")


class Event(Base):
    """An analytic event with a lifecycle: start, updates, end."""

    __tablename__ = "events"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    camera_id: Mapped[str] = mapped_column(String(64))
    label: Mapped[str] = mapped_column(String(64))  # object class or 'motion', 'crowd'
    rule_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    rule_type: Mapped[str | None] = mapped_column(String(16), nullable=True)
    track_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    start: Mapped[datetime] = mapped_column(UTCDateTime)
    end: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    confidence: Mapped[float] = mapped_column(Float, default=0.0)
    snapshot_path: Mapped[str | None] = mapped_column(String(1024), nullable=True)
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    acknowledged_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    ack_note: Mapped[str | None] = mapped_column(Text, nullable=True)
    __table_args__ = (
        Index("ix_events_start", "start"),
        Index("ix_events_camera_start", "camera_id", "start"),
        Index("ix_events_label_start", "label", "start"),
        Index("ix_events_rule_start", "rule_id", "start"),
    )


class User(Base):
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16))  # viewer|operator|supervisor|auditor|admin
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sessions_valid_after: Mapped[datetime | None] = mapped_column(
        UTCDateTime, nullable=True
    )  # logout everywhere
    locale: Mapped[str | None] = mapped_column(String(16), nullable=True)  # UI language; None: the browser's
    # ids of site.camera_groups this account is granted (oversight.permissions.camera_scope)
    camera_groups: Mapped[list[str]] = mapped_column(JSON, default=list)


class EvidenceHold(Base):
    """Footage of a camera in a window that retention must never delete while active."""

    __tablename__ = "evidence_holds"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    camera_id: Mapped[str] = mapped_column(String(64), index=True)
    start: Mapped[datetime] = mapped_column(UTCDateTime)
    end: Mapped[datetime] = mapped_column(UTCDateTime)
    reason: Mapped[str] = mapped_column(Text)
    reference: Mapped[str | None] = mapped_column(String(128), nullable=True)  # incident or case number
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    released_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    released_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    # set when a supervisor renews the hold; until then it lapses site.max_hold_days after created_at
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


ROLES = ("viewer", "operator", "supervisor", "auditor", "admin")
