"""Is a camera keeping up? Packets and frames dropped per stage, and the analytics rate against the
configured one, for the camera status, the status API and ``/metrics``.

Counters only grow for the life of the worker (Prometheus takes rates); ``analytics_fps`` is over
the last ``window`` seconds. A camera is ``overloaded`` while any drop counter grew within that
window: the reader outran the decoder (packets dropped up to the next keyframe) or the detector
fell behind the decoder (frames replaced in the analytics mailbox), so overload shows up as a
number and a flag rather than only as a lower analytics rate.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from typing import Any


class LoadMeter:
    def __init__(self, configured_fps: float, window: float = 10.0, now: float | None = None):
        self.configured_fps = configured_fps
        self.window = window
        # (monotonic, analysed, dropped); counters start at zero with the camera
        start = time.monotonic() if now is None else now
        self._samples: deque[tuple[float, int, int]] = deque([(start, 0, 0)])
        self._lock = threading.Lock()  # status() is called from reader, bus and web threads

    def status(self, sampler: Any | None, now: float | None = None) -> dict[str, Any]:
        """Drop counters per stage, the recent analytics rate and the overload flag."""
        now = time.monotonic() if now is None else now
        decode_drops = int(getattr(sampler, "dropped_packets", 0) or 0)
        # the runner is the sampler's analytics thread; the counter is a plain int read without a lock
        runner = getattr(sampler, "_runner", None)
        analytics_drops = int(getattr(runner, "dropped", 0) or 0)
        analysed = int(getattr(sampler, "frames_processed", 0) or 0)
        drops = decode_drops + analytics_drops
        with self._lock:
            if drops < self._samples[-1][2] or analysed < self._samples[-1][1]:
                self._samples.clear()  # a restarted stage starts its counters again
            self._samples.append((now, analysed, drops))
            while len(self._samples) > 2 and now - self._samples[1][0] >= self.window:
                self._samples.popleft()
            t0, analysed0, drops0 = self._samples[0]
        span = now - t0
        rate = (analysed - analysed0) / span if span > 0 else 0.0
        return {
            "packets_dropped_decode": decode_drops,
            "frames_dropped_analytics": analytics_drops,
            "analytics_fps": round(rate, 2),
            "analytics_fps_configured": self.configured_fps,
            "overloaded": drops > drops0,
        }
