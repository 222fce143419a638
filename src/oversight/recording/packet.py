"""A demuxed packet detached from PyAV: plain bytes plus timestamps and its wall-clock time.

The muxer takes ownership of (and blanks) the ``av.Packet`` it is given, and the same packet also
feeds the decoder on another thread, so the recorder keeps its own copy. Copying a 4 Mbit/s stream
is ~0.5 MB/s, negligible next to decoding.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction


@dataclass(frozen=True, slots=True)
class RecPacket:
    data: bytes
    pts: int
    dts: int
    keyframe: bool
    duration: int  # in time_base units, 0 when unknown
    time_base: Fraction
    wall: float  # POSIX seconds (UTC) of this packet's presentation

    @property
    def duration_s(self) -> float:
        return float(self.duration * self.time_base)
