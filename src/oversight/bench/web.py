"""``oversight bench web``: what the monitoring center feels, through the real web server.

- alert latency: frame decoded (the frame timestamp the analytics stamps on the event) until the
  alert message arrives in a WebSocket client, on a looped real clip with the real analytics;
  floor from the same run: a bare bus publish reaching the same client (the web share of it);
- server CPU per live-wall viewer with 16 cameras: server CPU with 0, 1 and N viewers of a
  16-tile wall (clients in a separate process), per viewer and for the first one;
- event list API p95 with ``--events`` rows (default one million) in SQLite and PostgreSQL;
  floor: the same query straight on the database, no HTTP.
Targets (issue 3): alert p99 < 300 ms, event list p95 < 50 ms.
"""

from __future__ import annotations

import asyncio
import json
import math
import multiprocessing as mp
import os
import random
import resource
import statistics
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

from oversight.bench.backends import guarded, postgres_unavailable

ALERT_TARGET_P99_MS = 300.0
EVENTS_TARGET_P95_MS = 50.0
PG_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def _pct(values: list[float], q: float) -> float:
    s = sorted(values)
    if not s:
        return float("nan")
    k = (len(s) - 1) * q
    lo, hi = math.floor(k), math.ceil(k)
    return s[lo] + (s[hi] - s[lo]) * (k - lo)


def _stats(ms: list[float]) -> dict[str, Any]:
    if not ms:
        return {"n": 0}
    return {
        "n": len(ms),
        "p50": round(_pct(ms, 0.5), 2),
        "p95": round(_pct(ms, 0.95), 2),
        "p99": round(_pct(ms, 0.99), 2),
        "max": round(max(ms), 2),
        "mean": round(statistics.fmean(ms), 2),
    }


def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def _token(db: Any, role: str) -> str:
    from oversight.web.auth import create_api_token

    with db.session() as s:
        _, secret = create_api_token(s, f"bench-{role}-{uuid.uuid4().hex[:6]}", role, "bench")
    return secret


# ------------------------------------------------------------------ alert latency


async def _ws_collect(
    url: str, token: str, stop: threading.Event, out: list[tuple[float, dict[str, Any]]]
) -> None:
    import websockets

    async with websockets.connect(url, additional_headers={"Authorization": f"Bearer {token}"}) as ws:
        while not stop.is_set():
            try:
                raw = await asyncio.wait_for(ws.recv(), timeout=0.5)
            except TimeoutError:
                continue
            out.append((time.time(), json.loads(raw)))


