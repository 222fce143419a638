"""Decode recorded segments from a moment onwards: raw frames for the egress gate's playback only."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path

import av
import cv2
import numpy as np
from sqlalchemy import select

from oversight.store.db import Database
from oversight.store.models import Segment

SegmentFile = Callable[[Segment], Path | None]


def segments_from(db: Database, camera_id: str, start: datetime, limit: int = 50) -> list[Segment]:
    """The segment covering ``start`` (if any) and the ones after it, in time order."""
    with db.session() as s:
        q = (
            select(Segment)
            .where(Segment.camera_id == camera_id, Segment.end > start)
            .order_by(Segment.start)
            .limit(limit)
        )
        return list(s.scalars(q))


def frames_from(
    db: Database, segment_file: SegmentFile, camera_id: str, start: datetime, size: tuple[int, int] | None
) -> Iterator[tuple[np.ndarray, datetime]]:
    """Yield (BGR frame, wall-clock time) from ``start`` through consecutive segments."""
    for seg in segments_from(db, camera_id, start):
        path = segment_file(seg)
        if path is None:
            continue
        offset = max(0.0, (start - seg.start).total_seconds())
        try:
            container = av.open(str(path))
        except (av.FFmpegError, OSError):
            continue
        with container:
            stream = container.streams.video[0]
            base = stream.start_time or 0
            tb = float(stream.time_base) if stream.time_base else 1 / 90000
            if offset > 1 and stream.time_base:
                container.seek(int(offset / tb) + base, stream=stream, backward=True)
            try:
                for frame in container.decode(stream):
                    rel = ((frame.pts or 0) - base) * tb
                    if rel + 1e-3 < offset:
                        continue
                    img: np.ndarray = frame.to_ndarray(format="bgr24")
                    if size is not None and (img.shape[1], img.shape[0]) != size:
                        img = cv2.resize(img, size, interpolation=cv2.INTER_AREA)
                    yield img, seg.start + timedelta(seconds=rel)
            except av.FFmpegError:
                continue
        start = seg.end
