"""H.264 in fragmented MP4 for Media Source Extensions: frames in, an init segment and one
fragment per frame out. Only the egress gate uses it (its input is already redacted).

Invariant: an encoder (its PyAV container and codec) belongs to the one thread that calls
``encode``; what it returns are plain bytes. A viewer who joins late gets the init segment and the
fragments since the last keyframe, so its decoder starts on a keyframe.
"""

from __future__ import annotations

import contextlib
import math
import struct
from fractions import Fraction
from typing import Any

import av
import numpy as np


class _Sink:
    """A write-only, non-seekable file for the muxer: it collects what was written."""

    def __init__(self) -> None:
        self.data = bytearray()

    def write(self, b: bytes) -> int:
        self.data += b
        return len(b)


def _boxes(data: bytes) -> tuple[list[tuple[str, bytes]], int]:
    """Complete top-level MP4 boxes at the start of ``data`` and how many bytes they use."""
    out, i = [], 0
    while i + 8 <= len(data):
        size, kind = struct.unpack(">I4s", data[i : i + 8])
        if size < 8 or i + size > len(data):
            break
        out.append((kind.decode("latin-1"), bytes(data[i : i + size])))
        i += size
    return out, i


class Fmp4Encoder:
    def __init__(self, width: int, height: int, fps: float):
        self.width, self.height = width - width % 2, height - height % 2
        self.sink = _Sink()
        self.out: Any = av.open(
            self.sink,
            "w",
            format="mp4",
            options={"movflags": "frag_every_frame+empty_moov+default_base_moof"},
        )
        rate = Fraction(round(fps * 1000), 1000) if fps else Fraction(10)
        self.stream: Any = self.out.add_stream("libx264", rate=rate)
        self.stream.width, self.stream.height, self.stream.pix_fmt = self.width, self.height, "yuv420p"
        gop = str(max(1, round(fps)))  # a keyframe a second: a new viewer waits at most that long
        self.stream.options = {"preset": "ultrafast", "tune": "zerolatency", "g": gop, "profile": "baseline"}
        self.time_base = Fraction(1, 1000)
        self.init: bytes | None = None
        self.codec = "avc1.42E01E"
        self._keys: list[bool] = []  # keyframe flag of each packet whose fragment is not out yet
        self._t0: float | None = None
        self._pts = -1_000_000  # the last frame's, in ``time_base`` units
        self._step = math.ceil(1000 / float(rate))  # one frame period, in ``time_base`` units

    def encode(self, img: np.ndarray, t: float) -> list[tuple[bytes, bool]]:
        """Encode one BGR frame taken at ``t`` seconds; returns finished (fragment, keyframe) pairs."""
        if img.shape[1] != self.width or img.shape[0] != self.height:
            import cv2

            img = cv2.resize(img, (self.width, self.height), interpolation=cv2.INTER_AREA)
        self._t0 = t if self._t0 is None else self._t0
        vf = av.VideoFrame.from_ndarray(np.ascontiguousarray(img), format="bgr24")
        # at least one frame period after the last: the encoder counts time in frames at ``fps`` and
        # the muxer refuses a time that does not advance (a source restamped, a looping file, two
        # frames closer than a period), which would end the viewers' stream
        self._pts = max(round((t - self._t0) * 1000), self._pts + self._step)
        vf.pts = self._pts
        vf.time_base = self.time_base
        for pkt in self.stream.encode(vf):
            self._keys.append(bool(pkt.is_keyframe))
            self.out.mux(pkt)
        return self._drain()

    @property
    def t0(self) -> float:
        """The source time (seconds since the epoch) of media time 0."""
        return self._t0 or 0.0

    def _drain(self) -> list[tuple[bytes, bool]]:
        boxes, used = _boxes(bytes(self.sink.data))
        if not used:
            return []
        out: list[tuple[bytes, bool]] = []
        moof: bytes | None = None
        consumed = 0
        pos = 0
        for kind, box in boxes:
            pos += len(box)
            if kind in ("ftyp", "moov"):
                self.init = (self.init or b"") + box
                consumed = pos
                if kind == "moov":
                    self.codec = self._codec_string()
            elif kind == "moof":
                moof = box
            elif kind == "mdat" and moof is not None:
                out.append((moof + box, self._keys.pop(0) if self._keys else False))
                moof = None
                consumed = pos
        del self.sink.data[:consumed]
        return out

    def _codec_string(self) -> str:
        extra = self.stream.codec_context.extradata or b""
        i = extra.find(b"\x00\x00\x01\x67")
        if i >= 0 and len(extra) >= i + 7:
            p, c, lvl = extra[i + 4], extra[i + 5], extra[i + 6]
            return f"avc1.{p:02X}{c:02X}{lvl:02X}"
        return "avc1.42E01E"

    def close(self) -> None:
        with contextlib.suppress(Exception):  # a half-written stream must not take a thread down
            self.out.close()