def alert_latency(
    clip: Path, seconds: float, work: Path, load_cameras: int = 0, model: Path | None = None
) -> dict[str, Any]:
    """Frame-to-client alert latency on camera "bench", while ``load_cameras`` more cameras analyse
    the same clip in the same process (their rules record events, never alerts)."""
    from oversight.compose import build
    from oversight.config.schema import SiteConfig
    from oversight.web.server import BackgroundServer

    w, h = 480, 360
    detect: dict[str, Any] = {"fps": 5, "width": w, "height": h, "detector": "hog", "classes": ["person"]}
    if model is not None:
        detect.update(detector="onnx", model_path=str(model))
    cfg = SiteConfig.model_validate(
        {
            "site": {"name": "bench", "data_dir": str(work / "alerts")},
            "cameras": [
                {
                    "id": "bench",
                    "purpose": "alert latency benchmark",
                    "streams": {"record": str(clip)},
                    "loop": True,
                    "realtime": True,
                    "detect": detect,
                    "record": {"segment_seconds": 10},
                    "rules": [
                        {
                            "id": "all",
                            "type": "zone",
                            "purpose": "benchmark zone",
                            "polygon": [[0, 0], [w, 0], [w, h], [0, h]],
                            "alert": True,
                            "cooldown_s": 0,
                        }
                    ],
                }
            ],
        }
    )
    bench_cam = cfg.cameras[0]
    for i in range(load_cameras):  # the same camera again: same decode and analytics cost, no alerts
        rules = [r.model_copy(update={"alert": False}) for r in bench_cam.rules]
        cfg.cameras.append(bench_cam.model_copy(update={"id": f"load-{i}", "rules": rules}))
    parts = build(
        cfg,
        db_url=f"sqlite:///{work / 'alerts.db'}",
        runtime_options={"retention_interval_s": 0},
        integrations=False,
        event_mqtt=False,
    )
    db, bus, runtime = parts.db, parts.bus, parts.runtime
    ctx = parts.web_context()
    token = _token(db, "operator")
    got: list[tuple[float, dict[str, Any]]] = []
    published: dict[int, float] = {}

    def on_event(m: Any) -> None:
        if m.data.get("phase") == "start":
            published.setdefault(m.data.get("id", 0), time.time())

    bus.subscribe("event", on_event)
    stop = threading.Event()
    with BackgroundServer(ctx) as url:
        ws_url = url.replace("http://", "ws://") + "/api/ws"
        client = threading.Thread(
            target=lambda: asyncio.run(_ws_collect(ws_url, token, stop, got)), daemon=True
        )
        client.start()
        time.sleep(1.0)
        runtime.start()
        time.sleep(seconds)
        analysed = {st["id"]: st.get("frames_analyzed", 0) for st in runtime.status()}
        runtime.stop()
        # floor: bus publish -> the same WebSocket client, no analytics, no database
        for i in range(100):
            bus.publish(
                "event", {"id": -1 - i, "camera_id": "bench", "phase": "start", "bench_sent": time.time()}
            )
            time.sleep(0.01)
        time.sleep(1.0)
        stop.set()
        client.join(5)
    alerts, floor, analytics_ms, web_ms, queue_ms = [], [], [], [], []
    for at, msg in got:
        data = msg.get("data", {})
        if data.get("camera_id") not in (None, "bench"):
            continue  # the load cameras' events
        if msg.get("topic") == "alert" and data.get("phase") in ("open", "update") and data.get("updated_at"):
            # the alert queue's message for the event that opened or updated it: frame -> client
            queue_ms.append((at - datetime.fromisoformat(str(data["updated_at"])).timestamp()) * 1000)
            continue
        if msg.get("topic") != "event" or data.get("phase") != "start":
            continue
        if "bench_sent" in data:
            floor.append((at - data["bench_sent"]) * 1000)
        elif data.get("start"):
            frame_ts = datetime.fromisoformat(str(data["start"])).timestamp()
            alerts.append((at - frame_ts) * 1000)
            if data.get("id") in published:
                analytics_ms.append((published[data["id"]] - frame_ts) * 1000)
                web_ms.append((at - published[data["id"]]) * 1000)
    db.dispose()
    s = _stats(alerts)
    return {
        "alerts": s,
        "frame_to_published_ms": _stats(analytics_ms),
        "published_to_client_ms": _stats(web_ms),
        "floor_bus_to_websocket_ms": _stats(floor),
        "alert_queue_ms": _stats(queue_ms),  # topic "alert" (one alert per situation, updated)
        "load_cameras": load_cameras,
        "frames_analysed_per_camera": analysed,  # proof the load cameras did analyse
        "detector": "onnx " + model.name if model is not None else "hog",
        "target_p99_ms": ALERT_TARGET_P99_MS,
        "meets_target": bool(alerts) and s["p99"] < ALERT_TARGET_P99_MS,
    }


# ------------------------------------------------------------------ live wall CPU


def _viewer_proc(url: str, token: str, ids: list[str], viewers: int, seconds: float, q: Any) -> None:
    import websockets

    async def one() -> int:
        n = 0
        q_ = "ids=" + ",".join(ids) + "&fps=10"
        async with websockets.connect(
            f"{url}/api/live.ws?{q_}", additional_headers={"Authorization": f"Bearer {token}"}, max_size=None
        ) as ws:
            end = time.monotonic() + seconds
            while time.monotonic() < end:
                try:
                    await asyncio.wait_for(ws.recv(), timeout=0.5)
                    n += 1
                except TimeoutError:
                    pass
        return n

    async def main() -> list[int]:
        return list(await asyncio.gather(*(one() for _ in range(viewers))))

    q.put(asyncio.run(main()))


