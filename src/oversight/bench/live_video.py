"""Live video as viewers get it: the H.264 wall through the real web server and egress gate,
measured from the client's side (``oversight bench video``, parts ``live`` and ``soak``).

- live: 4 cameras (one 1280x720, three 640x360) at the source rate, 3 viewers of the wall. The
  cameras stamp the wall-clock time into every frame as a binary pixel code
  (``web.synthetic.stamp_clock``); each viewer decodes what it received (H.264 from the fMP4
  fragments) and reads the code back: glass-to-glass latency (frame made -> frame decoded in the
  viewer), p50/p99. Delivered fps per tile and its ratio to the source fps. Server CPU per live
  camera (redact + encode + send, shared by the viewers: CPU with viewers minus CPU without, per
  camera) next to the floor measured in the same run: the same frames encoded the same way with
  no redaction, no web.
- soak: the real camera runtime (ingest, recording, analytics, privacy stage) on N looped clips
  with 3 viewers of an N-tile wall for ``--soak-seconds``: crashes (live encodes or camera threads
  that died, a server that stopped answering), stalls (a tile with no fragment for 3 s, watchdog
  restarts), cameras still analysing at the end, and memory growth of the server process.

Figures are reported, never asserted against wall-clock thresholds.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing as mp
import resource
import statistics
import time
from pathlib import Path
from typing import Any

import numpy as np

GAP_STALL_S = 3.0  # a tile that got no fragment this long stalled
WARMUP_S = (
    2.0  # a tile's first seconds (the keyframe group sent on joining) count for neither fps nor latency
)


def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def _rss_mib() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def _pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    s = sorted(values)
    return round(s[min(len(s) - 1, int(round(q * (len(s) - 1))))], 1)


# ------------------------------------------------------------------ the viewer (a separate process)


def _avcc(init: bytes) -> bytes:
    """The H.264 decoder configuration (avcC box payload) from an fMP4 init segment."""
    i = init.find(b"avcC")
    if i < 4:
        raise ValueError("no avcC box in the init segment")
    size = int.from_bytes(init[i - 4 : i], "big")
    return init[i + 4 : i - 4 + size]


def _mdat(fragment: bytes) -> bytes:
    """The sample data (length-prefixed NAL units) of a one-frame fragment (moof + mdat)."""
    i = 0
    while i + 8 <= len(fragment):
        size = int.from_bytes(fragment[i : i + 4], "big")
        if fragment[i + 4 : i + 8] == b"mdat":
            return fragment[i + 8 : i + size]
        i += max(8, size)
    return b""


class _Tile:
    """One camera as one viewer receives it: a decoder, fragment count, gaps, latencies."""

    def __init__(self, decode: bool):
        self.decode, self.expect_init = decode, False
        self.ctx: Any = None
        self.frames, self.unreadable, self.max_gap = 0, 0, 0.0
        self.steady = 0  # frames after the warm-up
        self.stalls, self.stalled_s = 0, 0.0  # gaps over GAP_STALL_S, and their total length
        self.first: float | None = None
        self.last: float | None = None
        self.latency_ms: list[float] = []

    def got(self, data: bytes) -> None:
        import av

        from oversight.web.synthetic import read_clock

        now = time.time()
        if self.expect_init:
            self.expect_init = False
            if self.decode:
                self.ctx = av.CodecContext.create("h264", "r")
                self.ctx.extradata = _avcc(data)
            return
        self.frames += 1
        self.first = self.first or now
        if self.last is not None:
            self.max_gap = max(self.max_gap, now - self.last)
            if now - self.last > GAP_STALL_S:
                self.stalls, self.stalled_s = self.stalls + 1, self.stalled_s + now - self.last
        self.last = now
        warm = now - self.first >= WARMUP_S
        self.steady += warm
        if self.ctx is None:
            return
        for frame in self.ctx.decode(av.Packet(_mdat(data))):
            stamp = read_clock(frame.to_ndarray(format="bgr24"))
            if stamp is None:
                self.unreadable += 1
            elif warm:
                self.latency_ms.append((time.time() - stamp) * 1000)


async def _one_viewer(url: str, token: str, ids: list[str], seconds: float, decode: bool) -> dict[str, Any]:
    import json

    import websockets

    tiles = {i: _Tile(decode) for i in ids}
    headers = {"Authorization": f"Bearer {token}"}
    end = time.monotonic() + seconds
    async with websockets.connect(
        f"{url}/api/live.wall.h264.ws?ids={','.join(ids)}", additional_headers=headers, max_size=None
    ) as ws:
        while time.monotonic() < end:
            try:
                msg = await asyncio.wait_for(ws.recv(), timeout=0.5)
            except TimeoutError:
                continue
            if isinstance(msg, str):
                m = json.loads(msg)
                if m.get("type") == "init" and m.get("camera") in tiles:
                    tiles[m["camera"]].expect_init = True
                continue
            n = msg[0]
            cid = msg[1 : 1 + n].decode()
            if cid in tiles:
                tiles[cid].got(msg[1 + n :])
    out: dict[str, Any] = {}
    for cid, t in tiles.items():
        span = (t.last - t.first - WARMUP_S) if t.first and t.last else 0.0
        out[cid] = {
            "frames": t.frames,
            "fps": round(t.steady / span, 2) if span > 0 else 0.0,
            "max_gap_s": round(t.max_gap, 2),
            "stalls": t.stalls,
            "stalled_s": round(t.stalled_s, 1),
            "latency_ms": t.latency_ms,
            "unreadable": t.unreadable,
        }
    return out


def _viewers_proc(
    url: str, token: str, ids: list[str], viewers: int, seconds: float, decode: bool, q: Any
) -> None:
    async def main() -> list[dict[str, Any]]:
        return list(
            await asyncio.gather(*(_one_viewer(url, token, ids, seconds, decode) for _ in range(viewers)))
        )

    q.put(asyncio.run(main()))


def _watch(url: str, token: str, ids: list[str], viewers: int, seconds: float, decode: bool) -> Any:
    """Start the viewers in a separate process (their decoding is not the server's CPU)."""
    spawn = mp.get_context("spawn")
    q = spawn.Queue()
    p = spawn.Process(target=_viewers_proc, args=(url, token, ids, viewers, seconds, decode, q))
    p.start()
    return p, q


def _collect(p: Any, q: Any, timeout: float) -> list[dict[str, Any]]:
    try:
        return list(q.get(timeout=timeout))
    finally:
        p.join(10)
        if p.is_alive():
            p.kill()


# ------------------------------------------------------------------ live: latency, fps, CPU


def _token(db: Any) -> str:
    from oversight.web.auth import create_api_token

    with db.session() as s:
        _, secret = create_api_token(s, f"bench-live-{time.monotonic_ns()}", "viewer", "bench")
    return secret


def _floor_cores(cfg: Any, fps: float, seconds: float) -> tuple[float, float]:
    """The floor per camera, in CPU cores at the source rate: decoding the camera's stream (the
    stamped frames as H.264 at their own size) and encoding it the way the wall's sub-stream is
    encoded, with no redaction and no web. Returns (decode, encode)."""
    import av

    from oversight.privacy.fmp4 import Fmp4Encoder
    from oversight.privacy.live_feed import SUB_MAX_WIDTH
    from oversight.web.synthetic import SyntheticWorker

    n = max(10, int(fps * min(seconds, 10)))
    dec = enc_s = 0.0
    for cam in cfg.cameras:
        w = SyntheticWorker(cam, fps, stamp=True)
        src = av.CodecContext.create("libx264", "w")
        src.width, src.height, src.pix_fmt = cam.detect.width, cam.detect.height, "yuv420p"
        src.options = {"preset": "veryfast", "tune": "zerolatency"}
        packets = []
        for _ in range(n):  # the camera's own stream (not timed: the camera encodes it)
            w.tick()
            got = w.latest_frame()
            assert got is not None
            packets += src.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(got[0]), format="bgr24"))
        packets += src.encode(None)
        c0 = time.process_time()
        decoder = av.CodecContext.create("h264", "r")
        frames = [f.to_ndarray(format="bgr24") for p in packets for f in decoder.decode(p)]
        dec += time.process_time() - c0
        h, wd = frames[0].shape[:2]
        size = (SUB_MAX_WIDTH, round(h * SUB_MAX_WIDTH / wd)) if wd > SUB_MAX_WIDTH else (wd, h)
        c0 = time.process_time()
        enc = Fmp4Encoder(size[0], size[1], fps)
        for i, f in enumerate(frames):
            enc.encode(f, i / fps)
        enc.close()
        enc_s += time.process_time() - c0
    per = (n / fps) * len(cfg.cameras)
    return dec / per, enc_s / per


