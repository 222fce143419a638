"""``oversight bench memory``: resident memory per added camera, on the real pipeline of ``serve``.

Starts 1..N cameras in ONE process (the capacity bench's ``Fleet``: looped 720p clip, continuous
recording, decode, analytics with the shared person detector, the privacy stage's face detector, one
camera viewed live) and reads RSS after each camera has run ``settle_s`` seconds. It does not wait
for, or judge, the analytics rate, so it can run on a loaded box: memory depends on what a camera
allocates (sessions, buffers, queues), far less on how much CPU it gets.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

from oversight.bench.capacity import Fleet, Plan, _slope, make_clip, rss_mb


def run(plan: Plan, cameras: int = 4, settle_s: float = 10.0) -> dict[str, Any]:
    """RSS before any camera and after each added one; the slope is the memory per added camera."""
    from oversight.cameras.fallbacks import model_status

    started = time.monotonic()
    steps: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="oversight-memory-") as tmp:
        work = Path(tmp)
        clip, _ = make_clip(plan.video, plan, work / "camera.mp4")
        fleet = Fleet(plan, clip, work)
        base = rss_mb()
        try:
            for i in range(cameras):
                fleet.add(i)
                time.sleep(settle_s)
                analysed = sum(w.status()["frames_analyzed"] for w in fleet.workers.values())
                steps.append({"cameras": i + 1, "rss_mb": round(rss_mb(), 1), "frames_analyzed": analysed})
        finally:
            models = model_status(fleet.camera(0))
            fleet.stop()
    ns = [float(s["cameras"]) for s in steps]
    slope = _slope(ns, [s["rss_mb"] for s in steps])
    return {
        "bench": "memory",
        "resolution": [plan.width, plan.height],
        "detector": models["detector"],
        "detector_model": models["detector_model"],
        "face_detector": models["face_detector"],
        "face_model": models["face_model"],
        "viewed_cameras": plan.viewed,
        "settle_s": settle_s,
        "memory_mb_before_cameras": round(base, 1),
        "memory_mb_first_camera": round(steps[0]["rss_mb"] - base, 1) if steps else None,
        "memory_mb_per_added_camera": None if slope is None else round(slope, 1),
        "steps": steps,
        "wall_s": round(time.monotonic() - started, 1),
    }
