"""Turn a camera's packet stream into indexed MP4 segments: continuous, or events with pre/post roll.

Segments start on a keyframe and are cut at the first keyframe after ``segment_seconds``, so every
file decodes on its own. A segment's end is the wall time of the packet that starts the next one,
so consecutive segments of one connection are exactly contiguous. Finishing a segment is:
close the muxer -> verify every packet reads back and the first frame decodes -> fsync -> atomic
rename -> insert the row -> publish "segment". A segment that fails verification is deleted and
reported (``error``), never indexed.
"""

from __future__ import annotations

import logging
from collections import deque
from datetime import UTC, datetime
from pathlib import Path

from av.video.stream import VideoStream

from oversight.config.schema import CameraConfig
from oversight.events.bus import EventBus
from oversight.recording.index import insert_segment
from oversight.recording.packet import RecPacket
from oversight.recording.segment import RECORDABLE_CODECS, SegmentWriter, check_recordable, verify_segment
from oversight.recording.storage import LocalStorage
from oversight.recording.transcode import TranscodingSegmentWriter
from oversight.store.db import Database

log = logging.getLogger(__name__)


def _dt(wall: float) -> datetime:
    return datetime.fromtimestamp(wall, UTC)


class _Open:
    def __init__(self, writer: SegmentWriter | TranscodingSegmentWriter, final: Path, start: float):
        self.writer = writer
        self.final = final
        self.start = start
        self.has_event = False
        self.last_end = start


class Recorder:
    def __init__(self, cam: CameraConfig, db: Database, bus: EventBus | None, storage: LocalStorage):
        self.cam = cam
        self.db = db
        self.bus = bus
        self.storage = storage
        self.template: VideoStream | None = None
        self.current: _Open | None = None
        self.ring: deque[RecPacket] = deque()
        self.record_until = float("-inf")  # events mode: wall time the post roll runs to
        self.segments_written = 0
        self.last_segment_at: datetime | None = None
        self.error: str | None = None
        self.transcode_cpu_s = 0.0  # CPU seconds spent transcoding (transcode: true cameras)
        # plain values for status(), read from other threads: never touch PyAV objects off this thread
        self.transcoding = False

    @property
    def events_mode(self) -> bool:
        return self.cam.record.mode == "events"

    def begin(self, template: VideoStream) -> None:
        """A new connection (or loop of a file): finish what is open, forget the pre-roll buffer."""
        self.end()
        codec = template.codec_context.name
        check_recordable(codec, self.cam.transcode)
        self.template = template
        self.transcoding = codec not in RECORDABLE_CODECS
        self.ring.clear()

    def feed(self, p: RecPacket, event_active: bool) -> None:
        if self.template is None:
            return
        seg_len = self.cam.record.segment_seconds
        if self.events_mode:
            if event_active:
                self.record_until = p.wall + self.cam.record.post_roll
            if self.current is None:
                self._buffer(p)
                if p.wall <= self.record_until and self.ring and self.ring[0].keyframe:
                    first = self.ring[0]
                    self._open(first.wall)
                    for q in self.ring:
                        self._write(q, event_active)
                    self.ring.clear()
                return
            if p.wall > self.record_until:
                self._close(p.wall)
                self._buffer(p)
                return
        if self.current is None:
            if not p.keyframe:
                return
            self._open(p.wall)
        elif p.keyframe and p.wall - self.current.start >= seg_len:
            self._close(p.wall)
            self._open(p.wall)
        self._write(p, event_active)

    def end(self, at: float | None = None) -> None:
        """Close the open segment (on disconnect, loop or stop)."""
        if self.current is not None:
            self._close(at if at is not None else self.current.last_end)
        self.template = None
        self.transcoding = False

    def abandon(self) -> None:
        """Drop the open segment after a write failed (a full disk): close what can be closed and
        delete the partial file; the next keyframe after ``begin`` starts a fresh one."""
        cur, self.current = self.current, None
        if cur is None:
            return
        try:
            cur.writer.close()
        except Exception:
            log.debug("camera %s: closing a failed segment", self.cam.id, exc_info=True)
        cur.writer.path.unlink(missing_ok=True)

    # -- internals -------------------------------------------------------

    def _buffer(self, p: RecPacket) -> None:
        """Keep packets from the newest keyframe that is at least pre_roll old."""
        if not self.ring and not p.keyframe:
            return
        self.ring.append(p)
        horizon = p.wall - self.cam.record.pre_roll
        keys = [i for i, q in enumerate(self.ring) if q.keyframe and q.wall <= horizon]
        if keys and keys[-1] > 0:
            for _ in range(keys[-1]):
                self.ring.popleft()

    def _open(self, start: float) -> None:
        assert self.template is not None
        final = self.storage.new_segment_path(self.cam.id, _dt(start))
        writer: SegmentWriter | TranscodingSegmentWriter
        if self.template.codec_context.name in RECORDABLE_CODECS:
            writer = SegmentWriter(self.storage.partial_path(final), self.template)
        else:  # begin() let it through: the camera allows transcoding
            writer = TranscodingSegmentWriter(self.storage.partial_path(final), self.template)
        self.current = _Open(writer, final, start)

    def _write(self, p: RecPacket, event_active: bool) -> None:
        cur = self.current
        assert cur is not None
        cur.writer.write(p)
        cur.has_event = cur.has_event or event_active or self.events_mode
        cur.last_end = max(cur.last_end, p.wall + p.duration_s)

    def _close(self, end: float) -> None:
        cur, self.current = self.current, None
        if cur is None:
            return
        partial = cur.writer.path
        try:
            cur.writer.close()
            self.transcode_cpu_s += getattr(cur.writer, "cpu_s", 0.0)
            if cur.writer.packets == 0:
                partial.unlink(missing_ok=True)
                return
            bad = verify_segment(partial, cur.writer.packets)
            if bad is not None:  # never index a file that does not play back whole
                raise OSError(f"segment failed verification ({bad})")
            nbytes = self.storage.commit(partial, cur.final)
        except Exception as exc:
            partial.unlink(missing_ok=True)
            self.error = f"segment write failed: {exc}"
            log.exception("camera %s: segment write failed", self.cam.id)
            return
        start, stop = _dt(cur.start), _dt(max(end, cur.start))
        try:
            seg = insert_segment(self.db, self.cam.id, start, stop, cur.final, nbytes, cur.has_event)
        except Exception as exc:  # the file is complete; startup recovery indexes it
            self.error = f"segment index failed: {exc}"
            log.exception("camera %s: segment row insert failed for %s", self.cam.id, cur.final)
            return
        self.segments_written += 1
        self.last_segment_at = stop
        self.error = None
        if self.bus is not None:
            self.bus.publish(
                "segment",
                {
                    "id": seg.id,
                    "camera_id": self.cam.id,
                    "start": start.isoformat(),
                    "end": stop.isoformat(),
                    "path": str(cur.final),
                    "bytes": nbytes,
                    "has_event": cur.has_event,
                },
            )
