"""``oversight bench capacity``: how many cameras of one resolution a box runs at full rate.

Cameras are added one step at a time to ONE process running the real pipeline of ``serve``:
``CameraWorker`` (file source looped and paced at its frame rate, continuous recording to disk,
decode, analytics at ``detect.fps`` with the shared detector session, a zone rule writing events to
SQLite, the privacy stage's face regions) and, for the first ``viewed`` cameras, the live view (the
privacy egress gate's shared H.264 feed, as a wall tile gets it) expected at ``live_fps``. After
each added camera the rates are measured for ``step_s`` seconds; the run stops when any camera's
analytics rate, or a viewed camera's live rate, falls below 95 % of its configured rate, or when
``max_cameras`` or the time budget is reached.

Reported: cameras per box (the last step that held every rate), CPU (cores) and memory (RSS) per
camera as the slope over the steps, and where the CPU goes by thread kind (readers and recording,
decode, analytics, live view, other) from the per-thread CPU clocks in ``/proc``. The figures
depend on what else runs on the machine: the load average is reported next to them.
"""

from __future__ import annotations

import os
import tempfile
import threading
import time
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import av
import numpy as np

from oversight.bench.backends import guarded
from oversight.privacy.egress import egress

HOLD = 0.95  # a rate below this share of the configured one is "not keeping up"
IDLE_BOX_UTILISATION = 0.85  # CPU share a box can give cameras and still answer the web app
ESTIMATE_METHOD = (
    f"CPU time only: ({IDLE_BOX_UTILISATION} x cpus - live view cores) / (other cores / cameras) at the last "
    "step that held; what the box would take with nothing else running (cameras_per_box is measured by "
    "rates and falls when other work shares the machine)"
)
# thread-name prefixes of the camera threads; "other" is the rest (main thread, database, OpenCV's
# pool when HOG runs; the shared ONNX session runs on the analytics threads themselves)
KINDS = (
    ("rec-", "read_and_record"),
    ("det-", "read_and_record"),
    ("decode-", "decode"),
    ("analytics-privacy-", "privacy"),  # the privacy stage's face search
    ("analytics-", "analytics"),
    ("live-", "live_view"),
    ("h264-", "live_view"),  # the camera's shared live encode (redact, H.264, fragment)
)


@dataclass
class Plan:
    """What one capacity run does; ``quick`` shrinks everything for tests."""

    video: Path
    width: int = 1280
    height: int = 720
    fps: float = 25.0
    detect_fps: float = 5.0
    model: str | None = None
    face_model: str | None = None
    viewed: int = 1
    live_fps: float = 10.0
    step_s: float = 20.0
    warmup_s: float = 4.0
    max_cameras: int = 32
    start_cameras: int = 1  # cameras started before the first step (skip the steps known to hold)
    min_cameras: int = 2  # measured even when rates already fall short: the CPU slope needs two points
    budget_s: float = 240.0
    clip_s: float = 20.0


def make_clip(src: Path, plan: Plan, out: Path) -> tuple[Path, float]:
    """``src`` scaled to the plan's resolution and re-timed to ``plan.fps`` (frames repeated or
    skipped by timestamp), ``plan.clip_s`` long, H.264 with a keyframe every 2 s like a camera.
    Returns the clip and the source's own frame rate."""
    with av.open(str(src)) as inp:
        st = inp.streams.video[0]
        src_fps = float(st.average_rate or 10)
        frames: list[np.ndarray] = []
        for frame in inp.decode(st):
            frames.append(frame.to_ndarray(format="bgr24", width=plan.width, height=plan.height))
            if len(frames) >= plan.clip_s * src_fps:
                break
    if not frames:
        raise ValueError(f"no frames in {src}")
    with av.open(str(out), "w") as container:
        ost = container.add_stream("libx264", rate=Fraction(round(plan.fps * 1000), 1000))
        ost.width, ost.height, ost.pix_fmt = plan.width, plan.height, "yuv420p"
        ost.options = {"g": str(max(1, round(plan.fps * 2))), "preset": "veryfast", "tune": "zerolatency"}
        n_out = max(1, round(len(frames) / src_fps * plan.fps))
        for i in range(n_out):
            img = frames[min(len(frames) - 1, int(i / plan.fps * src_fps))]
            for packet in ost.encode(av.VideoFrame.from_ndarray(img, format="bgr24")):
                container.mux(packet)
        for packet in ost.encode():
            container.mux(packet)
    return out, src_fps


