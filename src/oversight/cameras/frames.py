"""Decode a camera's packets for analytics (at ``detect.fps``) and the live view; only the decode
thread ever touches a PyAV object, and what leaves it is a read-only NumPy array.

Decoding runs on its own thread behind a bounded queue so nothing here stalls recording: when the
queue is full, packets are dropped up to the next keyframe (H.264 cannot decode a GOP with a
hole). Every packet must be decoded, but only frames somebody needs are converted and resized, on
this thread: the frames analytics samples, and, while a viewer has asked within ``want_s``
seconds (the "wanted until" time ``latest`` pushes forward), the newest frame for the live view at
up to ``live_fps``. PyAV frames share one reformatter per frame, so converting a frame from a web
thread crashed or deadlocked the server (issue 10); viewers now only read a finished array.
Analytics runs on a third thread fed through a one-frame mailbox (the newest frame wins), so a
slow detector skips frames instead of slowing the live view.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
import time
from collections import deque
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


class AnalyticsRunner:
    """Runs ``analytics.process`` on its own thread. ``put`` replaces a frame still waiting (live
    sources: analytics sees the newest frame) or, with ``wait``, blocks until it is taken (files
    read as fast as possible: every sampled frame is analysed)."""

    dropped = 0  # frames replaced in the mailbox before analytics took them: the detector is behind

    def __init__(self, analytics: Any, name: str):
        self.analytics = analytics
        self.processed = 0
        self.error: str | None = None
        self.busy_since: float | None = None  # monotonic start of the frame in hand (watchdog)
        self.last_done: float | None = None  # monotonic end of the newest analysed frame
        self._slot: queue.Queue[tuple[np.ndarray, datetime] | None] = queue.Queue(1)
        self._thread = threading.Thread(target=self._run, name=f"analytics-{name}", daemon=True)
        self._thread.start()

    def put(self, img: np.ndarray, ts: datetime, wait: bool) -> None:
        if wait:
            self._slot.put((img, ts))
            return
        try:
            self._slot.get_nowait()  # the detector is behind: drop the older frame
            self.dropped += 1
        except queue.Empty:
            pass
        with contextlib.suppress(queue.Full):
            self._slot.put_nowait((img, ts))

    def stop(self, timeout: float) -> bool:
        """Finish the frame in hand, then stop; True when the thread ended."""
        while True:  # a frame still waiting is dropped; the sentinel must get in
            with contextlib.suppress(queue.Empty):
                self._slot.get_nowait()
            try:
                self._slot.put(None, timeout=0.1)
                break
            except queue.Full:
                continue
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def _run(self) -> None:
        while (item := self._slot.get()) is not None:
            self.busy_since = time.monotonic()
            try:
                self.analytics.process(*item)
                self.processed += 1
            except Exception as exc:  # analytics bugs must not kill ingest or recording
                self.error = f"analytics error: {exc}"
                log.exception("analytics failed on %s", self._thread.name)
            finally:
                self.last_done, self.busy_since = time.monotonic(), None


RECENT_S = 1.5  # seconds of converted frames kept for the live view (it shows covered frames)
RECENT_MIN = 8
UNWATCHED = 3  # frames an unwatched live camera keeps: the newest privacy sample's frame is among them


def _keep_recent(recent: Any, item: tuple[np.ndarray, datetime], watched: bool = True) -> None:
    """Append, then drop frames over ``RECENT_S`` older than it, keeping at least ``RECENT_MIN``,
    not the ``maxlen`` sized for the live rate (22 frames, 15 MB at 640x360); a file decoded faster
    than real time keeps its newest 8. A live camera nobody watches keeps its newest ``UNWATCHED``
    (2 MB instead of 5.5): a viewer who arrives gets frames at the live rate from then on."""
    recent.append(item)
    if not watched:
        while len(recent) > UNWATCHED:
            recent.popleft()
    while len(recent) > RECENT_MIN and (item[1] - recent[0][1]).total_seconds() > RECENT_S:
        recent.popleft()


IN_ORDER_S = 0.5  # a feed further behind the newest covered frame than this jumps to it


def covered(
    recent: Any, not_after: datetime, after: datetime | None = None
) -> tuple[np.ndarray, datetime] | None:
    """Of recent ``(frame, time)`` pairs (oldest first), the newest taken at or before
    ``not_after`` (the privacy stage's newest sample); with ``after``, the oldest of them taken
    after it (a feed plays every covered frame in order instead of jumping a sample interval at a
    time), unless that lies over ``IN_ORDER_S`` behind the newest. None when none is covered."""
    newest = next((f for f in reversed(recent) if f[1] <= not_after), None)
    nxt = next((f for f in recent if after < f[1] <= not_after), None) if after is not None else None
    if nxt is not None and newest is not None and (newest[1] - nxt[1]).total_seconds() <= IN_ORDER_S:
        return nxt
    return newest


def _frozen(img: np.ndarray) -> np.ndarray:
    """Mark an array read-only before it crosses to another thread: nobody can change a shared frame."""
    img.flags.writeable = False
    return img


class FrameSampler:
    want_s = 3.0  # a viewer's request keeps live conversion on this long
    live_fps = 15.0  # the most live frames converted per second

    privacy_max_width = 1280  # the privacy stage sees frames at most this wide (faces stay findable)
    main_max_width = 1920  # the main-stream live view (a large tile, fullscreen) at most this wide

    def __init__(
        self, cam: CameraConfig, analytics: Any | None, max_queue: int = 120, privacy: Any | None = None
    ):
        self.cam = cam
        self.analytics = analytics
        self.q: queue.Queue[StreamInfo | _Pkt | None] = queue.Queue(max_queue)
        self._need_key = False
        self._lossless = False  # set by submit(block=True): files read faster than real time
        self._latest: tuple[np.ndarray, datetime] | None = None  # read-only, made by the decode thread
        # the last ~1.5 s of converted frames: the live view can show the newest frame whose face
        # regions the privacy stage has already found (it lags the decoder by its detection time)
        self._recent: deque[tuple[np.ndarray, datetime]] = deque(maxlen=round(self.live_fps * RECENT_S))
        self._wanted_until = 0.0  # monotonic time until which viewers want live frames
        # the same at the decoded stream's own resolution, for a large tile or fullscreen
        self._recent_main: deque[tuple[np.ndarray, datetime]] = deque(maxlen=round(self.live_fps * RECENT_S))
        self._main_until = 0.0  # monotonic time until which a viewer wants main-stream frames
        self._fresh = threading.Condition()
        self.frames_converted = 0
        self.last_decoded: float | None = None  # monotonic time of the newest decoded frame
        self.last_live: float | None = None  # monotonic time of the newest live frame
        self.busy_since: float | None = None  # monotonic start of the packet in hand (watchdog)
        self.stream: StreamInfo | None = None  # the stream being decoded (a restart resends it)
        self._thread = threading.Thread(target=self._run, name=f"decode-{cam.id}", daemon=True)
        self._runner = AnalyticsRunner(analytics, cam.id) if analytics is not None else None
        # the privacy stage (face regions for the stored privacy track): its own thread and rate
        self.privacy = privacy
        self._privacy = AnalyticsRunner(privacy, f"privacy-{cam.id}") if privacy is not None else None
        self.dropped_packets = 0
        self.decode_error: str | None = None

    @property
    def watched(self) -> bool:
        """True while a viewer asked for live frames within ``want_s``."""
        return time.monotonic() <= self._wanted_until

    @property
    def analytics_busy_since(self) -> float | None:
        return self._runner.busy_since if self._runner is not None else None

    @property
    def analytics_last_done(self) -> float | None:
        return self._runner.last_done if self._runner is not None else None

    @property
    def privacy_busy_since(self) -> float | None:
        return self._privacy.busy_since if self._privacy is not None else None

    @property
    def privacy_last_done(self) -> float | None:
        return self._privacy.last_done if self._privacy is not None else None

    @property
    def frames_processed(self) -> int:
        return self._runner.processed if self._runner is not None else 0

    @property
    def error(self) -> str | None:
        return self.decode_error or (self._runner.error if self._runner is not None else None)

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
        runner_done = self._runner.stop(timeout) if self._runner is not None else True
        if self._privacy is not None and self._privacy.stop(timeout):
            with contextlib.suppress(Exception):
                self._privacy.analytics.close()
        close = getattr(self.analytics, "close", None)
        if close is not None and not self._thread.is_alive() and runner_done:
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
        self.stream = info

    def submit(self, data: bytes, pts: int, keyframe: bool, block: bool = False) -> None:
        self._lossless = block
        if self._need_key and not keyframe:
            self.dropped_packets += 1
            return
        try:
            self.q.put(_Pkt(data, pts, keyframe), block=block, timeout=5 if block else None)
            self._need_key = False
        except queue.Full:
            self._need_key = True
            self.dropped_packets += 1

    def latest(
        self,
        max_wait: float = 0.0,
        not_after: datetime | None = None,
        main: bool = False,
        after: datetime | None = None,
    ) -> tuple[np.ndarray, datetime] | None:
        """The newest live frame (read-only, detect resolution) and its time; None before any.
        With ``main``, at the decoded stream's own resolution (at most ``main_max_width`` wide).

        Asking keeps the decode thread converting frames for ``want_s`` seconds. After a pause in
        watching, the frame in hand is old: wait up to ``max_wait`` seconds for a new one. With
        ``not_after``, the newest of the recent frames taken at or before that time (None if none);
        with ``after`` as well, the oldest such frame taken after ``after`` (a feed plays every
        covered frame in order instead of jumping a privacy sample interval at a time).
        """
        now = time.monotonic()
        with self._fresh:
            lapsed = now > (self._main_until if main else self._wanted_until)
            self._wanted_until = max(self._wanted_until, now + self.want_s)
            if main:
                self._main_until = now + self.want_s
            if lapsed and max_wait > 0:
                seen = self.frames_converted
                self._fresh.wait_for(lambda: self.frames_converted != seen, timeout=max_wait)
            recent = self._recent_main if main else self._recent
            if not_after is None:
                return recent[-1] if recent else None
            return covered(recent, not_after, after)

    @property
    def event_active(self) -> bool:
        return bool(getattr(self.analytics, "event_active", False)) if self.analytics is not None else False

    def _run(self) -> None:
        ctx: Any = None
        info: StreamInfo | None = None
        next_t = next_live = next_p = float("-inf")
        while True:
            item = self.q.get()
            if item is None:
                return
            if isinstance(item, StreamInfo):
                info = item
                ctx = av.CodecContext.create(item.codec, "r")
                if item.extradata:
                    ctx.extradata = item.extradata
                next_t = next_p = float("-inf")
                continue
            if ctx is None or info is None:
                continue
            self.busy_since = time.monotonic()
            try:
                next_t, next_live, next_p = self._decode(ctx, info, item, next_t, next_live, next_p)
            finally:
                self.busy_since = None

    def _decode(
        self, ctx: Any, info: StreamInfo, item: _Pkt, next_t: float, next_live: float, next_p: float
    ) -> tuple[float, float, float]:
        """Decode one packet; convert the frames analytics or the privacy stage sample, or viewers
        want. Returns the next analytics, live and privacy due times."""
        step = 1.0 / self.cam.detect.fps
        live_step = 1.0 / self.live_fps
        w, h = self.cam.detect.width, self.cam.detect.height
        pkt = av.Packet(item.data)
        pkt.pts = item.pts
        try:
            frames = ctx.decode(pkt)
        except av.error.FFmpegError as exc:  # a corrupt packet: skip it, keep going
            self.decode_error = f"decode error: {exc}"
            return next_t, next_live, next_p
        for frame in frames:
            wall = info.wall_of(frame.pts if frame.pts is not None else item.pts)
            now = time.monotonic()
            self.last_decoded = now
            psampled = self._privacy is not None and wall >= next_p - 1e-3
            if self._privacy is not None and psampled:
                pstep = 1.0 / max(0.1, float(getattr(self.privacy, "fps", self.cam.detect.fps)))
                next_p = next_p + pstep if 0 <= wall - next_p < pstep else wall + pstep
                pw = min(frame.width - frame.width % 2, self.privacy_max_width)
                ph = round(frame.height * pw / max(1, frame.width)) // 2 * 2
                full = _frozen(frame.reformat(width=pw, height=ph, format="bgr24").to_ndarray())
                self._privacy.put(full, datetime.fromtimestamp(wall, UTC), wait=self._lossless)
            sampled = self._runner is not None and wall >= next_t - 1e-3
            # a privacy-sampled frame is always a live one while watched: the live view shows only
            # frames at or between samples, so the sampled frame itself must be there to show
            live = now <= self._wanted_until and (now >= next_live or psampled)
            if not (sampled or live):
                continue  # decoded (it had to be) but never converted or resized
            img = _frozen(frame.reformat(width=w, height=h, format="bgr24").to_ndarray())
            ts = datetime.fromtimestamp(wall, UTC)
            if live:
                next_live = now + live_step * 0.9  # a little slack so 15 fps sources keep every frame
            big = self._main_frame(frame, ts) if live and now <= self._main_until else None
            with self._fresh:  # an analytics frame is the newest picture too, at no extra cost
                self._latest = (img, ts)
                _keep_recent(self._recent, self._latest, now <= self._wanted_until or self._lossless)
                if big is not None:
                    _keep_recent(self._recent_main, big)
                self.frames_converted += 1
                self.last_live = now
                self._fresh.notify_all()
            if sampled and self._runner is not None:
                next_t = next_t + step if 0 <= wall - next_t < step else wall + step
                self._runner.put(img, ts, wait=self._lossless)
        return next_t, next_live, next_p

    def _main_frame(self, frame: Any, ts: datetime) -> tuple[np.ndarray, datetime]:
        """The decoded frame at its own resolution (capped), converted here: PyAV stays on this thread."""
        w = min(frame.width - frame.width % 2, self.main_max_width)
        h = round(frame.height * w / max(1, frame.width)) // 2 * 2
        return _frozen(frame.reformat(width=w, height=h, format="bgr24").to_ndarray()), ts