def live_wall_cpu(cameras: int, viewers: int, seconds: float, work: Path) -> dict[str, Any]:
    from oversight.compose import build
    from oversight.config.schema import SiteConfig
    from oversight.web.server import BackgroundServer
    from oversight.web.synthetic import SyntheticRuntime

    cfg = SiteConfig.model_validate(
        {
            "site": {"name": "bench", "data_dir": str(work / "wall")},
            "cameras": [
                {
                    "id": f"c{i:02d}",
                    "purpose": "live wall benchmark",
                    "streams": {"record": "none.mp4"},
                    "detect": {"width": 640, "height": 360},
                }
                for i in range(cameras)
            ],
        }
    )
    runtime = SyntheticRuntime(cfg, fps=10)
    parts = build(
        cfg, db_url=f"sqlite:///{work / 'wall.db'}", runtime=runtime, integrations=False, event_mqtt=False
    )
    db, ctx = parts.db, parts.web_context()
    token = _token(db, "viewer")
    ids = [c.id for c in cfg.cameras]
    spawn = mp.get_context("spawn")
    result: dict[str, Any] = {
        "cameras": cameras,
        "camera_fps": 10,
        "frame": "640x360",
        "seconds_per_step": seconds,
    }
    runtime.start()
    with BackgroundServer(ctx) as url:
        ws = url.replace("http://", "ws://")

        def measure(n: int) -> tuple[float, list[int]]:
            q = spawn.Queue()
            p = None
            if n:
                p = spawn.Process(target=_viewer_proc, args=(ws, token, ids, n, seconds + 1.0, q))
                p.start()
                time.sleep(1.0)  # connect and warm up
            c0, t0 = _cpu(), time.monotonic()
            time.sleep(seconds)
            used = (_cpu() - c0) / (time.monotonic() - t0)
            frames: list[int] = []
            if p is not None:
                frames = q.get(timeout=60)
                p.join(10)
            return used, frames

        base, _ = measure(0)
        one, f1 = measure(1)
        many, fn = measure(viewers)
    runtime.stop()
    db.dispose()
    per_cam_fps = [round(f / (seconds + 1.0) / cameras, 2) for f in fn]
    result.update(
        {
            "server_cpu_cores_idle": round(base, 3),
            "server_cpu_cores_1_viewer": round(one, 3),
            f"server_cpu_cores_{viewers}_viewers": round(many, 3),
            "cpu_first_viewer_cores": round(one - base, 3),
            "cpu_per_viewer_cores": round((many - base) / viewers, 3),
            "cpu_per_additional_viewer_cores": round((many - one) / max(1, viewers - 1), 3),
            "delivered_fps_per_camera_per_viewer": per_cam_fps,
            "note": "frames are redacted and encoded once per camera and shared by all viewers; synthetic "
            "cameras so only the web path is measured",
        }
    )
    return result


# ------------------------------------------------------------------ event list


LABELS = ("person", "car", "truck", "bicycle", "motion", "crowd")


def _rows(n: int, cameras: int, t0: datetime) -> Any:
    rnd = random.Random(7)
    step = 0.5
    for i in range(n):
        start = t0 + timedelta(seconds=i * step)
        label = LABELS[rnd.randrange(len(LABELS))]
        rule = f"rule{rnd.randrange(8)}" if rnd.random() < 0.7 else None
        yield (
            f"cam{i % cameras:02d}",
            label,
            rule,
            "zone" if rule else None,
            i,
            start,
            start + timedelta(seconds=5),
            round(rnd.random(), 3),
        )


def _fill_sqlite(path: Path, n: int, cameras: int, t0: datetime) -> None:
    import sqlite3

    con = sqlite3.connect(str(path))
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("PRAGMA synchronous=OFF")
    fmt = "%Y-%m-%d %H:%M:%S.%f"
    sql = (
        'INSERT INTO events (camera_id, label, rule_id, rule_type, track_id, start, "end", confidence, data) '
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, '{}')"
    )
    batch: list[tuple[Any, ...]] = []
    for r in _rows(n, cameras, t0):
        batch.append((*r[:5], r[5].strftime(fmt), r[6].strftime(fmt), r[7]))
        if len(batch) >= 50_000:
            con.executemany(sql, batch)
            batch.clear()
    if batch:
        con.executemany(sql, batch)
    con.commit()
    con.execute("ANALYZE")
    con.close()


def _fill_postgres(url: str, n: int, cameras: int, t0: datetime) -> None:
    import psycopg

    with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://")) as con, con.cursor() as cur:
        cols = 'camera_id, label, rule_id, rule_type, track_id, start, "end", confidence, data'
        with cur.copy(f"COPY events ({cols}) FROM STDIN") as copy:
            for r in _rows(n, cameras, t0):
                copy.write_row((*r, "{}"))
        cur.execute("ANALYZE events")
        con.commit()


def _queries(cameras: int, t0: datetime, t1: datetime) -> list[dict[str, Any]]:
    rnd = random.Random(11)
    out: list[dict[str, Any]] = []
    span = (t1 - t0).total_seconds()
    for i in range(200):
        kind = i % 6
        q: dict[str, Any] = {"limit": 50}
        if kind == 1:
            q["camera"] = f"cam{rnd.randrange(cameras):02d}"
        elif kind == 2:
            q["label"] = LABELS[rnd.randrange(len(LABELS))]
        elif kind == 3:
            a = t0 + timedelta(seconds=rnd.random() * span * 0.9)
            q["start"], q["end"] = a.isoformat(), (a + timedelta(hours=2)).isoformat()
        elif kind == 4:
            q["rule"] = f"rule{rnd.randrange(8)}"
            q["camera"] = f"cam{rnd.randrange(cameras):02d}"
        elif kind == 5:
            q["unacknowledged"] = "true"
        out.append(q)
    return out


