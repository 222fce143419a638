"""The event lifecycle: conditions from the rules become ``Event`` rows with a start, updates and
an end, a best snapshot, and messages on the bus topic ``"event"`` (phase start|update|end).

Cost model: the database is written once when an event starts (to get its id) and once when it
ends (end time, max confidence, data), with SQLAlchemy Core statements (no ORM round trips);
updates in between go to the bus only, throttled to one per ``update_interval`` per event and only
when something changed. A quiet camera costs nothing here. The snapshot is the start frame, replaced
at the end by the frame with the highest confidence (within ``SNAPSHOT_GAIN``) with the object's box
drawn, written as JPEG under
``snapshot_dir/<camera>/<YYYY-MM-DD>/<HHMMSS>-<random>.jpg``. They are stored unredacted: redaction is
applied when a snapshot is served (oversight.privacy).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from sqlalchemy import bindparam, insert, update

from oversight.analytics.types import Box, Condition
from oversight.events import topics
from oversight.events.bus import EventBus
from oversight.events.topics import EventPayload
from oversight.store.db import Database
from oversight.store.models import Event

log = logging.getLogger(__name__)

HOLD_OFF_S = 2.0  # a condition must stay clear this long before its event ends (no flapping)
UPDATE_INTERVAL_S = 1.0
JPEG_QUALITY = 85
SNAPSHOT_GAIN = 0.05  # take a new snapshot frame only when confidence rose this much over the last one


# Built once: the values come as parameters, so SQLAlchemy reuses the compiled statement.
_INSERT = insert(Event)
_END = update(Event).where(Event.id == bindparam("event_id"))


@dataclass
class OpenEvent:
    id: int
    cond: Condition
    start: datetime
    last_seen: datetime
    confidence: float
    snapshot_path: Path
    best_frame: np.ndarray | None = None  # copy of the frame at max confidence, not yet written
    best_box: Box | None = None
    snapshot_confidence: float = 0.0  # confidence of the frame in the snapshot (held or written)
    last_update: datetime | None = None
    dirty: bool = False
    data: dict[str, Any] = field(default_factory=dict)


def _message(camera_id: str, e: OpenEvent, phase: str, end: datetime | None) -> EventPayload:
    c = e.cond
    return {
        "id": e.id,
        "camera_id": camera_id,
        "label": c.label,
        "rule_id": c.rule_id,
        "rule_type": c.rule_type,
        "track_id": c.track_id,
        "start": e.start.isoformat(),
        "end": end.isoformat() if end else None,
        "confidence": round(e.confidence, 4),
        "phase": phase,
        "snapshot": str(e.snapshot_path) if e.snapshot_path.exists() else None,
        "box": [round(v, 1) for v in c.box] if c.box else None,
        "data": dict(e.data),
    }


class EventRecorder:
    """One camera's open events. Call ``step`` every frame with that frame's conditions."""

    def __init__(
        self,
        camera_id: str,
        db: Database,
        bus: EventBus,
        snapshot_dir: Path,
        hold_off_s: float = HOLD_OFF_S,
        update_interval_s: float = UPDATE_INTERVAL_S,
        observer: Callable[[EventPayload], None] | None = None,
    ):
        self.observer = observer  # sees every lifecycle message on this thread (the alert manager)
        self.camera_id = camera_id
        self.db, self.bus = db, bus
        self.snapshot_dir = Path(snapshot_dir)
        self.hold_off_s = hold_off_s
        self.update_interval_s = update_interval_s
        self.open: dict[tuple[str | None, int | None, str], OpenEvent] = {}

    @property
    def active(self) -> bool:
        return bool(self.open)

    def step(self, conditions: list[Condition], frame: np.ndarray | None, ts: datetime) -> None:
        if not conditions and not self.open:
            return  # quiet camera: nothing to do
        for c in conditions:
            e = self.open.get(c.key)
            if e is None:
                e = self._start(c, frame, ts)
                if c.momentary:
                    self._end(e, ts)
                else:
                    self.open[c.key] = e
                continue
            e.last_seen = ts
            e.cond = c
            if c.data != e.data:
                e.data, e.dirty = dict(c.data), True
            if c.confidence > e.confidence:
                e.confidence, e.dirty = c.confidence, True
                if frame is not None and c.confidence >= e.snapshot_confidence + SNAPSHOT_GAIN:
                    # copy only on a real gain: a frame copy per event per frame would dominate
                    e.best_frame, e.best_box, e.snapshot_confidence = frame.copy(), c.box, c.confidence
            if e.dirty and (
                e.last_update is None or (ts - e.last_update).total_seconds() >= self.update_interval_s
            ):
                self._update(e, ts)
        for key, e in list(self.open.items()):
            if (ts - e.last_seen).total_seconds() > self.hold_off_s:
                self._end(e, e.last_seen)  # if the database fails, the event stays open and is retried
                del self.open[key]

    def close(self) -> None:
        """End every open event (camera stopping / shutdown) at the time it was last observed."""
        for key, e in list(self.open.items()):
            self._end(e, e.last_seen)
            del self.open[key]

    # -- internals -------------------------------------------------------------------------
    def _emit(self, msg: EventPayload) -> None:
        self.bus.publish(topics.EVENT, msg)
        if self.observer is not None:
            try:
                self.observer(msg)
            except Exception:  # alerting trouble must not stop event recording
                log.exception("camera %s: alert observer failed", self.camera_id)

    def _snapshot_path(self, ts: datetime) -> Path:
        # a random name: known before the row exists, and unique even if databases share a folder
        return (
            self.snapshot_dir
            / self.camera_id
            / ts.strftime("%Y-%m-%d")
            / f"{ts:%H%M%S}-{uuid.uuid4().hex[:12]}.jpg"
        )

    def _write_snapshot(self, e: OpenEvent) -> None:
        if e.best_frame is None:
            return
        img = e.best_frame
        if e.best_box is not None:
            x1, y1, x2, y2 = (round(v) for v in e.best_box)
            cv2.rectangle(img, (x1, y1), (x2, y2), (0, 0, 255), 2)
        e.snapshot_path.parent.mkdir(parents=True, exist_ok=True)
        tmp = e.snapshot_path.with_suffix(".tmp.jpg")
        if cv2.imwrite(str(tmp), img, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY]):
            tmp.replace(e.snapshot_path)  # readers never see a half-written file
        else:
            log.error("could not write snapshot %s", e.snapshot_path)
        e.best_frame = None

    def _start(self, c: Condition, frame: np.ndarray | None, ts: datetime) -> OpenEvent:
        path = self._snapshot_path(ts)
        values = dict(
            camera_id=self.camera_id,
            label=c.label,
            rule_id=c.rule_id,
            rule_type=c.rule_type,
            track_id=c.track_id,
            start=ts,
            confidence=float(c.confidence),
            data=dict(c.data),
            snapshot_path=str(path) if frame is not None else None,
        )
        with self.db.engine.begin() as conn:
            event_id = int(conn.execute(_INSERT, values).inserted_primary_key[0])  # type: ignore[index]
        e = OpenEvent(event_id, c, ts, ts, float(c.confidence), path, data=dict(c.data), last_update=ts)
        if frame is not None:  # after the commit: no JPEG encoding while holding the write lock
            e.best_frame, e.best_box, e.snapshot_confidence = frame.copy(), c.box, float(c.confidence)
            self._write_snapshot(e)
        self._emit(_message(self.camera_id, e, "start", None))
        return e

    def _update(self, e: OpenEvent, ts: datetime) -> None:
        # The snapshot on disk stays the start frame until the event ends (then the best frame is
        # written): one JPEG encode per event phase, not one per confidence gain.
        e.last_update, e.dirty = ts, False
        self._emit(_message(self.camera_id, e, "update", None))

    def _end(self, e: OpenEvent, end: datetime) -> None:
        self._write_snapshot(e)
        with self.db.engine.begin() as conn:
            conn.execute(
                _END, {"event_id": e.id, "end": end, "confidence": e.confidence, "data": dict(e.data)}
            )
        self._emit(_message(self.camera_id, e, "end", end))
