"""Tables for the audit log, its signed checkpoints, reveal requests and evidence exports."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Float, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from oversight.privacy.recipients import NOT_RECORDED
from oversight.store.base import Base, UTCDateTime, utcnow


class AuditEntry(Base):
    """One append-only, hash-chained entry. ``hash`` covers every other column plus ``prev_hash``."""

    __tablename__ = "audit_entries"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger, unique=True)
    ts: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    actor: Mapped[str] = mapped_column(String(64), index=True)
    role: Mapped[str | None] = mapped_column(String(16), nullable=True)
    action: Mapped[str] = mapped_column(String(64), index=True)
    object_type: Mapped[str | None] = mapped_column(String(32), nullable=True)
    object_id: Mapped[str | None] = mapped_column(String(255), nullable=True)
    purpose: Mapped[str | None] = mapped_column(Text, nullable=True)
    source: Mapped[str | None] = mapped_column(String(128), nullable=True)
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class AuditHead(Base):
    """A single row (id=1) holding the last seq and hash. Updating it first serialises appends on
    SQLite and PostgreSQL alike (row lock), and it lets ``verify`` notice a truncated tail."""

    __tablename__ = "audit_head"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger, default=0)
    hash: Mapped[str] = mapped_column(String(64))


class AuditCheckpoint(Base):
    """The chain head at ``seq`` signed with the installation's Ed25519 key.

    A digest (``number`` set) also names the previous digest's hash (``prev``; the genesis
    fingerprint for number 1) and why it was made; rows without ``number`` are legacy checkpoints.
    """

    __tablename__ = "audit_checkpoints"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger, index=True)
    hash: Mapped[str] = mapped_column(String(64))
    ts: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    key_fingerprint: Mapped[str] = mapped_column(String(64))
    signature: Mapped[str] = mapped_column(String(128))  # hex
    number: Mapped[int | None] = mapped_column(BigInteger, nullable=True, unique=True, index=True)
    prev: Mapped[str | None] = mapped_column(String(64), nullable=True)
    reason: Mapped[str | None] = mapped_column(String(16), nullable=True)


class RevealRequest(Base):
    """A request to see unredacted footage of some cameras in a window; needs a second person."""

    __tablename__ = "reveal_requests"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    requested_by: Mapped[str] = mapped_column(String(64), index=True)
    camera_ids: Mapped[list[str]] = mapped_column(JSON)
    start: Mapped[datetime] = mapped_column(UTCDateTime)
    end: Mapped[datetime] = mapped_column(UTCDateTime)
    reason: Mapped[str] = mapped_column(Text)
    reference: Mapped[str] = mapped_column(String(128))  # incident or case number
    status: Mapped[str] = mapped_column(
        String(16), default="pending", index=True
    )  # pending|approved|denied|revoked
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    decided_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    decision_note: Mapped[str | None] = mapped_column(Text, nullable=True)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # a window reaching further past now than one approval may cover needs a second supervisor
    approvals_needed: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    first_approved_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    first_approved_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class ExportRecord(Base):
    """One signed evidence export: where it went and the SHA-256 of its signed manifest."""

    __tablename__ = "evidence_exports"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    exporter: Mapped[str] = mapped_column(String(64))
    camera_ids: Mapped[list[str]] = mapped_column(JSON)
    start: Mapped[datetime] = mapped_column(UTCDateTime)
    end: Mapped[datetime] = mapped_column(UTCDateTime)
    purpose: Mapped[str] = mapped_column(Text)
    reference: Mapped[str | None] = mapped_column(String(128), nullable=True)
    redacted: Mapped[bool] = mapped_column(default=True)
    reveal_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    path: Mapped[str] = mapped_column(String(1024))
    manifest_sha256: Mapped[str] = mapped_column(String(64))
    # who received it: one of ``privacy.recipients`` (published counts); the reference stays inside
    recipient: Mapped[str] = mapped_column(String(16), default=NOT_RECORDED, server_default=NOT_RECORDED)
    recipient_ref: Mapped[str | None] = mapped_column(String(128), nullable=True)


class SubjectAccessRequest(Base):
    """A person's request for their own footage (GDPR Art. 15 and its equivalents): who to answer
    (a contact, no identity database), where and when, how they describe themselves, the law that
    sets the deadline, and how it ended (answered with an export, or refused with a reason)."""

    __tablename__ = "subject_requests"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    recorded_by: Mapped[str] = mapped_column(String(64))
    contact: Mapped[str] = mapped_column(Text)
    camera_ids: Mapped[list[str]] = mapped_column(JSON)
    start: Mapped[datetime] = mapped_column(UTCDateTime)
    end: Mapped[datetime] = mapped_column(UTCDateTime)
    places: Mapped[str] = mapped_column(Text, default="")
    description: Mapped[str] = mapped_column(Text, default="")  # what the requester said they wore
    jurisdiction: Mapped[str] = mapped_column(String(16))
    deadline_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    identity_check: Mapped[str] = mapped_column(Text)  # how identity was checked outside the system
    status: Mapped[str] = mapped_column(String(16), default="open", index=True)  # open|answered|refused
    closed_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    refusal_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    export_id: Mapped[int | None] = mapped_column(Integer, nullable=True)


class SubjectMark(Base):
    """An operator's click on the requester in one frame of one camera: the seed the privacy track
    follows within that camera's footage (a human choice, never recognition)."""

    __tablename__ = "subject_marks"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    request_id: Mapped[int] = mapped_column(Integer, index=True)
    camera_id: Mapped[str] = mapped_column(String(64))
    ts: Mapped[datetime] = mapped_column(UTCDateTime)
    x: Mapped[float] = mapped_column(Float)
    y: Mapped[float] = mapped_column(Float)
    marked_by: Mapped[str] = mapped_column(String(64))
    marked_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ExportJob(Base):
    """One evidence export run in the background: its request, where it stands, and its result.

    Kept in the database so the job list survives a page reload and a server restart; a job a
    restart interrupted is run again from the start (``attempts`` counts the runs)."""

    __tablename__ = "export_jobs"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    exporter: Mapped[str] = mapped_column(String(64), index=True)
    role: Mapped[str] = mapped_column(String(16))
    via: Mapped[str] = mapped_column(String(16))  # "session" or "token": tokens never get unredacted
    camera_ids: Mapped[list[str]] = mapped_column(JSON)
    start: Mapped[datetime] = mapped_column(UTCDateTime)
    end: Mapped[datetime] = mapped_column(UTCDateTime)
    purpose: Mapped[str] = mapped_column(Text)
    reference: Mapped[str | None] = mapped_column(String(128), nullable=True)
    source: Mapped[str | None] = mapped_column(String(128), nullable=True)
    status: Mapped[str] = mapped_column(String(16), index=True)  # queued running done failed cancelled
    stage: Mapped[str] = mapped_column(String(128), default="")
    progress: Mapped[float] = mapped_column(default=0.0)  # 0..1
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    export_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    recipient: Mapped[str] = mapped_column(String(16), default=NOT_RECORDED, server_default=NOT_RECORDED)
    recipient_ref: Mapped[str | None] = mapped_column(String(128), nullable=True)