def _live_cfg(work: Path, cameras: int) -> Any:
    from oversight.config.schema import SiteConfig

    def cam(i: int) -> dict[str, Any]:
        w, h = (1280, 720) if i == 0 else (640, 360)
        return {
            "id": f"c{i:02d}",
            "purpose": "live video benchmark",
            "streams": {"record": "none.mp4"},
            "detect": {"width": w, "height": h, "detector": "none"},
        }

    return SiteConfig.model_validate(
        {
            "site": {"name": "bench", "data_dir": str(work / "live")},
            "cameras": [cam(i) for i in range(cameras)],
        }
    )


def live(
    work: Path, cameras: int = 4, viewers: int = 3, seconds: float = 15.0, fps: float = 10.0
) -> dict[str, Any]:
    """Glass-to-glass latency, delivered fps per tile and server CPU per live camera (see module)."""
    from oversight.compose import build
    from oversight.web.server import BackgroundServer
    from oversight.web.synthetic import SyntheticRuntime

    cfg = _live_cfg(work, cameras)
    runtime = SyntheticRuntime(cfg, fps=fps, stamp=True, privacy=True)
    parts = build(
        cfg, db_url=f"sqlite:///{work / 'live.db'}", runtime=runtime, integrations=False, event_mqtt=False
    )
    db, ctx = parts.db, parts.web_context()
    token, ids = _token(db), [c.id for c in cfg.cameras]
    runtime.start()
    try:
        with BackgroundServer(ctx) as url:
            ws = url.replace("http://", "ws://")
            c0, t0 = _cpu(), time.monotonic()
            time.sleep(min(5.0, seconds / 2))
            idle = (_cpu() - c0) / (time.monotonic() - t0)
            p, q = _watch(ws, token, ids, viewers, seconds + 2.0, True)
            time.sleep(2.0)  # connect, first keyframes
            c0, t0 = _cpu(), time.monotonic()
            time.sleep(seconds)
            busy = (_cpu() - c0) / (time.monotonic() - t0)
            got = _collect(p, q, seconds + 60)
    finally:
        runtime.stop()
        db.dispose()
    floor = _floor_cores(cfg, fps, seconds)
    return _live_report(cfg, got, fps, idle, busy, floor, viewers, seconds)