def event_list(backend: str, n: int, work: Path, pg_admin: str) -> dict[str, Any]:
    import httpx
    from sqlalchemy import create_engine, text

    from oversight.config.schema import SiteConfig
    from oversight.events.bus import EventBus
    from oversight.store.db import Database
    from oversight.web.context import AppContext
    from oversight.web.routes.events import search
    from oversight.web.server import BackgroundServer

    cameras = 16
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    t1 = t0 + timedelta(seconds=n * 0.5)
    admin = None
    name = ""
    if backend == "postgres":
        name = f"oversight_bench_web_{uuid.uuid4().hex[:8]}"
        admin = create_engine(pg_admin, isolation_level="AUTOCOMMIT")
        with admin.connect() as c:
            c.execute(text(f'CREATE DATABASE "{name}"'))
        url = pg_admin.rsplit("/", 1)[0] + "/" + name
    else:
        url = f"sqlite:///{work / 'events.db'}"
    try:
        db = Database(url)
        db.migrate()
        t_fill = time.monotonic()
        if backend == "postgres":
            _fill_postgres(url, n, cameras, t0)
        else:
            _fill_sqlite(work / "events.db", n, cameras, t0)
        fill_s = time.monotonic() - t_fill
        cfg = SiteConfig.model_validate(
            {
                "site": {"data_dir": str(work / "ev")},
                "cameras": [
                    {"id": f"cam{i:02d}", "purpose": "bench", "streams": {"record": "x.mp4"}}
                    for i in range(cameras)
                ],
            }
        )
        ctx = AppContext(cfg=cfg, db=db, bus=EventBus())
        token = _token(db, "operator")
        queries = _queries(cameras, t0, t1)
        api_ms, db_ms, pages_ms = [], [], []
        items = 0
        with (
            BackgroundServer(ctx) as base,
            httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=30) as http,
        ):
            for q in queries[:10]:  # warm caches and connections
                http.get("/api/events", params=q)
            for q in queries:
                t = time.perf_counter()
                r = http.get("/api/events", params=q)
                api_ms.append((time.perf_counter() - t) * 1000)
                r.raise_for_status()
                items += len(r.json()["items"])
                nxt = r.json()["next_cursor"]
                if nxt:
                    t = time.perf_counter()
                    http.get("/api/events", params={**q, "cursor": nxt}).raise_for_status()
                    pages_ms.append((time.perf_counter() - t) * 1000)
        for q in queries:
            kw: dict[str, Any] = {
                "cameras": [q["camera"]] if "camera" in q else None,
                "label": q.get("label"),
                "rule_id": q.get("rule"),
                "unacknowledged": "unacknowledged" in q,
                "start": datetime.fromisoformat(q["start"]) if "start" in q else None,
                "end": datetime.fromisoformat(q["end"]) if "end" in q else None,
            }
            t = time.perf_counter()
            with db.session() as s:
                search(s, limit=50, **kw)
            db_ms.append((time.perf_counter() - t) * 1000)
        db.dispose()
        api = _stats(api_ms)
        return {
            "events": n,
            "fill_seconds": round(fill_s, 1),
            "api_first_page_ms": api,
            "api_next_page_ms": _stats(pages_ms),
            "items_returned": items,
            "floor_db_query_ms": _stats(db_ms),
            "target_p95_ms": EVENTS_TARGET_P95_MS,
            "meets_target": api["p95"] < EVENTS_TARGET_P95_MS,
        }
    finally:
        if admin is not None:
            with admin.connect() as c:
                c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin.dispose()


def run(
    clip: Path | None,
    events: int = 1_000_000,
    backends: tuple[str, ...] = ("sqlite", "postgres"),
    alert_seconds: float = 30.0,
    cameras: int = 16,
    viewers: int = 4,
    cpu_seconds: float = 5.0,
    pg_admin: str = PG_ADMIN,
    parts: tuple[str, ...] = ("alerts", "wall", "events"),
    load_cameras: int = 0,
    model: Path | None = None,
) -> dict[str, Any]:
    out: dict[str, Any] = {"machine": {"cpus": os.cpu_count()}}
    with tempfile.TemporaryDirectory(prefix="oversight-bench-web-") as tmp:
        work = Path(tmp)
        if "alerts" in parts:
            if clip is None:
                out["alert_latency_ms"] = {"skipped": "no clip (give --video)"}
            else:
                out["alert_latency_ms"] = guarded(
                    "alerts", lambda: alert_latency(clip, alert_seconds, work, load_cameras, model)
                )
        if "wall" in parts:
            out["live_wall"] = guarded("wall", lambda: live_wall_cpu(cameras, viewers, cpu_seconds, work))
        if "events" in parts:
            out["event_list"] = {}
            for b in backends:
                reason = postgres_unavailable(pg_admin) if b == "postgres" else None
                if reason is not None:
                    out["event_list"][b] = {"skipped": reason}
                    continue
                (work / b).mkdir()
                out["event_list"][b] = guarded(b, partial(event_list, b, events, work / b, pg_admin))
    return out
