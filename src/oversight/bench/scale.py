"""``oversight bench scale``: does the camera pipeline scale out, and what does each camera cost the
shared parts (database, broker)?

* ``scaling``: the real ``CameraWorker`` (demux, recording to disk, decode, analytics at
  ``detect.fps`` with detection left to the shared service) runs a clip as fast as it can, in 1
  worker process, then in 2 at once, each pinned to its own core (as a Ray camera actor gets its
  CPU). Throughput is seconds of video per wall second (= cameras of that clip one process keeps
  up with). ``efficiency`` = throughput(2) / (2 x throughput(1)); target >= 0.85.
* ``detector_service``: ``BatchedDetector`` fed by ``callers`` concurrent cameras, with batching
  (``max_batch``) and without (batch 1), frames per second.
* ``load_per_camera``: one camera with a detector and a zone rule over a clip with people: SQL
  statements and broker messages (bus messages the bridge forwards) per camera per second of
  video, the floor measured in the same run (PostgreSQL single-row insert transactions per second
  in a scratch database when ``--pg-url`` is given, MQTT QoS 1 messages per second through the broker when
  reachable) and the extrapolation to ``nodes`` nodes.
"""

from __future__ import annotations

import asyncio
import multiprocessing as mp
import os
import statistics
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from oversight.bench.backends import guarded, postgres_unavailable

SCALING_TARGET = 0.85
BATCH_TARGET_GPU = 2.0


# -- one camera pipeline in one process ----------------------------------------


def _camera(
    clip: Path,
    cam_id: str,
    detector: str = "none",
    model: str | None = None,
    rules: bool = False,
    fps: float = 5.0,
) -> Any:
    from oversight.config.schema import CameraConfig

    detect: dict[str, Any] = {"enabled": True, "detector": detector, "fps": fps, "classes": ["person"]}
    if model:
        detect["model_path"] = model
    d = {
        "id": cam_id,
        "purpose": "scale benchmark",
        "streams": {"record": str(clip)},
        "realtime": False,
        "detect": detect,
        "record": {"segment_seconds": 10},
    }
    if rules:
        w, h = 640, 360
        d["rules"] = [
            {
                "id": "area",
                "type": "zone",
                "purpose": "benchmark zone",
                "polygon": [[0, 0], [w, 0], [w, h], [0, h]],
            }
        ]
    return CameraConfig.model_validate(d)


def run_camera(
    clip: Path,
    workdir: Path,
    db_url: str | None,
    cam_id: str,
    detector: str = "none",
    model: str | None = None,
    rules: bool = False,
) -> dict[str, Any]:
    """Run one camera over the whole clip (not paced); returns wall seconds, video seconds, counters."""
    from sqlalchemy import event

    from oversight.analytics.pipeline import CameraAnalytics
    from oversight.cameras.worker import CameraWorker
    from oversight.events.bridge import DEFAULT_TOPICS
    from oversight.events.bus import EventBus
    from oversight.recording.storage import LocalStorage
    from oversight.store.db import Database

    workdir.mkdir(parents=True, exist_ok=True)
    db = Database(db_url or f"sqlite:///{workdir / 'bench.db'}")
    db.migrate()
    statements = [0]

    def count(*_: Any) -> None:
        statements[0] += 1

    event.listen(db.engine, "before_cursor_execute", count)
    bus = EventBus()
    forwarded = [0]
    by_topic: dict[str, int] = {}

    def on_msg(msg: Any) -> None:
        if any(msg.topic == t or msg.topic.startswith(t + ".") for t in DEFAULT_TOPICS):
            forwarded[0] += 1
            by_topic[msg.topic] = by_topic.get(msg.topic, 0) + 1

    bus.subscribe("", on_msg)
    cam = _camera(clip, cam_id, detector, model, rules)
    snaps = workdir / "snapshots"
    snaps.mkdir(exist_ok=True)
    worker = CameraWorker(cam, db, bus, LocalStorage(workdir), lambda c: CameraAnalytics(c, db, bus, snaps))
    t0 = time.perf_counter()
    cpu0 = time.process_time()
    worker.start()
    while worker.alive():
        time.sleep(0.02)
    sampler = worker.sampler
    while sampler is not None and not sampler.q.empty():  # the decoder finishes what the reader queued
        time.sleep(0.02)
    worker.stop()
    wall = time.perf_counter() - t0
    cpu = time.process_time() - cpu0
    video_s = _clip_seconds(clip)
    st = worker.status()
    db.dispose()
    return {
        "wall_s": wall,
        "cpu_s": cpu,
        "video_s": video_s,
        "frames_analyzed": st["frames_analyzed"],
        "segments": st["segments_written"],
        "sql_statements": statements[0],
        "bus_forwarded": forwarded[0],
        "by_topic": by_topic,
    }