def thread_cpu() -> dict[str, float]:
    """CPU seconds so far of this process's live threads, added up by kind (from thread names)."""
    tick = os.sysconf("SC_CLK_TCK")
    out: dict[str, float] = {}
    for t in threading.enumerate():
        if t.native_id is None:
            continue
        try:
            with open(f"/proc/self/task/{t.native_id}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        kind = next((k for prefix, k in KINDS if t.name.startswith(prefix)), "other")
        out[kind] = out.get(kind, 0.0) + (int(fields[11]) + int(fields[12])) / tick
    return out


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1e6


@dataclass(frozen=True)
class BenchViewer:
    """Who the live path sees: a benchmark operator (audited like any viewer where the path audits)."""

    username: str = "capacity-bench"
    role: str = "operator"
    ip: str | None = None


@dataclass
class Viewer:
    """Watches one camera as a wall tile does: a live session of the privacy egress gate (audited)
    subscribed to the camera's shared H.264 feed, counting the fragments (one per frame) it gets.
    A feed that ends (a reveal changed the pixels, a renewed encode) is joined again."""

    ctx: Any
    camera_id: str
    fps: float
    new_frames: int = 0
    error: str | None = None
    _stop: threading.Event = field(default_factory=threading.Event)

    _thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name=f"live-{self.camera_id}", daemon=True)
        self._thread.start()

    def stop(self, wait: float = 0.0) -> None:
        self._stop.set()
        if wait and self._thread is not None:
            self._thread.join(wait)

    def _run(self) -> None:
        import asyncio

        loop = asyncio.new_event_loop()
        try:
            with egress(self.ctx).open_live(
                BenchViewer(), [self.camera_id], kind="live.h264", purpose="capacity benchmark"
            ) as session:
                loop.run_until_complete(self._watch(session, loop))
        except Exception as exc:  # report in the JSON, keep the other figures
            self.error = f"{type(exc).__name__}: {exc}"
        finally:
            loop.close()

    async def _watch(self, session: Any, loop: Any) -> None:
        import asyncio

        sub = session.h264(self.camera_id, loop)
        try:
            while not self._stop.is_set():
                try:
                    item = await asyncio.wait_for(sub.queue.get(), 0.5)
                except TimeoutError:
                    continue
                if item is None:  # the feed ended: join the camera's current one
                    sub.close()
                    sub = session.h264(self.camera_id, loop)
                elif isinstance(item, bytes):
                    self.new_frames += 1
        finally:
            sub.close()


