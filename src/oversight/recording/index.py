"""The segment index and recording gaps in the database.

Rows are only ever inserted for files that are complete and renamed into place, so the index
never points to a missing file; ``recover`` repairs what a crash can leave behind.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import av
from sqlalchemy import select, update

from oversight.recording.storage import LocalStorage
from oversight.store.db import Database
from oversight.store.models import RecordingGap, Segment

log = logging.getLogger(__name__)


def insert_segment(
    db: Database, camera_id: str, start: datetime, end: datetime, path: Path, nbytes: int, has_event: bool
) -> Segment:
    with db.session() as s:
        seg = Segment(
            camera_id=camera_id, start=start, end=end, path=str(path), bytes=nbytes, has_event=has_event
        )
        s.add(seg)
        s.flush()
        return seg


def open_gap(db: Database, camera_id: str, start: datetime, reason: str) -> int:
    """Open a gap unless one is already open for the camera; returns the open gap's id."""
    with db.session() as s:
        gap = s.scalars(
            select(RecordingGap).where(RecordingGap.camera_id == camera_id, RecordingGap.end.is_(None))
        ).first()
        if gap is None:
            gap = RecordingGap(camera_id=camera_id, start=start, end=None, reason=reason[:255])
            s.add(gap)
            s.flush()
        return gap.id


def close_gaps(db: Database, camera_id: str | None, end: datetime) -> int:
    """Close every open gap (of one camera, or all); the end is never before the start."""
    with db.session() as s:
        q = select(RecordingGap).where(RecordingGap.end.is_(None))
        if camera_id is not None:
            q = q.where(RecordingGap.camera_id == camera_id)
        gaps = list(s.scalars(q))
        for g in gaps:
            g.end = max(end, g.start)
        return len(gaps)


def update_gap_reason(db: Database, gap_id: int, reason: str) -> None:
    with db.session() as s:
        s.execute(update(RecordingGap).where(RecordingGap.id == gap_id).values(reason=reason[:255]))


def media_duration(path: Path) -> float | None:
    """Seconds of video in a file by demuxing it; None if unreadable or empty."""
    try:
        with av.open(str(path)) as c:
            st = c.streams.video[0]
            first = last = None
            for p in c.demux(st):
                if p.pts is None:
                    continue
                t = float(p.pts * p.time_base)
                end = t + float((p.duration or 0) * p.time_base)
                first = t if first is None else min(first, t)
                last = end if last is None else max(last, end)
            return None if first is None or last is None else last - first
    except (av.error.FFmpegError, IndexError, OSError):
        return None


@dataclass
class Recovery:
    partials_removed: list[str] = field(default_factory=list)
    orphans_indexed: list[str] = field(default_factory=list)
    orphans_removed: list[str] = field(default_factory=list)
    gaps_closed: int = 0


def recover(db: Database, storage: LocalStorage, now: datetime | None = None) -> Recovery:
    """Startup repair after a crash or kill.

    * ``*.partial`` files (the segment being written when the process died) are deleted: a crash
      loses at most that one segment. We do not salvage them; a half-written fragment is not
      worth the risk of indexing a file that plays badly.
    * complete files without a row (killed between rename and insert) are indexed, with the start
      taken from the file name and the length from the media; unreadable ones are deleted.
    * gaps left open by a dead process are closed at ``now``.
    """
    now = now or datetime.now(UTC)
    out = Recovery()
    for p in storage.partial_files():
        try:
            p.unlink()
            out.partials_removed.append(str(p))
        except OSError as exc:
            log.warning("cannot remove leftover partial segment %s: %s", p, exc)
    with db.session() as s:
        known = set(s.scalars(select(Segment.path)))
    for p in storage.segment_files():
        if str(p) in known:
            continue
        start = storage.start_from_path(p)
        dur = media_duration(p)
        if start is None or not dur:
            p.unlink(missing_ok=True)
            out.orphans_removed.append(str(p))
            continue
        insert_segment(
            db, p.parent.parent.name, start, start + timedelta(seconds=dur), p, p.stat().st_size, False
        )
        out.orphans_indexed.append(str(p))
    out.gaps_closed = close_gaps(db, None, now)
    if out.partials_removed or out.orphans_indexed or out.orphans_removed:
        log.info("recording recovery: %s", out)
    return out