def _clip_seconds(clip: Path) -> float:
    import av

    with av.open(str(clip)) as c:
        s = c.streams.video[0]
        if s.frames and s.average_rate:
            return float(s.frames / s.average_rate)
        by_clock = float(c.duration or 0) / 1e6
        if not s.average_rate:
            return by_clock
        # no frame count in the header: count packets, as the container's clock may be unusable (pts 0)
        packets = sum(1 for p in c.demux(s) if p.size)
        return max(by_clock, float(packets / s.average_rate))


PASSES = 3  # the clip is played this many times per run, so a run lasts seconds, not one
MAX_CLIP_S = 120.0  # longer clips would make the run last many minutes


def _process_main(core: int | None, clip: str, workdir: str, start: Any, out: Any) -> None:
    if core is not None and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {core})
    start.wait()
    total: dict[str, Any] = {"wall_s": 0.0, "cpu_s": 0.0, "video_s": 0.0, "frames_analyzed": 0}
    for i in range(PASSES):
        res = run_camera(Path(clip), Path(workdir) / str(i), None, f"cam{core}")
        for k in total:
            total[k] += res[k]
    out.put(total)


def run_processes(n: int, clip: Path, base: Path) -> list[dict[str, Any]]:
    ctx = mp.get_context("spawn")
    start = ctx.Event()
    out = ctx.Queue()
    cores = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
    procs = []
    for i in range(n):
        core = cores[i % len(cores)] if cores else None
        p = ctx.Process(
            target=_process_main, args=(core, str(clip), str(base / f"p{n}-{i}-{time.time_ns()}"), start, out)
        )
        p.start()
        procs.append(p)
    time.sleep(3.0)  # imports done in every process before the clock starts
    start.set()
    results = [out.get(timeout=600) for _ in range(n)]
    for p in procs:
        p.join(30)
    return results


def measure_scaling(clip: Path, repeats: int = 2) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="oversight-scale-") as tmp:
        base = Path(tmp)
        one: list[float] = []
        two: list[float] = []
        frames: list[int] = []
        per_cpu_1: list[float] = []  # video seconds per CPU second: insensitive to other load
        per_cpu_2: list[float] = []
        for _ in range(repeats):  # interleaved so a busy spell on the machine hits both
            r1 = run_processes(1, clip, base)
            one.append(r1[0]["video_s"] / r1[0]["wall_s"])
            per_cpu_1.append(r1[0]["video_s"] / r1[0]["cpu_s"])
            frames.append(r1[0]["frames_analyzed"])
            r2 = run_processes(2, clip, base)
            frames.extend(r["frames_analyzed"] for r in r2)
            per_cpu_2.append(sum(r["video_s"] for r in r2) / sum(r["cpu_s"] for r in r2))
            two.append(sum(r["video_s"] / r["wall_s"] for r in r2))
    t1, t2 = max(one), max(two)  # best of the repeats: the least disturbed by other load
    eff = t2 / (2 * t1)
    return {
        "clip": clip.name,
        "throughput_1_process_video_s_per_s": round(t1, 2),
        "throughput_2_processes_video_s_per_s": round(t2, 2),
        "runs_1": [round(x, 2) for x in one],
        "runs_2": [round(x, 2) for x in two],
        "efficiency": round(eff, 3),
        # the same ratio from CPU time instead of wall time: 1.0 = no contention between the two
        # worker processes; a cross-check that stays meaningful when other jobs load the machine
        "efficiency_cpu": round(statistics.median(per_cpu_2) / statistics.median(per_cpu_1), 3),
        "target": SCALING_TARGET,
        "meets_target": eff >= SCALING_TARGET,
        # NOT cameras per node: no detector runs here (detection is the shared service's), so this is
        # clips of this length ingested, recorded and motion-checked per second; see bench capacity
        "detector": "none (detection left to the shared detector service)",
        "clips_per_node_without_detection": round(t2, 1),
        "clips_per_worker_process_without_detection": round(t1, 1),
        "frames_analyzed_per_run": sorted(set(frames)),  # the same work in every run
        "cpu_count": os.cpu_count(),
        "loadavg_at_end": [round(x, 2) for x in os.getloadavg()],
    }


# -- detector service ----------------------------------------------------------


