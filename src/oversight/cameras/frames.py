"""Decode a camera's packets for analytics and the live view, at ``detect.fps`` only.

Runs on its own thread behind a bounded queue so a slow detector never stalls recording: when
the queue is full, packets are dropped up to the next keyframe (H.264 cannot decode a GOP with a
hole). Every packet must be decoded, but only the sampled frames are converted and resized.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from fractions import Fraction
from typing import Any, Protocol

import av
import numpy as np

from oversight.config.schema import CameraConfig

log = logging.getLogger(__name__)


class Analytics(Protocol):
    event_active: bool

    def process(self, frame_bgr: np.ndarray, ts: datetime) -> None: ...


AnalyticsFactory = Callable[[CameraConfig], Any]


@dataclass(frozen=True)
class StreamInfo:
    """What a decoder needs to start on a (new) stream, and how to turn pts into wall time."""

    codec: str
    extradata: bytes | None
    width: int
    height: int
    time_base: Fraction
    wall_of: Callable[[int], float]


@dataclass(frozen=True, slots=True)
class _Pkt:
    data: bytes
    pts: int
    keyframe: bool


class FrameSampler:
    def __init__(self, cam: CameraConfig, analytics: Any | None, max_queue: int = 120):
        self.cam = cam
        self.analytics = analytics
        self.q: queue.Queue[StreamInfo | _Pkt | None] = queue.Queue(max_queue)
        self._need_key = False
        self._latest: tuple[np.ndarray, datetime] | None = None
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name=f"decode-{cam.id}", daemon=True)
        self.frames_processed = 0
        self.dropped_packets = 0
        self.error: str | None = None

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        while True:  # make room for the sentinel without blocking forever
            try:
                self.q.put(None, timeout=0.1)
                break
            except queue.Full:
                with contextlib.suppress(queue.Empty):
                    self.q.get_nowait()
        self._thread.join(timeout)
        close = getattr(self.analytics, "close", None)
        if close is not None and not self._thread.is_alive():
            try:
                close()  # end open events so none stays open after a stop
            except Exception:
                log.exception("analytics close failed")

    def new_stream(self, info: StreamInfo) -> None:
        """Never dropped (the decoder must learn about the new stream) and never blocks the reader:
        when the queue is full, the old stream's packets are useless anyway and are discarded."""
        while True:
            try:
                self.q.put_nowait(info)
                break
            except queue.Full:
                with contextlib.suppress(queue.Empty):
                    while True:
                        self.q.get_nowait()
        self._need_key = True

    def submit(self, data: bytes, pts: int, keyframe: bool, block: bool = False) -> None:
        if self._need_key and not keyframe:
            self.dropped_packets += 1
            return
        try:
            self.q.put(_Pkt(data, pts, keyframe), block=block, timeout=5 if block else None)
            self._need_key = False
        except queue.Full:
            self._need_key = True
            self.dropped_packets += 1

    def latest(self) -> tuple[np.ndarray, datetime] | None:
        with self._lock:
            return self._latest

    @property
    def event_active(self) -> bool:
        return bool(getattr(self.analytics, "event_active", False)) if self.analytics is not None else False

    def _run(self) -> None:
        ctx: Any = None
        info: StreamInfo | None = None
        next_t = float("-inf")
        step = 1.0 / self.cam.detect.fps
        w, h = self.cam.detect.width, self.cam.detect.height
        while True:
            item = self.q.get()
            if item is None:
                return
            if isinstance(item, StreamInfo):
                info = item
                ctx = av.CodecContext.create(item.codec, "r")
                if item.extradata:
                    ctx.extradata = item.extradata
                next_t = float("-inf")
                continue
            if ctx is None or info is None:
                continue
            pkt = av.Packet(item.data)
            pkt.pts = item.pts
            try:
                frames = ctx.decode(pkt)
            except av.error.FFmpegError as exc:  # a corrupt packet: skip it, keep going
                self.error = f"decode error: {exc}"
                continue
            for frame in frames:
                wall = info.wall_of(frame.pts if frame.pts is not None else item.pts)
                if wall < next_t - 1e-3:
                    continue  # dropped: decoded (it had to be) but never converted or resized
                next_t = next_t + step if 0 <= wall - next_t < step else wall + step
                img = frame.reformat(width=w, height=h, format="bgr24").to_ndarray()
                ts = datetime.fromtimestamp(wall, UTC)
                with self._lock:
                    self._latest = (img, ts)
                self.frames_processed += 1
                if self.analytics is not None:
                    try:
                        self.analytics.process(img, ts)
                    except Exception as exc:  # analytics bugs must not kill ingest or recording
                        self.error = f"analytics error: {exc}"
                        log.exception("camera %s: analytics failed", self.cam.id)
