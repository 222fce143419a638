"""Read-only state of the egress gate's live H.264 encodes, per camera, for the health page.

It only reads what the feeds already keep (``H264Feed.alive``, ``frames``, ``stalled()``, its
viewers and its thread) and never starts, stops or changes a feed: the live path stays the gate's.
Rates (frames a second, cores of CPU) are differences between two reads, so the first read after
an encode starts shows its viewers but no rate yet.
"""

from __future__ import annotations

import threading
import time
from typing import Any


def _thread_cpu_s(thread: threading.Thread | None) -> float | None:
    """CPU seconds a thread has used (Linux and macOS: its own CPU clock), None when unknown."""
    if thread is None or thread.ident is None or not thread.is_alive():
        return None
    try:
        return time.clock_gettime(time.pthread_getcpuclockid(thread.ident))
    except (AttributeError, OSError, ValueError):
        return None


class LiveEncodeMeter:
    """Reads the gate's feeds; keeps the previous read of each feed to turn counters into rates."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._prev: dict[int, tuple[float, int, float | None]] = {}  # id(feed) -> (monotonic, frames, cpu)

    def read(self, gate: Any | None) -> dict[str, dict[str, Any]]:
        """camera id -> {encodes, viewers, fps, cpu_cores, stalled} for cameras with a live encode."""
        if gate is None:
            return {}
        with gate._lock:
            feeds = [f for f in gate._feeds.values() if f.alive]
        now = time.monotonic()
        out: dict[str, dict[str, Any]] = {}
        seen: dict[int, tuple[float, int, float | None]] = {}
        for feed in feeds:
            cpu = _thread_cpu_s(getattr(feed, "_thread", None))
            seen[id(feed)] = (now, int(feed.frames), cpu)
            row = out.setdefault(
                feed.camera_id, {"encodes": 0, "viewers": 0, "fps": None, "cpu_cores": None, "stalled": False}
            )
            row["encodes"] += 1
            row["viewers"] += len(getattr(feed, "_subs", ()))
            row["stalled"] = row["stalled"] or bool(feed.stalled())
            with self._lock:
                prev = self._prev.get(id(feed))
            if prev is None or now - prev[0] <= 0:
                continue
            dt = now - prev[0]
            row["fps"] = round((row["fps"] or 0.0) + (feed.frames - prev[1]) / dt, 1)
            if cpu is not None and prev[2] is not None:
                row["cpu_cores"] = round((row["cpu_cores"] or 0.0) + (cpu - prev[2]) / dt, 3)
        with self._lock:
            self._prev = seen
        return out