class Fleet:
    """The cameras of one run, sharing one database, bus and storage as in ``serve``."""

    def __init__(self, plan: Plan, clip: Path, work: Path):
        from oversight.config.schema import SiteConfig
        from oversight.events.bus import EventBus
        from oversight.recording.storage import LocalStorage
        from oversight.store.db import Database
        from oversight.web.context import AppContext

        self.plan, self.clip, self.work = plan, clip, work
        self.db = Database(f"sqlite:///{work / 'capacity.db'}")
        self.db.migrate()
        self.bus = EventBus()
        self.storage = LocalStorage(work / "recordings")
        self.workers: dict[str, Any] = {}
        self.viewers: dict[str, Viewer] = {}
        self.site = SiteConfig.model_validate({"site": {"data_dir": str(work / "data")}, "cameras": []})
        self.ctx = AppContext(
            cfg=self.site,
            db=self.db,
            bus=self.bus,
            runtime=SimpleNamespace(workers=self.workers),
            cache_dir=work / "cache",
        )

    def camera(self, i: int) -> Any:
        from oversight.config.schema import CameraConfig

        p = self.plan
        w, h = float(p.width), float(p.height)
        detect: dict[str, Any] = {
            "fps": p.detect_fps,
            "width": min(p.width, 640),
            "height": round(min(p.width, 640) * p.height / p.width / 2) * 2,
        }
        # no --model: the install's default (oversight-models when installed, else HOG, degraded)
        detect |= {"detector": "onnx", "model_path": p.model} if p.model else {"detector": "auto"}
        return CameraConfig.model_validate(
            {
                "id": f"cap{i:02d}",
                "purpose": "capacity benchmark",
                "streams": {"record": str(self.clip)},
                "loop": True,
                "realtime": True,
                "detect": detect,
                "record": {"mode": "continuous"},
                "redaction": {"face_model_path": p.face_model} if p.face_model else {},
                "rules": [
                    {
                        "id": "area",
                        "type": "zone",
                        "purpose": "capacity zone",
                        "polygon": [[0, h * 0.3], [w, h * 0.3], [w, h], [0, h]],
                    }
                ],
            }
        )

    def add(self, i: int) -> None:
        from oversight.analytics.pipeline import CameraAnalytics
        from oversight.cameras.worker import CameraWorker
        from oversight.runtime import privacy_stage

        cam = self.camera(i)
        self.site.cameras.append(cam)
        snaps, privacy = self.work / "snapshots", self.work / "data" / "privacy"
        worker = CameraWorker(
            cam,
            self.db,
            self.bus,
            self.storage,
            lambda c: CameraAnalytics(c, self.db, self.bus, snaps),
            privacy_factory=lambda c, a: privacy_stage(c, a, privacy),
        )
        self.workers[cam.id] = worker
        worker.start()
        if len(self.viewers) < self.plan.viewed:
            viewer = Viewer(self.ctx, cam.id, self.plan.live_fps)
            self.viewers[cam.id] = viewer
            viewer.start()

    def counters(self) -> dict[str, Any]:
        return {
            "t": time.monotonic(),
            "cpu": time.process_time(),
            "analysed": {cid: w.status()["frames_analyzed"] for cid, w in self.workers.items()},
            "live": {cid: v.new_frames for cid, v in self.viewers.items()},
            "threads": thread_cpu(),
        }

    def stop(self) -> None:
        for v in self.viewers.values():
            v.stop(wait=5.0)  # its session's closing audit entry is written before the database goes
        egress(self.ctx).close()  # and the live encodes it watched end
        stoppers = [threading.Thread(target=w.stop, args=(5.0,)) for w in self.workers.values()]
        for t in stoppers:
            t.start()
        for t in stoppers:
            t.join(30)
        self.db.dispose()


def measure_step(fleet: Fleet, plan: Plan) -> dict[str, Any]:
    a = fleet.counters()
    time.sleep(plan.step_s)
    b = fleet.counters()
    span = b["t"] - a["t"]
    analytics = {cid: (b["analysed"][cid] - a["analysed"].get(cid, 0)) / span for cid in b["analysed"]}
    live = {cid: (b["live"][cid] - a["live"].get(cid, 0)) / span for cid in b["live"]}
    statuses = {cid: w.status() for cid, w in fleet.workers.items()}
    threads = {k: v - a["threads"].get(k, 0.0) for k, v in b["threads"].items()}
    total = sum(threads.values()) or 1.0
    lowest = min(analytics.values())
    lowest_live = min(live.values()) if live else None
    slack = 0.5 / span  # half a frame either way in the window is counting, not falling behind
    held = lowest >= HOLD * plan.detect_fps - slack and (
        lowest_live is None or lowest_live >= HOLD * plan.live_fps - slack
    )
    return {
        "cameras": len(fleet.workers),
        "held": held,
        "analytics_fps_min": round(lowest, 2),
        "analytics_fps_mean": round(sum(analytics.values()) / len(analytics), 2),
        "live_fps_min": None if lowest_live is None else round(lowest_live, 2),
        "reader_fps_min": round(min(s["fps"] for s in statuses.values()), 2),
        "frames_dropped_analytics": sum(s.get("frames_dropped_analytics", 0) for s in statuses.values()),
        "packets_dropped_decode": sum(s.get("packets_dropped_decode", 0) for s in statuses.values()),
        "cpu_cores": round((b["cpu"] - a["cpu"]) / span, 3),
        "rss_mb": round(rss_mb(), 1),
        "cpu_share_by_stage": {k: round(v / total, 3) for k, v in sorted(threads.items())},
        "live_errors": sorted({v.error for v in fleet.viewers.values() if v.error}),
    }