def measure_detector(
    model: Path,
    clip: Path,
    callers: int = 8,
    frames_per_caller: int = 12,
    max_batch: int = 8,
    repeats: int = 3,
) -> dict[str, Any]:
    import av

    from oversight.cluster.detector_service import BatchedDetector

    frames: list[np.ndarray] = []
    with av.open(str(clip)) as c:
        for i, f in enumerate(c.decode(video=0)):
            if i % 5 == 0:
                frames.append(f.to_ndarray(format="bgr24"))
            if len(frames) >= frames_per_caller:
                break
    detect = {"detector": "onnx", "model_path": str(model), "classes": ["person"], "min_confidence": 0.1}

    def run(batch: int) -> tuple[float, dict[str, Any]]:
        svc = BatchedDetector(detect, max_batch=batch, max_wait_ms=5.0)

        async def caller() -> None:
            for f in frames:
                await svc.detect(f)

        async def all_callers() -> None:
            await svc.detect(frames[0])  # warm-up (session init, first-run allocations)
            t0 = time.perf_counter()
            await asyncio.gather(*(caller() for _ in range(callers)))
            times.append(time.perf_counter() - t0)

        times: list[float] = []
        asyncio.run(all_callers())
        return callers * len(frames) / times[0], svc.stats()

    unb_runs: list[float] = []
    bat_runs: list[float] = []
    st2: dict[str, Any] = {}
    for _ in range(repeats):  # interleaved; best of each, the least disturbed by other load
        unb_runs.append(run(1)[0])
        fps, st2 = run(max_batch)
        bat_runs.append(fps)
    unb, bat = max(unb_runs), max(bat_runs)
    session = BatchedDetector(detect).detector
    inputs: list[Any] = getattr(getattr(session, "session", None), "get_inputs", lambda: [])()
    batch_dim = inputs[0].shape[0] if inputs else None
    return {
        "model": model.name,
        "device": "cpu",
        "callers": callers,
        "unbatched_fps": round(unb, 1),
        "batched_fps": round(bat, 1),
        "runs_unbatched": [round(x, 1) for x in unb_runs],
        "runs_batched": [round(x, 1) for x in bat_runs],
        "ratio": round(bat / unb, 2),
        "mean_batch": st2["mean_batch"],
        "model_batch_dim": batch_dim,
        "note": (
            "the model has a fixed batch of 1, so a batch runs frame by frame: on CPU batching only "
            "saves per-call overhead; the >= 2x target is for GPUs with a dynamic-batch model"
            if batch_dim == 1
            else "one model call per batch"
        ),
        "gpu": "not measured (no GPU used for this benchmark)",
        "gpu_target_ratio": BATCH_TARGET_GPU,
    }


# -- shared parts: database and broker ---------------------------------------------


def pg_insert_rate(db_url: str, seconds: float = 2.0, connections: int = 1) -> float:
    """Single-row insert transactions per second (each committed, like a segment row) from
    ``connections`` connections at once (every camera actor has its own): a floor for the database."""
    from sqlalchemy import text

    from oversight.store.db import Database

    db = Database(db_url)
    with db.engine.begin() as conn:
        conn.execute(text("CREATE TABLE IF NOT EXISTS bench_rows (id serial PRIMARY KEY, cam text, x text)"))
    counts = [0] * connections
    t0 = time.perf_counter()

    def worker(i: int) -> None:
        with db.engine.connect() as conn:
            while time.perf_counter() - t0 < seconds:
                conn.execute(text("INSERT INTO bench_rows (cam, x) VALUES ('cam', 'x')"))
                conn.commit()
                counts[i] += 1

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(connections)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    rate = sum(counts) / (time.perf_counter() - t0)
    db.dispose()
    return rate


def broker_rate(url: str = "mqtt://127.0.0.1:1883", messages: int = 3000, window: int = 200) -> float | None:
    """QoS 1 messages per second published to and received back from the broker (one client each).
    At most ``window`` messages are in flight, so a broker's per-client queue limit (Mosquitto:
    1000) never drops any and the figure is a sustained rate, not a burst."""
    import paho.mqtt.client as mqtt

    from oversight.events.bridge import parse_broker_url

    host, port = parse_broker_url(url)
    topic = f"oversight-bench/{os.getpid()}/{time.time_ns()}"
    got = threading.Event()
    received = [0]

    def on_message(*_: Any) -> None:
        received[0] += 1
        got.set()

    sub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
    pub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
    pub.max_inflight_messages_set(1000)
    sub.on_message = on_message
    try:
        sub.connect(host, port)
        pub.connect(host, port)
    except OSError:
        return None
    sub.subscribe(topic, qos=1)
    sub.loop_start()
    pub.loop_start()
    time.sleep(0.3)
    payload = b'{"o":"bench","t":"event","d":{"id":1,"camera_id":"cam","phase":"update"}}'
    t0 = time.perf_counter()
    deadline = t0 + 60
    for n in range(messages):
        while n - received[0] >= window and time.perf_counter() < deadline:
            got.wait(0.05)
            got.clear()
        pub.publish(topic, payload, qos=1)
    while received[0] < messages and time.perf_counter() < deadline:
        time.sleep(0.01)
    rate = received[0] / (time.perf_counter() - t0)
    for c in (pub, sub):
        c.disconnect()
        c.loop_stop()
    return rate


