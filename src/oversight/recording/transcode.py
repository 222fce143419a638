"""Record a stream browsers cannot play (MJPEG, MPEG-4 part 2) by transcoding it to H.264, per segment.

Only when the camera's config says ``transcode: true``: it costs CPU (about one libx264 "veryfast"
encode per camera), which ``cpu_s`` reports for the health page. The recorder still cuts segments
on the *input* keyframes (every MJPEG frame is one), and each segment gets a fresh decoder and
encoder, so every file starts with an IDR frame and decodes on its own, like a remuxed one.
The decoder and encoder belong to the recorder's (reader) thread, as the muxer does.

Timestamps: MPEG-4 part 2 in AVI (packed B-frames, N-VOPs) decodes frames in display order but
labelled with pts out of order (1, 4, 6, 5, 7, 9, 8...). A small reorder buffer sorts them, and
the encoder is only ever given strictly increasing pts, which the MP4 muxer requires.
"""

from __future__ import annotations

import heapq
import time
from fractions import Fraction
from pathlib import Path

import av
from av.video.codeccontext import VideoCodecContext
from av.video.stream import VideoStream

from oversight.recording.packet import RecPacket
from oversight.recording.segment import MOVFLAGS

# one encoder thread per camera: its CPU is then measurable (thread_time) and cameras share cores fairly
X264_OPTIONS = {"preset": "veryfast", "tune": "zerolatency", "crf": "26", "threads": "1"}
REORDER_FRAMES = 4


class TranscodingSegmentWriter:
    """Same surface as ``SegmentWriter`` (``write``, ``close``, ``packets``, ``path``); writes H.264."""

    def __init__(self, path: Path, template: VideoStream):
        cc = template.codec_context
        self.path = path
        self.dec: VideoCodecContext = av.CodecContext.create(cc.name, "r")  # type: ignore[assignment]
        if cc.extradata:
            self.dec.extradata = cc.extradata
        self.rate = template.average_rate or template.guessed_rate or Fraction(25)
        self.out = av.open(str(path), "w", format="mp4", options={"movflags": MOVFLAGS})
        self.stream = self.out.add_stream("libx264", rate=self.rate, options=dict(X264_OPTIONS))
        self.stream.width, self.stream.height = (cc.width // 2) * 2, (cc.height // 2) * 2
        self.stream.pix_fmt = "yuv420p"
        self.stream.codec_context.gop_size = max(1, round(float(self.rate)))
        self.offset: int | None = None
        self.time_base: Fraction | None = None
        self._pending: list[tuple[int, int, av.VideoFrame]] = []  # (pts, arrival, frame): a min-heap
        self._arrived = 0
        self._last_pts = -1
        self.packets = 0
        self.closed = False
        self.cpu_s = 0.0

    def write(self, p: RecPacket) -> None:
        started = time.thread_time()
        if self.offset is None:
            self.offset, self.time_base = p.dts, p.time_base
            self.stream.codec_context.time_base = p.time_base
        pkt = av.Packet(p.data)
        pkt.pts, pkt.dts, pkt.time_base = p.pts, p.dts, p.time_base
        for frame in self.dec.decode(pkt):
            self._queue(frame, p.pts)
        while len(self._pending) > REORDER_FRAMES:
            self._encode(*heapq.heappop(self._pending)[::2])
        self.cpu_s += time.thread_time() - started

    def _queue(self, frame: av.VideoFrame, fallback: int) -> None:
        assert self.offset is not None
        pts = (frame.pts if frame.pts is not None else fallback) - self.offset
        self._arrived += 1
        heapq.heappush(self._pending, (pts, self._arrived, frame))

    def _encode(self, pts: int, frame: av.VideoFrame) -> None:
        assert self.time_base is not None
        pts = max(pts, self._last_pts + 1)
        self._last_pts = pts
        out = frame.reformat(width=self.stream.width, height=self.stream.height, format="yuv420p")
        out.pts = pts
        out.time_base = self.time_base
        for packet in self.stream.encode(out):
            self.out.mux(packet)
            self.packets += 1

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        started = time.thread_time()
        try:
            if self.offset is not None:
                for frame in self.dec.decode(None):
                    self._queue(frame, self._last_pts + 1 + self.offset)
                while self._pending:
                    self._encode(*heapq.heappop(self._pending)[::2])
                for packet in self.stream.encode(None):
                    self.out.mux(packet)
                    self.packets += 1
        finally:
            self.out.close()
            self.cpu_s += time.thread_time() - started
