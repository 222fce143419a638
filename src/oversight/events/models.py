"""The alerts table: one row per situation an operator must handle, separate from events.

An event is what the analytics saw (every one is kept and searchable); an alert is a situation in
the operator's queue: one rule on one camera (one track for dwell), a storm of grouped alerts, or
a health problem. Its row is updated, never duplicated, while the situation lasts.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from oversight.store.base import Base, UTCDateTime

ALERT_KINDS = ("rule", "storm", "health")
# Acknowledgement reasons: what the operator found. They feed the false-alarm report.
ACK_REASONS = ("real", "false_alarm", "test", "duplicate")
FALSE_ALARM_CAUSES = (
    "weather",
    "lighting",
    "animal",
    "vegetation",
    "reflection",
    "camera",
    "detection",
    "other",
)


class Alert(Base):
    __tablename__ = "alerts"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))  # rule | storm | health
    camera_id: Mapped[str | None] = mapped_column(String(64), nullable=True)  # None: the server itself
    rule_id: Mapped[str | None] = mapped_column(String(64), nullable=True)  # health: the problem code
    priority: Mapped[str] = mapped_column(String(2))  # P1..P4 (raised by escalation)
    sound: Mapped[str] = mapped_column(String(16))
    title: Mapped[str] = mapped_column(String(255))  # English, as written when raised
    # the title as a msgid and parameters (``i18n.Message.jsonable``), translated for each reader;
    # None on rows from before migration 0013, which show ``title`` as it is
    title_msgid: Mapped[str | None] = mapped_column(String(255), nullable=True)
    title_params: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    event_id: Mapped[int | None] = mapped_column(Integer, nullable=True)  # the first event
    last_event_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    occurrences: Mapped[int] = mapped_column(Integer, default=1)  # events / grouped alerts folded in
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)  # situation over
    escalated_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    acknowledged_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    ack_reason: Mapped[str | None] = mapped_column(String(16), nullable=True)
    ack_cause: Mapped[str | None] = mapped_column(String(16), nullable=True)  # for false_alarm
    ack_note: Mapped[str | None] = mapped_column(Text, nullable=True)
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    __table_args__ = (
        Index("ix_alerts_ack_opened", "acknowledged_at", "opened_at"),
        Index("ix_alerts_camera_opened", "camera_id", "opened_at"),
        Index("ix_alerts_rule_opened", "rule_id", "opened_at"),
    )
