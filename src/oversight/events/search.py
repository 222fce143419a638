"""Event search: the one query over the ``event`` table, newest first, with keyset paging.

The events API, the benchmarks and the tests all search here. A page ends with a cursor, the
(start, id) of its last event; the next page is what sorts after it. The database walks a
``(…, start)`` index from the cursor instead of counting an OFFSET.
"""

from __future__ import annotations

import base64
import binascii
from datetime import UTC, datetime

from sqlalchemy import and_, not_, select
from sqlalchemy.orm import Session

from oversight.store.models import Event

CURSOR_RANGE = (datetime(1970, 1, 2, tzinfo=UTC), datetime(9000, 1, 1, tzinfo=UTC))  # as the API's times


class BadCursor(ValueError):
    """A cursor that this module did not make (or that was changed)."""


def encode_cursor(e: Event) -> str:
    return base64.urlsafe_b64encode(f"{e.start.isoformat()}|{e.id}".encode()).decode()


def decode_cursor(cursor: str) -> tuple[datetime, int]:
    try:
        start, ident = base64.urlsafe_b64decode(cursor.encode()).decode().split("|")
        value = datetime.fromisoformat(start)
        value = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
        if not CURSOR_RANGE[0] <= value <= CURSOR_RANGE[1]:
            raise ValueError("out of range")
        return value, int(ident)
    except (ValueError, OverflowError, binascii.Error, UnicodeDecodeError):
        raise BadCursor("bad cursor") from None


def search(
    s: Session,
    *,
    cameras: list[str] | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    label: str | None = None,
    rule_id: str | None = None,
    unacknowledged: bool = False,
    limit: int = 50,
    cursor: str | None = None,
) -> tuple[list[Event], str | None]:
    """Events with ``start <= Event.start < end`` and the other filters, ``limit`` at a time, and the
    cursor of the next page (None on the last). Raises ``BadCursor``."""
    if limit < 1:
        raise ValueError("limit must be at least 1")
    q = select(Event)
    if cameras:
        q = q.where(Event.camera_id.in_(cameras))
    if start is not None:
        q = q.where(Event.start >= start)
    if end is not None:
        q = q.where(Event.start < end)
    if label:
        q = q.where(Event.label == label)
    if rule_id:
        q = q.where(Event.rule_id == rule_id)
    if unacknowledged:
        q = q.where(Event.acknowledged_at.is_(None))
    if cursor:
        c_start, c_id = decode_cursor(cursor)
        q = q.where(Event.start <= c_start, not_(and_(Event.start == c_start, Event.id >= c_id)))
    rows = list(s.scalars(q.order_by(Event.start.desc(), Event.id.desc()).limit(limit + 1)))
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, (encode_cursor(rows[-1]) if more and rows else None)


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
    """One page of ``search``, continuing after the event ``before_id`` (the last id of the previous
    page) instead of after a cursor: for scripts and tests that hold ids."""
    cursor = None
    if before_id is not None:
        found = session.get(Event, before_id)
        if found is None:
            raise ValueError(f"unknown event id {before_id} for before_id")
        cursor = encode_cursor(found)
    rows, _ = search(
        session,
        cameras=[camera_id] if camera_id is not None else None,
        start=start,
        end=end,
        label=label,
        rule_id=rule_id,
        limit=limit,
        cursor=cursor,
    )
    return rows
