"""A camera's recorded timeline in a time window: segments, gaps and events, each bounded in count.

The playback page and the recordings API read it here, not with SQL of their own. Invariant: at
most ``max_segments`` segments come back, and ``truncated`` says when there were more.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from oversight.store.models import Event, RecordingGap, Segment


@dataclass(frozen=True)
class Timeline:
    segments: list[Segment]  # overlapping the window, oldest first
    gaps: list[RecordingGap]  # overlapping the window (an open gap has no end)
    events: list[Event]  # starting in the window
    truncated: bool  # more segments than max_segments overlap the window


def timeline(
    session: Session,
    camera_id: str,
    start: datetime,
    end: datetime,
    max_segments: int = 20000,
    max_events: int = 2000,
) -> Timeline:
    segs = list(
        session.scalars(
            select(Segment)
            .where(Segment.camera_id == camera_id, Segment.end > start, Segment.start < end)
            .order_by(Segment.start)
            .limit(max_segments + 1)
        )
    )
    gaps = session.scalars(
        select(RecordingGap)
        .where(RecordingGap.camera_id == camera_id, RecordingGap.start < end)
        .where((RecordingGap.end.is_(None)) | (RecordingGap.end > start))
        .order_by(RecordingGap.start)
    )
    events = session.scalars(
        select(Event)
        .where(Event.camera_id == camera_id, Event.start >= start, Event.start < end)
        .order_by(Event.start)
        .limit(max_events)
    )
    return Timeline(segs[:max_segments], list(gaps), list(events), len(segs) > max_segments)
