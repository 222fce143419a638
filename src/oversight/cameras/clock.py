"""Repair packet timestamps and map them to wall-clock time.

Cameras and files hand us packets with missing or non-monotonic timestamps (RTSP's first packets
after probing have no pts/dts; AVI has no pts on some files). The MP4 muxer needs strictly
increasing dts and pts >= dts, so we repair here, once, for recording and for analytics alike.

Wall time of a packet = ``base_wall + (pts - base_pts) * time_base``. For live sources the base
is the moment we started opening the stream (RTSP PLAY happens inside the open), not the arrival
of the first packet: stream probing holds packets back for a second or two and then delivers them
in a burst. From there the source's own clock (RTP timestamps) drives the timeline, which keeps
consecutive segments exactly contiguous; every reconnect re-anchors.
"""

from __future__ import annotations

import time
from fractions import Fraction

import av

from oversight.recording.packet import RecPacket


class PacketClock:
    def __init__(
        self, time_base: Fraction, frame_rate: Fraction | None, *, live: bool, start_wall: float | None = None
    ):
        self.time_base = time_base
        rate = frame_rate if frame_rate and frame_rate > 0 else Fraction(25)
        # one frame in time_base units (at least 1 tick)
        self.frame_ticks = max(1, round(1 / (rate * time_base)))
        self.live = live
        self._start_wall = start_wall
        self.base_wall: float | None = None
        self.base_ts: int | None = None
        self.last_dts: int | None = None
        self.started = False  # becomes True at the first keyframe with a usable timestamp

    def wall_of(self, ts: int) -> float:
        assert self.base_wall is not None and self.base_ts is not None
        return self.base_wall + float((ts - self.base_ts) * self.time_base)

    def stamp(self, pkt: av.Packet, now: float | None = None) -> RecPacket | None:
        """A repaired copy of ``pkt``, or None while waiting for a keyframe with timestamps."""
        pts, dts = pkt.pts, pkt.dts
        if not self.started:
            if not pkt.is_keyframe or (pts is None and dts is None):
                return None
            self.started = True
        if dts is None:
            dts = self.last_dts + self.frame_ticks if self.last_dts is not None else pts
        assert dts is not None
        if self.last_dts is not None and dts <= self.last_dts:
            dts = self.last_dts + 1
        if pts is None or pts < dts:
            pts = dts
        self.last_dts = dts
        now = time.time() if now is None else now
        if self.base_wall is None:
            self.base_wall = self._start_wall if self._start_wall is not None else now
            self.base_ts = pts
        return RecPacket(
            data=bytes(pkt),
            pts=pts,
            dts=dts,
            keyframe=bool(pkt.is_keyframe),
            duration=int(pkt.duration or self.frame_ticks),
            time_base=self.time_base,
            wall=self.wall_of(pts),
        )
