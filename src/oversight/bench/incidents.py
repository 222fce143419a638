"""``oversight bench incidents``: dispatch and live-status latency with 200 open incidents, 500 units and
20 connected consoles, through the real web app (uvicorn, HTTP, WebSocket) on SQLite and PostgreSQL.

Measured per backend:
- dispatch round trip: POST /api/dispatch until the answer arrives (unit claimed, incident moved,
  timeline written, bus messages published);
- status fan-out: POST /api/units/{id}/status until all 20 consoles have received the unit message;
- floors from the same run: an authenticated GET /api/auth/me (HTTP + auth, no incident work) and a
  bare bus publish reaching all 20 consoles (WebSocket fan-out, no HTTP, no database).
Server and clients share one process (and the machine's cores), so figures include that contention.
"""

from __future__ import annotations

import asyncio
import json
import math
import socket
import statistics
import tempfile
import threading
import time
from functools import partial
from pathlib import Path
from typing import Any

from oversight.bench.backends import guarded, postgres_unavailable
from oversight.store.db import scratch_postgres

TARGET_P95_MS = 100.0


def _pct(values: list[float], q: float) -> float:
    s = sorted(values)
    k = (len(s) - 1) * q
    lo, hi = math.floor(k), math.ceil(k)
    return s[lo] + (s[hi] - s[lo]) * (k - lo)


