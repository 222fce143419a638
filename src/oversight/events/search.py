"""Event search: filters and keyset pagination over the ``event`` table, newest first."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from oversight.store.models import Event


def search_events(
    session: Session,
    camera_id: str | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    label: str | None = None,
    rule_id: str | None = None,
    limit: int = 100,
    before_id: int | None = None,
) -> list[Event]:
    """Events newest first (by start, then id), filtered; ``start <= Event.start < end``.

    Keyset pagination: pass the last id of a page as ``before_id`` for the next page. The cursor
    is turned into ``start <= s AND (start < s OR id < before_id)`` so the database walks one of
    the ``(column, start)`` indexes from the cursor instead of counting an OFFSET.
    """
    if limit < 1:
        raise ValueError("limit must be at least 1")
    q = select(Event)
    if camera_id is not None:
        q = q.where(Event.camera_id == camera_id)
    if label is not None:
        q = q.where(Event.label == label)
    if rule_id is not None:
        q = q.where(Event.rule_id == rule_id)
    if start is not None:
        q = q.where(Event.start >= start)
    if end is not None:
        q = q.where(Event.start < end)
    if before_id is not None:
        cursor = session.execute(select(Event.start).where(Event.id == before_id)).scalar_one_or_none()
        if cursor is None:
            raise ValueError(f"unknown event id {before_id} for before_id")
        q = q.where(
            Event.start <= cursor,
            or_(Event.start < cursor, and_(Event.start == cursor, Event.id < before_id)),
        )
    q = q.order_by(Event.start.desc(), Event.id.desc()).limit(limit)
    return list(session.scalars(q))