def _slope(xs: list[float], ys: list[float]) -> float | None:
    if len(xs) < 2:
        return None
    return float(np.polyfit(np.asarray(xs, float), np.asarray(ys, float), 1)[0])


def run(plan: Plan) -> dict[str, Any]:
    from oversight.cameras.fallbacks import model_status

    started = time.monotonic()
    base_rss = rss_mb()
    steps: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="oversight-capacity-") as tmp:
        work = Path(tmp)
        clip, src_fps = make_clip(plan.video, plan, work / "camera.mp4")
        fleet = Fleet(plan, clip, work)
        stopped_by = "max_cameras"
        try:
            for i in range(min(plan.start_cameras, plan.max_cameras) - 1):
                fleet.add(i)
            for i in range(len(fleet.workers), plan.max_cameras):
                fleet.add(i)
                time.sleep(plan.warmup_s)
                step = guarded(f"step {i + 1}", lambda: measure_step(fleet, plan))
                if "error" in step:
                    stopped_by = f"error: {step['error']}"
                    break
                steps.append(step)
                if not step["held"] and i + 1 >= max(plan.min_cameras, plan.start_cameras + 1):
                    stopped_by = "rate below 95 % of configured"
                    break
                left = plan.budget_s - (time.monotonic() - started)
                if left < plan.warmup_s + plan.step_s:
                    stopped_by = "time budget"
                    break
        finally:
            models = model_status(fleet.camera(0))
            fleet.stop()
    ok = []  # the steps before the first one that fell short
    for s in steps:
        if not s["held"]:
            break
        ok.append(s)
    ns = [float(s["cameras"]) for s in steps]
    cpu_slope = _slope(ns, [s["cpu_cores"] for s in steps])
    mem_slope = _slope(ns, [s["rss_mb"] for s in steps])
    last = ok[-1] if ok else (steps[-1] if steps else None)
    estimate = None
    if last is not None:
        live_cores = last["cpu_cores"] * last["cpu_share_by_stage"].get("live_view", 0.0)
        # the average, not the slope: a step starved of CPU by other work flattens the slope
        per_camera = (last["cpu_cores"] - live_cores) / last["cameras"]
        cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
        if per_camera > 0:
            estimate = int(max(0.0, IDLE_BOX_UTILISATION * cpus - live_cores) / per_camera)
    return {
        "bench": "capacity",
        "resolution": [plan.width, plan.height],
        "camera_fps": plan.fps,
        "source_clip": str(plan.video),
        "source_fps": src_fps,
        "frames_repeated_to_reach_camera_fps": plan.fps > src_fps,
        "detect_fps": plan.detect_fps,
        "detector": models["detector"],
        "detector_model": models["detector_model"],
        "detector_source": models["detector_source"],
        "face_detector": models["face_detector"],
        "face_model": models["face_model"],
        "face_model_source": models["face_model_source"],
        "degraded": models["degraded"],
        "viewed_cameras": plan.viewed,
        "live_fps": plan.live_fps,
        "step_s": plan.step_s,
        "cameras_per_box": last["cameras"] if ok and last else 0,
        "stopped_by": stopped_by,
        # slope over the steps: what one more (unwatched) camera adds
        "cpu_cores_per_added_camera": None if cpu_slope is None else round(cpu_slope, 3),
        "cameras_per_idle_box_estimate": estimate,
        "estimate_method": ESTIMATE_METHOD,
        "cpu_cores_per_camera_at_capacity": round(last["cpu_cores"] / last["cameras"], 3) if last else None,
        "memory_mb_per_added_camera": None if mem_slope is None else round(mem_slope, 1),
        "memory_mb_base": round(base_rss, 1),
        "where_time_goes": last["cpu_share_by_stage"] if last else {},
        "steps": steps,
        "cpus": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "loadavg_at_end": [round(x, 2) for x in os.getloadavg()],
        "wall_s": round(time.monotonic() - started, 1),
    }