def _stats(ms: list[float]) -> dict[str, float | int]:
    return {
        "n": len(ms),
        "p50": round(_pct(ms, 0.5), 2),
        "p95": round(_pct(ms, 0.95), 2),
        "max": round(max(ms), 2),
        "mean": round(statistics.fmean(ms), 2),
    }


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _site(n_units: int) -> Any:
    from oversight.config.schema import SiteConfig

    side = math.ceil(math.sqrt(n_units))
    units = []
    kinds = ("police", "medical", "fire", "other")
    for i in range(n_units):
        units.append(
            {
                "id": f"U{i:03d}",
                "type": kinds[i % 4],
                "station": f"st{i % 10}",
                "lat": 52.0 + (i // side) * 0.002,
                "lon": 5.0 + (i % side) * 0.002,
            }
        )
    cams = [
        {
            "id": f"cam{i}",
            "purpose": "bench",
            "streams": {"record": "/dev/null"},
            "location": {"lat": 52.0 + i * 0.01, "lon": 5.0 + i * 0.01},
        }
        for i in range(8)
    ]
    return SiteConfig.model_validate(
        {"site": {"name": "bench"}, "cameras": cams, "incidents": {"units": units}}
    )


class _Server:
    def __init__(self, app: Any, port: int):
        import uvicorn

        self.server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", ws="auto", lifespan="on")
        )
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> _Server:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("bench server did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(10)


async def _measure(
    base: str, token: str, bus: Any, incident_ids: list[int], unit_ids: list[str], consoles: int, samples: int
) -> dict[str, Any]:
    import httpx
    import websockets

    headers = {"Authorization": f"Bearer {token}"}
    arrivals: dict[tuple[str, str], list[float]] = {}
    got_all: dict[tuple[str, str], asyncio.Event] = {}

    def expect(key: tuple[str, str]) -> asyncio.Event:
        arrivals[key] = []
        got_all[key] = asyncio.Event()
        return got_all[key]

    async def console(ws: Any) -> None:
        async for raw in ws:
            t = time.perf_counter()
            msg = json.loads(raw)
            if msg.get("topic") != "unit":
                continue
            u = msg["data"].get("unit") or {}
            key = (str(u.get("id")), str(u.get("status")))
            if key in arrivals:
                arrivals[key].append(t)
                if len(arrivals[key]) == consoles:
                    got_all[key].set()

    wsurl = base.replace("http://", "ws://") + "/api/ws"
    sockets = [
        await websockets.connect(wsurl, additional_headers=headers, max_queue=None) for _ in range(consoles)
    ]
    for ws in sockets:
        hello = json.loads(await ws.recv())
        assert hello["topic"] == "hello", hello
    readers = [asyncio.create_task(console(ws)) for ws in sockets]
    out: dict[str, Any] = {}
    try:
        async with httpx.AsyncClient(base_url=base, headers=headers, timeout=30) as http:
            for _ in range(5):  # warm up connections and caches
                (await http.get("/api/auth/me")).raise_for_status()
            floor_http, dispatch_ms, fanout_ms, floor_fanout, rec_ms = [], [], [], [], []
            for _ in range(samples):
                t0 = time.perf_counter()
                (await http.get("/api/auth/me")).raise_for_status()
                floor_http.append((time.perf_counter() - t0) * 1000)
            for i in range(samples):
                # fan-out floor: a bare bus message, no HTTP, no database
                key = (f"floor{i}", "available")
                ev = expect(key)
                t0 = time.perf_counter()
                bus.publish(
                    "unit", {"event": "unit.status", "id": key[0], "unit": {"id": key[0], "status": key[1]}}
                )
                await asyncio.wait_for(ev.wait(), 30)
                floor_fanout.append((max(arrivals[key]) - t0) * 1000)
            for i in range(samples):
                iid = incident_ids[i % len(incident_ids)]
                t0 = time.perf_counter()
                r = await http.get(f"/api/incidents/{iid}/recommendation")
                rec_ms.append((time.perf_counter() - t0) * 1000)
                r.raise_for_status()
                unit = unit_ids[i % len(unit_ids)]
                t0 = time.perf_counter()
                r = await http.post("/api/dispatch", json={"incident_id": iid, "unit_id": unit})
                dispatch_ms.append((time.perf_counter() - t0) * 1000)
                r.raise_for_status()
                for status in ("en_route", "on_scene", "available"):
                    ev = expect((unit, status))
                    t0 = time.perf_counter()
                    r = await http.post(f"/api/units/{unit}/status", json={"status": status})
                    r.raise_for_status()
                    await asyncio.wait_for(ev.wait(), 30)
                    fanout_ms.append((max(arrivals[(unit, status)]) - t0) * 1000)
            out = {
                "dispatch_round_trip_ms": _stats(dispatch_ms),
                "status_to_all_consoles_ms": _stats(fanout_ms),
                "recommendation_ms": _stats(rec_ms),
                "floor_http_me_ms": _stats(floor_http),
                "floor_bus_to_all_consoles_ms": _stats(floor_fanout),
            }
    finally:
        for t in readers:
            t.cancel()
        for ws in sockets:
            await ws.close()
    return out


def run_backend(
    url: str, incidents: int = 200, units: int = 500, consoles: int = 20, samples: int = 60
) -> dict[str, Any]:
    from oversight.events.bus import EventBus
    from oversight.incidents.service import IncidentService
    from oversight.store.db import Database
    from oversight.web.app import create_app
    from oversight.web.auth import create_api_token
    from oversight.web.context import AppContext

    cfg = _site(units)
    db = Database(url)
    db.migrate()
    bus = EventBus()
    svc = IncidentService(cfg, bus)
    with db.session() as s:
        svc.sync_units(s)
        ids = [
            svc.create(
                s,
                "bench",
                type="intrusion",
                lat=52.0 + (i % 20) * 0.003,
                lon=5.0 + (i // 20) * 0.003,
                address=f"bench {i}",
            ).id
            for i in range(incidents)
        ]
        _, token = create_api_token(s, "bench", "operator", "bench")
    ctx = AppContext(cfg=cfg, db=db, bus=bus)
    app = create_app(ctx)
    port = _free_port()
    unit_ids = [f"U{i:03d}" for i in range(0, units, max(1, units // samples))][:samples]
    with _Server(app, port):
        result = asyncio.run(
            _measure(f"http://127.0.0.1:{port}", token, bus, ids, unit_ids, consoles, samples)
        )
        with db.session() as s:
            open_count = len(svc.list_incidents(s, "open", limit=10_000))
    db.dispose()
    result["open_incidents"] = open_count
    result["units"] = units
    result["consoles"] = consoles
    for key in ("dispatch_round_trip_ms", "status_to_all_consoles_ms"):
        result[key]["meets_target"] = result[key]["p95"] < TARGET_P95_MS
    return result


def run(
    backends: list[str],
    pg_admin_url: str,
    incidents: int = 200,
    units: int = 500,
    consoles: int = 20,
    samples: int = 60,
) -> dict[str, Any]:
    out: dict[str, Any] = {
        "target_p95_ms": TARGET_P95_MS,
        "incidents": incidents,
        "units": units,
        "consoles": consoles,
        "samples": samples,
    }
    for backend in backends:
        if backend == "sqlite":
            with tempfile.TemporaryDirectory() as d:
                url = f"sqlite:///{Path(d) / 'bench.db'}"
                out["sqlite"] = guarded(
                    "sqlite", partial(run_backend, url, incidents, units, consoles, samples)
                )
        elif backend == "postgres":
            reason = postgres_unavailable(pg_admin_url)
            if reason is not None:
                out["postgres"] = {"skipped": reason}
                continue

            def on_postgres() -> dict[str, Any]:
                with scratch_postgres(pg_admin_url, "oversight_bench") as url:
                    return run_backend(url, incidents, units, consoles, samples)

            out["postgres"] = guarded("postgres", on_postgres)
        else:
            raise ValueError(f"unknown backend {backend!r}")
    return out
