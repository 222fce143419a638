"""Repair packet timestamps and map them to wall-clock time; restamp sources whose own are unusable.

Cameras and files hand us packets with missing or non-monotonic timestamps (RTSP's first packets
after probing have no pts/dts; AVI has no pts on some files). The MP4 muxer needs strictly
increasing dts and pts >= dts, so we repair here, once, for recording and for analytics alike.

Wall time of a packet = ``base_wall + (pts - base_pts) * time_base``. For live sources the base
is the moment we started opening the stream (RTSP PLAY happens inside the open), not the arrival
of the first packet: stream probing holds packets back for a second or two and then delivers them
in a burst. From there the source's own clock (RTP timestamps) drives the timeline, which keeps
consecutive segments exactly contiguous; every reconnect re-anchors.

Some sources carry no usable clock at all (every packet stamped 0, or no timestamps): forcing each
one tick forward would label minutes of video as a second and let a file be read at 90x real time.
After ``STUCK_LIMIT`` packets in a row that do not advance (or a second keyframe with no timestamp)
the clock switches for the rest of the connection to its own timeline: by arrival time for live
sources, by frame count at the nominal rate for files. ``restamped`` says which, for the status.

Clock skew (``skew_s``): for a live source on its own clock, how far the camera's timeline has
drifted from the server's wall clock since the stream was anchored. Each ``SKEW_WINDOW_S`` keeps the
least-delayed packet (largest ``wall - arrival``: network and buffering only ever make a packet
late), so jitter does not read as skew; the first window is the baseline. A camera clock running
fast or slow, or the server's clock being stepped, shows as a growing ``skew_s``.
"""

from __future__ import annotations

import time
from fractions import Fraction
from typing import Literal

import av

from oversight.recording.packet import RecPacket

STUCK_LIMIT = 8  # packets in a row whose dts does not advance before the source clock is dropped
UNTIMED_KEYFRAMES = 2  # keyframes without any timestamp before we stop waiting for one
SKEW_WINDOW_S = 10.0  # clock skew: the least-delayed packet of each window of this length

Restamp = Literal["arrival", "frames"]


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
        self.restamped: Restamp | None = None  # set once the source's own timestamps are dropped
        self.repaired = 0  # packets whose dts had to be forced forward
        self._stuck = 0
        self._untimed_keys = 0
        self._last_now: float | None = None
        self.skew_s: float | None = None  # camera clock minus server clock, drift since anchoring
        self._skew_base: float | None = None
        self._window: tuple[float, float] | None = None  # (window start, best offset in it)

    @property
    def note(self) -> str | None:
        """Why and how this stream is restamped, for the camera status; None when it is not."""
        if self.restamped is None:
            return None
        how = "arrival time" if self.restamped == "arrival" else "frame count at the nominal frame rate"
        return f"source timestamps unusable (missing or not advancing): restamped by {how}"

    def wall_of(self, ts: int) -> float:
        assert self.base_wall is not None and self.base_ts is not None
        return self.base_wall + float((ts - self.base_ts) * self.time_base)

    def stamp(self, pkt: av.Packet, now: float | None = None) -> RecPacket | None:
        """A repaired copy of ``pkt``, or None while waiting for a keyframe with timestamps."""
        now = time.time() if now is None else now
        pts, dts = pkt.pts, pkt.dts
        if not self.started:
            if not pkt.is_keyframe:
                return None
            if pts is None and dts is None:
                self._untimed_keys += 1
                if self.live and self._untimed_keys < UNTIMED_KEYFRAMES:
                    return None  # RTSP right after probing: the next keyframe usually has one
                self._switch()
            self.started = True
        if self.restamped is not None:
            pts = dts = self._own_ts(now)
        else:
            if dts is None:
                dts = self.last_dts + self.frame_ticks if self.last_dts is not None else pts
            assert dts is not None
            if self.last_dts is not None and dts <= self.last_dts:
                self.repaired += 1
                self._stuck += 1
                if self._stuck >= STUCK_LIMIT:
                    self._switch()
                    pts = dts = self._own_ts(now)
                    if self.restamped == "frames":  # the stuck packets were frames too: catch up
                        pts = dts = dts + (self._stuck - 1) * self.frame_ticks
                else:
                    dts = self.last_dts + 1
            else:
                self._stuck = 0
            if pts is None or pts < dts:
                pts = dts
        self.last_dts = dts
        self._last_now = now
        if self.base_wall is None:
            self.base_wall = self._start_wall if self._start_wall is not None else now
            self.base_ts = pts
        if self.live and self.restamped is None:
            self._note_offset(self.wall_of(dts), now)
        return RecPacket(
            data=bytes(pkt),
            pts=pts,
            dts=dts,
            keyframe=bool(pkt.is_keyframe),
            duration=int(pkt.duration or self.frame_ticks) if self.restamped is None else self.frame_ticks,
            time_base=self.time_base,
            wall=self.wall_of(pts),
        )

    def _note_offset(self, wall: float, now: float) -> None:
        """One packet's source time against its arrival; closes a skew window when it is full."""
        offset = wall - now
        start, best = self._window if self._window is not None else (now, offset)
        best = max(best, offset)
        if now - start < SKEW_WINDOW_S:
            self._window = (start, best)
            return
        self._window = None
        if self._skew_base is None:
            self._skew_base = best
        else:
            self.skew_s = round(best - self._skew_base, 3)

    def _switch(self) -> None:
        self.restamped = "arrival" if self.live else "frames"

    def _own_ts(self, now: float) -> int:
        """The next timestamp on our own timeline: one frame on for files, the time since the last
        packet for live sources (at least one tick, so dts keeps increasing)."""
        if self.last_dts is None:
            return 0
        if self.restamped == "arrival" and self._last_now is not None:
            return self.last_dts + max(1, round((now - self._last_now) / self.time_base))
        return self.last_dts + self.frame_ticks
