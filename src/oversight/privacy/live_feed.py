"""Live H.264 feeds of the egress gate: one redacted encode per camera, view key and stream,
shared by every viewer with that key, as fragmented MP4 (see ``fmp4``). The ``sub`` stream (small
wall tiles) is the camera's live frame at most ``SUB_MAX_WIDTH`` wide; the ``main`` stream (a
large tile, fullscreen) is the decoded stream at its own resolution.

Invariant: a feed's thread owns its encoder; it takes frames and the reveal decision only from
the gate (``Egress._live_source``, ``_view``, ``_live_redacted``), and it ends as soon as the
pixels of its key change, so a feed made for a reveal never outlives the reveal or reaches anyone
else. Subscriptions are made only through an audited ``LiveSession``.
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from oversight.privacy.egress import Egress, Who

log = logging.getLogger(__name__)
SUB_MAX_WIDTH = 640  # the sub-stream's widest picture: enough for a tile of a 2x2 wall
MAX_BACKLOG = 45  # fragments a viewer may fall behind (~3 s) before it is made to rejoin at a keyframe
# FFmpeg's MP4 muxer keeps ~40 bytes per fragment (its random-access index, written only at the
# end) for as long as it runs: a wall watched for months would grow without bound. A feed ends
# after this many fragments (about an hour) and its viewers rejoin a fresh encode at a keyframe.
MAX_FRAGMENTS = 36_000


class Subscription:
    """One viewer of an H.264 feed: ``init`` (codec string, init segment, fragments since the last
    keyframe) and then, on ``queue``, fragments (bytes), state changes (str) and None at the end."""

    def __init__(self, feed: H264Feed, queue: Any, codec: str, init: bytes, gop: list[bytes]):
        self.feed, self.queue, self.codec, self.init, self.gop = feed, queue, codec, init, gop
        self.state = feed.state  # "live", "stalled", "offline" or "" (not known yet) when joining
        self.t0 = feed.t0
        self.stream = feed.stream

    def ready(self) -> bool:
        """True once the init segment is known (a subscription made while the encode was still
        starting picks it up here; its queue holds every fragment from the first one)."""
        if not self.init:
            self.codec, self.init, self.t0 = self.feed.codec, self.feed.init, self.feed.t0
        return bool(self.init)

    def close(self) -> None:
        self.feed.unsubscribe(self.queue)


class H264Feed:
    """One redacted H.264 encode of one camera for one view key, shared by every subscriber with
    that key. Its thread owns the encoder; it stops when the last subscriber has gone, or when
    the pixels of its key change (a reveal ended): subscribers then reconnect and get a new key."""

    IDLE_S = 3.0
    STALL_S = 10.0  # the camera is live but no fragment came out this long: the encode is stuck

    def __init__(self, gate: Egress, camera_id: str, who: Who, key: str, fps: float, stream: str = "sub"):
        self.gate, self.camera_id, self.who, self.key, self.fps = gate, camera_id, who, key, fps
        self.stream = stream
        self.state = ""  # the source's state as last told to the subscribers
        self.t0 = 0.0  # the source time (seconds since the epoch) of media time 0: frame age in the browser
        self._lock = threading.Lock()
        self._subs: list[tuple[Any, Any]] = []  # (event loop, asyncio queue)
        self._ready = threading.Event()
        self.codec, self.init, self.gop = "", b"", []  # type: tuple[str, bytes, list[bytes]]
        self.frames = 0
        self.dropped_viewers = 0  # viewers made to rejoin because they fell MAX_BACKLOG behind
        self.alive = True
        self.last_out = time.monotonic()  # when the newest fragment went out (or the feed started)
        self.source_live = False
        self._idle_since: float | None = None
        self._thread = threading.Thread(target=self._run, name=f"h264-{camera_id}-{stream}", daemon=True)
        self._thread.start()

    def subscribe(self, loop: Any, queue: Any, timeout: float = 1.0) -> tuple[str, bytes, list[bytes]]:
        """Join: (codec, init segment, fragments since the last keyframe); everything after comes on
        ``queue``. Before the encode has started, init is empty and every fragment comes queued."""
        self._ready.wait(timeout)
        with self._lock:
            self._subs.append((loop, queue))
            self._idle_since = None
            return self.codec, self.init, list(self.gop)

    def stalled(self) -> bool:
        """The live-encode watchdog: the source is live but nothing came out for ``STALL_S``."""
        return self.source_live and time.monotonic() - self.last_out > self.STALL_S

    def abandon(self) -> None:
        """Give up on a stuck feed: its viewers are told to reconnect (to a new feed)."""
        self.alive = False
        self._send(None)

    def join(self, timeout: float) -> None:
        self._thread.join(timeout)

    def unsubscribe(self, queue: Any) -> None:
        with self._lock:
            self._subs = [s for s in self._subs if s[1] is not queue]
            if not self._subs:
                self._idle_since = time.monotonic()

    def _send(self, item: Any) -> None:
        with self._lock:
            subs = list(self._subs)
        for loop, queue in subs:
            behind = item is not None and queue.qsize() > MAX_BACKLOG
            if behind:  # a viewer that cannot keep up: no unbounded backlog, it rejoins at a keyframe
                self.unsubscribe(queue)
                self.dropped_viewers += 1
            try:
                loop.call_soon_threadsafe(queue.put_nowait, None if behind else item)
            except RuntimeError:  # that viewer's event loop is gone (server stopping)
                self.unsubscribe(queue)

    def _run(self) -> None:
        enc: Any = None
        last: datetime | None = None
        period = 1.0 / max(1.0, self.fps)
        self._idle_since = time.monotonic()
        try:
            while True:
                t0 = time.monotonic()
                with self._lock:
                    idle = (
                        not self._subs
                        and self._idle_since is not None
                        and t0 - self._idle_since > self.IDLE_S
                    )
                if idle:
                    return
                if not self.alive:
                    return  # abandoned by the watchdog
                now_state, worker, frame, ts = self.gate._live_source(self.camera_id, self.stream, last)
                self.source_live = now_state == "live"
                if now_state != self.state:
                    self.state = now_state
                    self._send(now_state)
                if frame is not None and ts is not None and ts != last:
                    revealed, key = self.gate._view(self.camera_id, ts, self.who)
                    if key != self.key:
                        return  # these pixels are no longer this feed's to show
                    last = ts
                    frame = self._fit(frame)  # a sub-stream is scaled first: less to redact
                    img = (
                        frame.copy()
                        if revealed
                        else self.gate._live_redacted(self.camera_id, worker, frame, ts)
                    )
                    img = self.gate._masked(self.camera_id, img, revealed, recorded=False, worker=worker)
                    enc = enc or self._encoder(img.shape[1], img.shape[0])
                    self._publish(enc, img, ts)
                    if self.frames >= MAX_FRAGMENTS:
                        return  # the muxer's index is bounded: viewers rejoin a fresh encode
                time.sleep(max(0.005, period - (time.monotonic() - t0)))
        except Exception:
            log.exception("live H.264 encode of camera %s failed", self.camera_id)
        finally:
            self.alive = False
            self._ready.set()
            with self.gate._lock:
                if self.gate._feeds.get((self.camera_id, self.key, self.stream)) is self:
                    del self.gate._feeds[(self.camera_id, self.key, self.stream)]
            self._send(None)
            if enc is not None:
                enc.close()

    def _publish(self, enc: Any, img: Any, ts: datetime) -> None:
        """Encode one frame and send its finished fragments (the init segment once it is known)."""
        out = enc.encode(img, ts.timestamp())
        if enc.init and not self._ready.is_set():  # known before any fragment goes out
            with self._lock:
                self.codec, self.init, self.t0 = enc.codec, enc.init, enc.t0
            self._ready.set()
        for frag, keyframe in out:
            self.frames += 1
            self.last_out = time.monotonic()
            with self._lock:
                self.gop = [frag] if keyframe else [*self.gop, frag]
            self._send(frag)

    def _fit(self, frame: Any) -> Any:
        """The frame at the stream's size: the sub-stream at most ``SUB_MAX_WIDTH`` wide."""
        h, w = frame.shape[:2]
        if self.stream != "sub" or w <= SUB_MAX_WIDTH:
            return frame
        import cv2

        size = (SUB_MAX_WIDTH, round(h * SUB_MAX_WIDTH / w) // 2 * 2)
        return cv2.resize(frame, size, interpolation=cv2.INTER_AREA)

    def _encoder(self, width: int, height: int) -> Any:
        """The feed's encoder, sized by its stream: the sub-stream at most ``SUB_MAX_WIDTH`` wide."""
        from oversight.privacy.fmp4 import Fmp4Encoder

        if self.stream == "sub" and width > SUB_MAX_WIDTH:
            width, height = SUB_MAX_WIDTH, round(height * SUB_MAX_WIDTH / width)
        return Fmp4Encoder(width, height, self.fps)
