"""Tables of the operator console: saved views (named wall layouts) and bookmarks on footage.

A view belongs to its owner; a shared view is visible to every console user and only a role with
``views.share`` may make or change one. A bookmark marks a moment (``end`` is None) or a span of one
camera's footage with a note; attaching it to an incident holds that footage as evidence.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from oversight.store.base import Base, UTCDateTime, utcnow


class SavedView(Base):
    __tablename__ = "console_views"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(80))
    layout: Mapped[str] = mapped_column(String(8))  # 1 | 2x2 | 3x3 | 4x4 | 1+5
    cells: Mapped[list[Any]] = mapped_column(JSON, default=list)  # [{"cameras": [...], "dwell_s": n}]
    owner: Mapped[str] = mapped_column(String(64), index=True)
    shared: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Bookmark(Base):
    __tablename__ = "console_bookmarks"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    camera_id: Mapped[str] = mapped_column(String(64))
    start: Mapped[datetime] = mapped_column(UTCDateTime)
    end: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)  # None: a moment
    note: Mapped[str] = mapped_column(Text, default="")
    source: Mapped[str] = mapped_column(String(16), default="live")  # live | playback
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    incident_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    __table_args__ = (Index("ix_console_bookmarks_camera_start", "camera_id", "start"),)