def _live_report(
    cfg: Any,
    got: list[dict[str, Any]],
    fps: float,
    idle: float,
    busy: float,
    floor: tuple[float, float],
    viewers: int,
    seconds: float,
) -> dict[str, Any]:
    lat = [ms for v in got for t in v.values() for ms in t["latency_ms"]]
    tiles = {cid: [v[cid]["fps"] for v in got] for cid in (got[0] if got else {})}
    per_cam = (busy - idle) / max(1, len(cfg.cameras))
    decode, encode = floor
    live_cam = decode + per_cam  # the camera's stream is decoded at ingest whoever watches
    ratios = [f / fps for fs in tiles.values() for f in fs]
    return {
        "cameras": {c.id: f"{c.detect.width}x{c.detect.height}" for c in cfg.cameras},
        "viewers": viewers,
        "seconds": seconds,
        "source_fps": fps,
        "glass_to_glass_ms": {
            "what": "frame stamped when made -> decoded by the viewer (H.264 over the wall socket), "
            f"after each tile's first {WARMUP_S:.0f} s",
            "n": len(lat),
            "p50": _pct(lat, 0.5),
            "p99": _pct(lat, 0.99),
            "max": round(max(lat), 1) if lat else None,
            "target_p50": 500,
            "target_p99": 1000,
            "unreadable_frames": sum(t["unreadable"] for v in got for t in v.values()),
        },
        "delivered_fps_per_tile": tiles,
        "delivered_fps_ratio_to_source": {
            "min": round(min(ratios), 3) if ratios else None,
            "median": round(statistics.median(ratios), 3) if ratios else None,
            "target": 0.9,
        },
        "server_cpu_cores": {"idle_cameras": round(idle, 3), "with_viewers": round(busy, 3)},
        "cpu_per_live_camera": {
            "redact_encode_send_cores": round(per_cam, 3),
            "floor_decode_cores": round(decode, 3),
            "floor_encode_cores": round(encode, 3),
            "decode_redact_encode_send_cores": round(live_cam, 3),
            "ratio_to_floor_decode_encode": round(live_cam / (decode + encode), 2) if encode > 0 else None,
            "ratio_of_redact_encode_send_to_encode_alone": round(per_cam / encode, 2) if encode > 0 else None,
            "target_ratio": 1.5,
            "note": "measured in the server (viewers in another process); the synthetic source is not "
            "decoded there, so the floor's decode of the same stream is added to it",
        },
    }


