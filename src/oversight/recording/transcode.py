"""Record a stream browsers cannot play (MJPEG, MPEG-4 part 2) by transcoding it to H.264, per segment.

Only when the camera's config says ``transcode: true``: it costs CPU (about one libx264 "veryfast"
encode per camera), which ``cpu_s`` reports for the health page. The recorder still cuts segments
on the *input* keyframes (every MJPEG frame is one), and each segment gets a fresh decoder and
encoder, so every file starts with an IDR frame and decodes on its own, like a remuxed one.
The decoder and encoder belong to the recorder's (reader) thread, as the muxer does.
"""

from __future__ import annotations

import time
from fractions import Fraction
from pathlib import Path

import av
from av.video.codeccontext import VideoCodecContext
from av.video.stream import VideoStream

from oversight.recording.packet import RecPacket
from oversight.recording.segment import MOVFLAGS

X264_OPTIONS = {"preset": "veryfast", "tune": "zerolatency", "crf": "26"}


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
            self._encode(frame, p)
        self.cpu_s += time.thread_time() - started

    def _encode(self, frame: av.VideoFrame, p: RecPacket | None) -> None:
        assert self.offset is not None and self.time_base is not None
        pts = frame.pts if frame.pts is not None else (p.pts if p is not None else None)
        out = frame.reformat(width=self.stream.width, height=self.stream.height, format="yuv420p")
        out.pts = None if pts is None else pts - self.offset
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
                    self._encode(frame, None)
                for packet in self.stream.encode(None):
                    self.out.mux(packet)
                    self.packets += 1
        finally:
            self.out.close()
            self.cpu_s += time.thread_time() - started