@contextmanager
def scratch_database(admin_url: str | None) -> Iterator[str | None]:
    """A fresh PostgreSQL database next to ``admin_url`` (dropped afterwards); None stays None (SQLite)."""
    if not admin_url:
        yield None
        return
    from oversight.store.db import scratch_postgres

    with scratch_postgres(admin_url, "oversight_bench") as url:
        yield url


def measure_load(
    clip: Path,
    model: Path,
    pg_admin_url: str | None,
    nodes: int,
    cameras_per_node: float,
    broker_url: str,
    given_density: bool = True,
) -> dict[str, Any]:
    with (
        tempfile.TemporaryDirectory(prefix="oversight-load-") as tmp,
        scratch_database(pg_admin_url) as db_url,
    ):
        r = run_camera(clip, Path(tmp), db_url, "load", detector="onnx", model=str(model), rules=True)
        floor = pg_insert_rate(db_url, connections=8) if db_url else None
    qps = r["sql_statements"] / r["video_s"]
    mps = r["bus_forwarded"] / r["video_s"]
    cameras = nodes * cameras_per_node
    out: dict[str, Any] = {
        "clip": clip.name,
        "database": "postgresql" if pg_admin_url else "sqlite",
        "video_s": round(r["video_s"], 1),
        "sql_per_camera_per_s": round(qps, 3),
        "broker_msgs_per_camera_per_s": round(mps, 3),
        "broker_msgs_by_topic": r["by_topic"],
        "segments": r["segments"],
        "extrapolation": {
            "nodes": nodes,
            "cameras_per_node": cameras_per_node,
            "cameras_per_node_source": "--cameras-per-node" if given_density else "default 1 (not measured)",
            "cameras": round(cameras),
            "sql_per_s": round(qps * cameras, 1),
            "broker_msgs_per_s_in": round(mps * cameras, 1),
        },
    }
    if floor is not None:
        out["floor_pg_insert_tx_per_s_8_connections"] = round(floor, 1)
        out["extrapolation"]["db_headroom"] = round(floor / max(qps * cameras, 1e-9), 2)
    rate = broker_rate(broker_url)
    if rate is not None:
        out["floor_broker_qos1_msgs_per_s_one_client"] = round(rate, 1)
        out["extrapolation"]["broker_headroom"] = round(rate / max(mps * cameras, 1e-9), 2)
    return out


def run(
    clip: Path,
    model: Path,
    pg_admin_url: str | None = None,
    nodes: int = 100,
    repeats: int = 2,
    broker_url: str = "mqtt://127.0.0.1:1883",
    parts: tuple[str, ...] = ("scaling", "detector", "load"),
    cameras_per_node: float | None = None,
) -> dict[str, Any]:
    result: dict[str, Any] = {"bench": "scale"}
    clip_s = _clip_seconds(clip)
    if not 0 < clip_s <= MAX_CLIP_S:  # every part plays the whole clip, unpaced: keep the run bounded
        note = f"clip is {clip_s:.0f} s; give one of at most {MAX_CLIP_S:.0f} s (played whole, several times)"
        return {**result, "skipped": note}
    if "scaling" in parts:
        result["scaling"] = guarded("scaling", lambda: measure_scaling(clip, repeats))
    if "detector" in parts:
        result["detector_service"] = guarded("detector", lambda: measure_detector(model, clip))
    if "load" in parts:
        # the scaling part runs no detector, so its throughput is no camera density; without
        # --cameras-per-node the load is shown per camera (1 per node) and says so
        density = cameras_per_node or 1.0
        reason = postgres_unavailable(pg_admin_url) if pg_admin_url else None
        if reason is not None:  # measure on SQLite and say why, rather than lose the part
            result["postgres"] = {"skipped": reason}
            pg_admin_url = None
        given = cameras_per_node is not None
        pg = pg_admin_url
        result["load_per_camera"] = guarded(
            "load", lambda: measure_load(clip, model, pg, nodes, density, broker_url, given_density=given)
        )
    result["gpu"] = (
        "not measured: streams per GPU at 720p/5 fps with GPU decode and the >= 2x batching "
        "target need a GPU; this run used none"
    )
    return result