# ------------------------------------------------------------------ soak


class _Errors(logging.Handler):
    """Counts errors logged anywhere in oversight (a dead live encode, a failed stage)."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(f"{record.name}: {record.getMessage()}"[:200])


def _soak_cfg(work: Path, clip: Path, cameras: int, model: Path | None) -> Any:
    from oversight.config.schema import SiteConfig

    redaction = {"face_model_path": str(model)} if model else {}
    cams = [
        {
            "id": f"s{i:02d}",
            "purpose": "soak benchmark",
            "streams": {"record": str(clip)},
            "loop": True,
            "realtime": True,
            "detect": {"fps": 2, "width": 320, "height": 180, "detector": "none"},
            "record": {"segment_seconds": 10, "retention_days": 1},
            "redaction": redaction,
        }
        for i in range(cameras)
    ]
    return SiteConfig.model_validate(
        {"site": {"name": "soak", "data_dir": str(work / "soak")}, "cameras": cams}
    )


def soak(
    work: Path, clip: Path, seconds: float, cameras: int = 16, viewers: int = 3, model: Path | None = None
) -> dict[str, Any]:
    """The real runtime on ``cameras`` looped clips, ``viewers`` watching all of them for ``seconds``."""
    from oversight.compose import build
    from oversight.web.server import BackgroundServer

    cfg = _soak_cfg(work, clip, cameras, model)
    errors = _Errors()
    logging.getLogger("oversight").addHandler(errors)
    opts = {"privacy_factory": "default", "retention_interval_s": 0}
    parts = build(
        cfg,
        db_url=f"sqlite:///{work / 'soak.db'}",
        runtime_options=opts,
        integrations=False,
        event_mqtt=False,
    )
    db, ctx, runtime = parts.db, parts.web_context(), parts.runtime
    token, ids = _token(db), [c.id for c in cfg.cameras]
    runtime.start()
    try:
        with BackgroundServer(ctx) as url:
            _until(lambda: all(w.online for w in runtime.workers.values()), 30)
            p, q = _watch(url.replace("http://", "ws://"), token, ids, viewers, seconds, False)
            time.sleep(min(5.0, seconds / 4))
            rss, analysed0 = [(time.monotonic(), _rss_mib())], _analysed(runtime)
            end = time.monotonic() + max(0.0, seconds - min(5.0, seconds / 4))
            while time.monotonic() < end:  # memory every few seconds: growth over the soak's second half
                time.sleep(min(5.0, max(0.0, end - time.monotonic())))
                rss.append((time.monotonic(), _rss_mib()))
            analysed1 = _analysed(runtime)
            got = _collect(p, q, seconds + 60)
            answering = _answers(url)
        feeds = ctx.extras.get("egress")
        restarts = sum(sum(w.restarts.values()) for w in runtime.workers.values())
        dead = [w.id for w in runtime.workers.values() if not w.alive()]
    finally:
        runtime.stop()
        logging.getLogger("oversight").removeHandler(errors)
        db.dispose()
    return _soak_report(
        got, seconds, viewers, ids, rss, analysed0, analysed1, errors, answering, restarts, dead, feeds
    )


def _until(cond: Any, timeout: float) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if cond():
            return True
        time.sleep(0.2)
    return False


def _analysed(runtime: Any) -> dict[str, int]:
    return {cid: int(w.status().get("frames_analyzed") or 0) for cid, w in runtime.workers.items()}


def _answers(url: str) -> bool:
    import httpx

    try:
        return httpx.get(url + "/api/auth/me", timeout=5).status_code in (200, 401)
    except httpx.HTTPError:
        return False


def _soak_report(
    got: list[dict[str, Any]], seconds: float, viewers: int, ids: list[str], rss: list[tuple[float, float]],
    a0: dict[str, int], a1: dict[str, int], errors: _Errors, answering: bool, restarts: int,
    dead: list[str], gate: Any,
) -> dict[str, Any]:  # fmt: skip
    gaps = [t["max_gap_s"] for v in got for t in v.values()]
    stalled = [
        (i, cid)
        for i, v in enumerate(got)
        for cid, t in v.items()
        if t["max_gap_s"] > GAP_STALL_S or not t["frames"]
    ]
    (t0, rss0), (t1, rss1) = rss[0], rss[-1]
    th, rssh = rss[len(rss) // 2]
    return {
        "tiles": len(ids),
        "viewers": viewers,
        "seconds": seconds,
        "crashes": {
            "errors_logged": len(errors.records),
            "first_errors": errors.records[:5],
            "camera_threads_dead": dead,
            "server_answering": answering,
            "live_encodes_restarted": getattr(gate, "feed_restarts", 0),
        },
        "stalls": {
            "tiles_with_gap_over_3s": len(stalled),
            "gaps_over_3s": sum(t["stalls"] for v in got for t in v.values()),
            "stalled_share_of_tile_time": round(
                sum(t["stalled_s"] for v in got for t in v.values())
                / max(1e-9, seconds * len(ids) * viewers),
                4,
            ),
            "worst_gap_s": max(gaps) if gaps else None,
            "watchdog_stage_restarts": restarts,
        },
        "analytics_still_running": {
            "cameras": len(a1),
            "advancing": sum(1 for c in a1 if a1[c] > a0.get(c, 0)),
            "frames_analysed_during_soak": sum(a1[c] - a0.get(c, 0) for c in a1),
        },
        "delivered_fps_per_tile_median": round(
            statistics.median([t["fps"] for v in got for t in v.values()]), 2
        )
        if got
        else None,
        "memory_mib": {
            "start": round(rss0, 1),
            "end": round(rss1, 1),
            "growth": round(rss1 - rss0, 1),
            "growth_first_half_warm_up": round(rssh - rss0, 1),  # allocator arenas, caches filling
            "growth_second_half": round(rss1 - rssh, 1),  # what a long run keeps growing by
            "growth_per_minute": round((rss1 - rss0) / max(1e-9, (t1 - t0) / 60), 2),
            "growth_per_minute_second_half": round((rss1 - rssh) / max(1e-9, (t1 - th) / 60), 2)
            if t1 > th
            else None,
        },
    }
