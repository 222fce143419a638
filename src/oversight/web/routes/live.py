"""The WebSocket that pushes alerts and status to the UI, and the Prometheus /metrics endpoint."""

from __future__ import annotations

import asyncio
import contextlib
import json
import struct
import time
from collections.abc import Awaitable, Callable, Coroutine, Iterator
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from fastapi import APIRouter, Depends, HTTPException, Request, WebSocket, WebSocketDisconnect
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.core import CollectorRegistry, GaugeMetricFamily
from sqlalchemy import func, select

from oversight import i18n
from oversight.events.alerts import localized
from oversight.events.bus import Message
from oversight.i18n import Translator
from oversight.permissions import ALL_CAMERAS, CameraScope, roles_for
from oversight.privacy.egress import LiveSession, egress
from oversight.privacy.live_feed import Subscription
from oversight.store.models import Segment
from oversight.web.auth import ALERT_ROLES, ALL_ROLES, Principal, get_ctx, require, resolve_principal
from oversight.web.context import AppContext
from oversight.web.revocation import CHECK_S, StreamGuard
from oversight.web.routes.i18n import stored_preference

router = APIRouter(tags=["live"])
WS_ROLES = roles_for("events.stream")
# Which roles receive which topics. Viewers get camera status and bare alert markers only.
TOPIC_ROLES: dict[str, tuple[str, ...]] = {
    "event": ALL_ROLES,
    "alert.ack": ALL_ROLES,
    "alert": ALERT_ROLES,  # the alert queue (oversight.events.alerts): open, update, end, escalate, ack
    "camera.status": ALL_ROLES,
    "camera.health": ALL_ROLES,  # watchdog: a stage stalled / recovered
    # the same roles that may read incidents and units through the API
    "incident": ("operator", "supervisor", "admin", "auditor"),
    "unit": ("operator", "supervisor", "admin", "auditor"),
}
VIEWER_EVENT_KEYS = ("id", "camera_id", "phase", "start", "end")


def _default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)


def ws_payload(
    msg: Message, role: str, scope: CameraScope = ALL_CAMERAS, tr: Translator | None = None
) -> str | None:
    """The JSON a client of ``role`` seeing the cameras of ``scope`` receives for a bus message, or
    None when it gets nothing (a message about a camera outside the scope is never sent)."""
    topic = next((t for t in TOPIC_ROLES if msg.topic == t or msg.topic.startswith(t + ".")), None)
    if topic is None or role not in TOPIC_ROLES[topic]:
        return None
    data = dict(msg.data)
    if not scope.allows(_camera_of(topic, data)):
        return None
    if topic == "event":
        snap = data.pop("snapshot", None) or data.pop("snapshot_path", None) or data.pop("snapshot_url", None)
        if role not in ALERT_ROLES:
            data = {k: data.get(k) for k in VIEWER_EVENT_KEYS}
        elif snap and data.get("id") is not None:
            data["thumbnail"] = f"/api/events/{data['id']}/thumbnail.jpg"
    if topic == "alert" and tr is not None:
        data = localized(data, tr)  # the title in the reader's language
    return json.dumps({"topic": msg.topic, "data": data, "sent": time.time()}, default=_default)


def _camera_of(topic: str, data: dict[str, Any]) -> str | None:
    """The camera a bus message is about (``events.topics`` payloads), None for a server-wide one."""
    if topic == "camera.status":
        found = data.get("id")
    elif topic == "incident":
        found = (data.get("incident") or {}).get("camera_id")
    else:
        found = data.get("camera_id")
    return str(found) if found is not None else None


def _same_origin(ws: WebSocket) -> bool:
    origin = ws.headers.get("origin")
    if not origin:
        return True  # not a browser (integrations authenticate with a token)
    return urlsplit(origin).netloc == ws.headers.get("host", "")


async def _authorised(ws: WebSocket, roles: tuple[str, ...]) -> Principal | None:
    """The WebSocket's principal when it may connect; otherwise closes it (4401 anonymous,
    4403 wrong role or a foreign page's origin) and returns None."""
    ctx: AppContext = ws.app.state.ctx
    try:
        who = resolve_principal(ctx, ws, "GET")
    except HTTPException:
        who = None
    if who is None:
        await ws.close(code=4401)
        return None
    if not _same_origin(ws) or who.role not in roles:
        await ws.close(code=4403)
        return None
    return who


@router.websocket("/api/ws")
async def websocket(ws: WebSocket) -> None:
    """Push bus messages ("event", "alert.ack", "camera.status", "incident", "unit") as JSON."""
    ctx: AppContext = ws.app.state.ctx
    who = await _authorised(ws, WS_ROLES)
    if who is None:
        return
    await ws.accept()
    tr = Translator(i18n.negotiate(ws.headers.get("accept-language"), stored_preference(ws, who.user_id)))
    loop = asyncio.get_running_loop()
    queue, unsubscribe = ctx.bus.subscribe_async("", loop, maxsize=2000)
    stats = ctx.extras.setdefault("stats", {"mjpeg_viewers": 0, "mjpeg_frames": 0})
    stats["ws_clients"] = stats.get("ws_clients", 0) + 1
    await ws.send_text(json.dumps({"topic": "hello", "data": {"username": who.username, "role": who.role}}))

    guard = StreamGuard(ctx, ws, who, WS_ROLES)

    async def pump() -> None:
        last_ping = time.monotonic()
        while True:
            try:
                msg = await asyncio.wait_for(queue.get(), timeout=CHECK_S)
            except TimeoutError:
                msg = None
            if not await guard.allowed():  # logout-everywhere, disabling, role change: within ~1 s
                await ws.close(code=4401)
                return
            if msg is None and time.monotonic() - last_ping >= 15:
                last_ping = time.monotonic()
                await ws.send_text('{"topic":"ping","data":{}}')
            if msg is not None:
                text = ws_payload(msg, who.role, who.scope, tr)
                if text is not None:
                    await ws.send_text(text)

    async def drain() -> None:
        while True:
            await ws.receive_text()

    tasks = [asyncio.create_task(pump()), asyncio.create_task(drain())]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    except WebSocketDisconnect:
        pass
    finally:
        for t in tasks:
            t.cancel()
        for t in tasks:
            with contextlib.suppress(BaseException):
                await t
        unsubscribe()
        stats["ws_clients"] -= 1


websocket.roles = WS_ROLES  # type: ignore[attr-defined]  # read by the route-role matrix test


class RuntimeCollector:
    """Reads whatever numbers the runtime's camera workers expose; missing pieces are skipped."""

    def __init__(self, ctx: AppContext):
        self.ctx = ctx
        self._bytes: tuple[float, dict[str, int]] = (0.0, {})

    def _recording_bytes(self) -> dict[str, int]:
        at, cached = self._bytes
        if time.monotonic() - at < 15:
            return cached
        with self.ctx.db.session() as s:
            rows = s.execute(
                select(Segment.camera_id, func.sum(Segment.bytes)).group_by(Segment.camera_id)
            ).all()
        found = {cid: int(n or 0) for cid, n in rows}
        self._bytes = (time.monotonic(), found)
        return found

    def collect(self) -> Iterator[GaugeMetricFamily]:
        ctx = self.ctx
        up = GaugeMetricFamily(
            "oversight_camera_online", "1 when the camera delivers frames", labels=["camera"]
        )
        numeric: dict[str, GaugeMetricFamily] = {}
        info = GaugeMetricFamily(
            "oversight_camera_model_info",
            "1 per model a camera runs; source: config, package (oversight-models) or builtin (fallback)",
            labels=["camera", "stage", "model", "source"],
        )
        for cam in list(ctx.cfg.cameras):
            worker = ctx.worker(cam.id)
            try:
                st = dict(worker.status()) if worker is not None else {}
            except Exception:
                st = {}
            up.add_metric([cam.id], 1.0 if st.get("online") else 0.0)
            for key, value in st.items():
                if key == "online" or isinstance(value, bool) or not isinstance(value, (int, float)):
                    continue
                name = "oversight_camera_" + "".join(ch if ch.isalnum() else "_" for ch in str(key))
                fam = numeric.setdefault(
                    name, GaugeMetricFamily(name, f"camera status '{key}'", labels=["camera"])
                )
                fam.add_metric([cam.id], float(value))
            for stage, model, source in _models(st):
                info.add_metric([cam.id, stage, model, source], 1.0)
        yield up
        yield from numeric.values()
        yield info
        rec = GaugeMetricFamily(
            "oversight_recording_bytes", "bytes of recorded segments on storage", labels=["camera"]
        )
        with contextlib.suppress(Exception):
            for cid, n in self._recording_bytes().items():
                rec.add_metric([cid], float(n))
        yield rec
        runtime_metrics = getattr(ctx.runtime, "metrics", None)
        if callable(runtime_metrics):  # optional: {name: {camera_or_queue: value}} from the runtime
            with contextlib.suppress(Exception):
                for name, series in dict(runtime_metrics()).items():
                    fam = GaugeMetricFamily(f"oversight_{name}", f"runtime metric {name}", labels=["key"])
                    for k, v in dict(series).items():
                        fam.add_metric([str(k)], float(v))
                    yield fam
        stats = ctx.extras.get("stats", {})
        for key in ("mjpeg_viewers", "ws_clients", "wall_viewers"):
            g = GaugeMetricFamily(f"oversight_web_{key}", f"open {key.replace('_', ' ')}")
            g.add_metric([], float(stats.get(key, 0)))
            yield g


def _models(st: dict) -> list[tuple[str, str, str]]:
    """(stage, model, source) of the detector and the face detector in a camera's status."""
    out = []
    for stage, kind, model, source in (
        ("detector", "detector", "detector_model", "detector_source"),
        ("faces", "face_detector", "face_model", "face_model_source"),
    ):
        if st.get(kind) not in (None, "none", "off"):
            out.append((stage, str(st.get(model) or st[kind]), str(st.get(source) or "builtin")))
    return out


def _registry(ctx: AppContext) -> CollectorRegistry:
    reg = ctx.extras.get("metrics_registry")
    if reg is None:
        reg = CollectorRegistry()
        reg.register(RuntimeCollector(ctx))
        ctx.extras["metrics_registry"] = reg
    assert isinstance(reg, CollectorRegistry)
    return reg


@router.get("/metrics", response_class=Response, responses={200: {"content": {"text/plain": {}}}})
def metrics(request: Request, who: Principal = Depends(require("metrics.read"))) -> Response:
    """Prometheus metrics (scrape with an API token: ``authorization: {credentials: ...}``); the
    series of cameras outside the caller's scope are left out."""
    ctx = get_ctx(request)
    text = generate_latest(_registry(ctx))
    hidden = [c.id for c in ctx.cfg.cameras if not who.sees(c.id)]
    if hidden:
        labels = tuple(f'{k}="{cid}"'.encode() for cid in hidden for k in ("camera", "key"))
        text = b"\n".join(line for line in text.split(b"\n") if not any(x in line for x in labels))
    return Response(text, media_type=CONTENT_TYPE_LATEST)


@router.websocket("/api/live.ws")
async def live_wall(ws: WebSocket) -> None:
    """Live video for many tiles over one socket (browsers allow only ~6 HTTP streams per host).

    Query ``ids=a,b,c``, optional ``fps`` and ``purpose``. Each binary message is: one byte N, N bytes
    of camera id (UTF-8), the frame's time (float64 seconds since the epoch, big-endian; NaN when
    unknown), one state byte (0 live, 1 stalled, 2 offline), then the JPEG (a message card when not
    live). Frames come from the egress gate's live session: one audit entry for the session's
    cameras, start and end.
    """
    ctx: AppContext = ws.app.state.ctx
    who = await _authorised(ws, LIVE_WALL_ROLES)
    if who is None:
        return
    known = {c.id for c in ctx.cfg.cameras if who.sees(c.id)}  # others are skipped, like unknown ids
    ids = [i for i in ws.query_params.get("ids", "").split(",") if i in known][:64]
    try:
        fps = min(25.0, max(1.0, float(ws.query_params.get("fps", "10"))))
    except ValueError:
        fps = 10.0
    await ws.accept()
    purpose = (ws.query_params.get("purpose") or "").strip()[:200] or None
    session = await asyncio.to_thread(egress(ctx).open_live, who, ids, "live.wall", purpose)
    stats = ctx.extras.setdefault("stats", {"mjpeg_viewers": 0, "mjpeg_frames": 0})
    stats["wall_viewers"] = stats.get("wall_viewers", 0) + 1
    sent: dict[str, Any] = {}
    guard = StreamGuard(ctx, ws, who, LIVE_WALL_ROLES)

    async def pump() -> None:
        period = 1.0 / fps
        while True:
            t0 = time.monotonic()
            if not await guard.allowed():
                await ws.close(code=4401)
                return
            # redact + encode the cameras in parallel (OpenCV releases the GIL): uses every core
            found = await asyncio.gather(*(asyncio.to_thread(session.frame, cid) for cid in ids))
            for cid, enc in zip(ids, found, strict=True):
                if sent.get(cid) == (enc.ts, enc.state):
                    continue
                sent[cid] = (enc.ts, enc.state)
                await ws.send_bytes(wall_message(cid, enc.ts, enc.state, enc.jpeg))
            await asyncio.sleep(max(0.005, period - (time.monotonic() - t0)))

    try:
        await _until_first_ends(pump(), _drain(ws))
    finally:
        stats["wall_viewers"] -= 1
        session.close()  # not awaited: a cancelled handler must still write the end entry


@router.websocket("/api/live.h264.ws")
async def live_h264(ws: WebSocket) -> None:
    """One camera's live video as H.264 in fragmented MP4, for Media Source Extensions.

    Query ``camera`` and optional ``purpose``. Text messages are JSON: first
    ``{"type": "init", "codec": "avc1..."}``, later ``{"type": "state", "state": "live|stalled|offline"}``;
    binary messages are the init segment, then fragments (one per frame), starting at a keyframe.
    The encode is shared by every viewer who may see the same pixels; the session is audited.
    """
    ctx: AppContext = ws.app.state.ctx
    who = await _authorised(ws, LIVE_WALL_ROLES)
    if who is None:
        return
    cid = ws.query_params.get("camera", "")
    if cid not in {c.id for c in ctx.cfg.cameras} or not who.sees(cid):
        await ws.close(code=4404)
        return
    await ws.accept()
    purpose = (ws.query_params.get("purpose") or "").strip()[:200] or None
    session = await asyncio.to_thread(egress(ctx).open_live, who, [cid], "live.h264", purpose)
    sub = None
    try:
        loop = asyncio.get_running_loop()
        sub = await asyncio.to_thread(session.h264, cid, loop)
        if not await _h264_started(sub, loop):
            await ws.close(code=1011)
            return
        await ws.send_text(json.dumps({"type": "init", "codec": sub.codec, "t0": sub.t0}))
        if sub.init:
            await ws.send_bytes(sub.init)
            for frag in sub.gop:
                await ws.send_bytes(frag)
        guard = StreamGuard(ctx, ws, who, LIVE_WALL_ROLES)
        await _until_first_ends(_pump_h264(ws, sub, session), _drain(ws), _until_revoked(ws, guard))
    except WebSocketDisconnect:
        pass
    finally:
        if sub is not None:
            sub.close()
        session.close()  # not awaited: a cancelled handler must still write the end entry


@router.websocket("/api/live.wall.h264.ws")
async def live_wall_h264(ws: WebSocket) -> None:
    """The live wall in H.264: many cameras' fragmented MP4 over one socket (browsers allow few
    connections per host), for one ``<video>`` per tile through Media Source Extensions.

    Query ``ids=a,b,c``, optional ``main=a`` (cameras that start on the main stream) and
    ``purpose``. The viewer switches a camera's stream by sending ``{"camera": id, "stream":
    "sub"|"main"}`` (small tile / large tile or fullscreen). Text messages are JSON:
    ``{"type": "init", "camera", "stream", "codec"}`` (the next binary message of that camera is its
    init segment; a new init means a new decoder) and ``{"type": "state", "camera", "state":
    "live|stalled|offline"}``. Binary messages are one byte N, N bytes of camera id (UTF-8), then the
    init segment or a fragment. One audited session (cameras, start, end, purpose), one shared
    encode per camera, stream and view key.
    """
    ctx: AppContext = ws.app.state.ctx
    who = await _authorised(ws, LIVE_WALL_ROLES)
    if who is None:
        return
    known = {c.id for c in ctx.cfg.cameras}
    ids = [i for i in ws.query_params.get("ids", "").split(",") if i in known][:64]
    main = set(ws.query_params.get("main", "").split(","))
    await ws.accept()
    purpose = (ws.query_params.get("purpose") or "").strip()[:200] or None
    session = await asyncio.to_thread(egress(ctx).open_live, who, ids, "live.wall", purpose)
    stats = ctx.extras.setdefault("stats", {"mjpeg_viewers": 0, "mjpeg_frames": 0})
    stats["wall_viewers"] = stats.get("wall_viewers", 0) + 1
    # the binary sender goes to the camera tasks: pixels leave here, from the gate's session only
    feeds = _WallFeeds(ws.send_text, ws.send_bytes, session, asyncio.get_running_loop())
    try:
        for cid in ids:
            feeds.watch(cid, "main" if cid in main else "sub")
        guard = StreamGuard(ctx, ws, who, LIVE_WALL_ROLES)
        await _until_first_ends(_wall_commands(ws, feeds), _until_revoked(ws, guard))
    except WebSocketDisconnect:
        pass
    finally:
        await feeds.stop()
        stats["wall_viewers"] -= 1
        session.close()  # not awaited: a cancelled handler must still write the end entry


live_wall_h264.roles = roles_for("footage.live")  # type: ignore[attr-defined]


async def _wall_commands(ws: WebSocket, feeds: _WallFeeds) -> None:
    """The viewer's stream choices (``{"camera", "stream"}``); anything else is ignored."""
    while True:
        text = await ws.receive_text()
        with contextlib.suppress(ValueError, TypeError, AttributeError):
            msg = json.loads(text)
            cid, stream = str(msg.get("camera", "")), str(msg.get("stream", ""))
            if cid in feeds.session.camera_ids and stream in ("sub", "main"):
                feeds.watch(cid, stream)


class _WallFeeds:
    """One task per camera of a wall socket, each following that camera's shared encode; sends
    are serialised (one message at a time on the socket)."""

    def __init__(
        self,
        send_text: Callable[[str], Awaitable[None]],
        send_bytes: Callable[[bytes], Awaitable[None]],
        session: LiveSession,
        loop: asyncio.AbstractEventLoop,
    ):
        self.send_text, self.send_bytes, self.session, self.loop = send_text, send_bytes, session, loop
        self.tasks: dict[str, tuple[str, asyncio.Task[None]]] = {}
        self._send_lock = asyncio.Lock()

    def watch(self, cid: str, stream: str) -> None:
        old = self.tasks.get(cid)
        if old is not None and old[0] == stream:
            return
        if old is not None:
            old[1].cancel()
        self.tasks[cid] = (stream, asyncio.create_task(self._camera(cid, stream)))

    async def stop(self) -> None:
        for _, t in self.tasks.values():
            t.cancel()
        for _, t in self.tasks.values():
            with contextlib.suppress(BaseException):
                await t

    async def send(self, data: bytes | str) -> None:
        async with self._send_lock:
            if isinstance(data, str):
                await self.send_text(data)
            else:
                await self.send_bytes(data)

    async def _camera(self, cid: str, stream: str) -> None:
        """Follow the camera's feed; when it ends (its pixels changed, or it was restarted), join
        the new one: the viewer gets a new init."""
        while True:
            sub = await asyncio.to_thread(self.session.h264, cid, self.loop, stream)
            try:
                await self._play(cid, sub)
            finally:
                sub.close()
            await asyncio.sleep(0.2)

    async def _play(self, cid: str, sub: Subscription) -> None:
        head = bytes([len(cid.encode())]) + cid.encode()
        if sub.state:
            await self.send(json.dumps({"type": "state", "camera": cid, "state": sub.state}))
        started = False
        if sub.ready():
            await self._init(cid, sub, head)
            started = True
            for frag in sub.gop:
                await self.send(head + frag)
        while (item := await sub.queue.get()) is not None:
            if isinstance(item, str):
                await self.send(json.dumps({"type": "state", "camera": cid, "state": item}))
                continue
            if not started:
                if not sub.ready():
                    continue
                await self._init(cid, sub, head)
                started = True
            self.session.frames += 1
            await self.send(head + item)

    async def _init(self, cid: str, sub: Subscription, head: bytes) -> None:
        msg = {"type": "init", "camera": cid, "stream": sub.stream, "codec": sub.codec, "t0": sub.t0}
        await self.send(json.dumps(msg))
        await self.send(head + sub.init)


async def _h264_started(sub: Subscription, loop: asyncio.AbstractEventLoop) -> bool:
    """Wait (up to 30 s) for the shared encode to start on a busy machine; False if it died or is late."""
    deadline = loop.time() + 30
    while not sub.ready():
        if not sub.feed.alive or loop.time() > deadline:
            return False
        await asyncio.sleep(0.05)
    return True


async def _pump_h264(ws: WebSocket, sub: Subscription, session: LiveSession) -> None:
    """Fragments and state changes to the viewer, each frame counted for the audit entry."""
    while (item := await sub.queue.get()) is not None:
        if isinstance(item, str):
            await ws.send_text(json.dumps({"type": "state", "state": item}))
        else:
            session.frames += 1
            await ws.send_bytes(item)
    await ws.close(code=1012)  # the feed ended (its pixels changed): reconnect


async def _until_revoked(ws: WebSocket, guard: StreamGuard) -> None:
    """Logout-everywhere, disabling, a role change or a revoked token ends the stream within ~1 s."""
    while await guard.allowed():
        await asyncio.sleep(CHECK_S / 2)
    await ws.close(code=4401)


async def _drain(ws: WebSocket) -> None:
    """Read (and drop) what the viewer sends, so that a disconnect is noticed."""
    while True:
        await ws.receive_text()


async def _until_first_ends(*jobs: Coroutine[Any, Any, None]) -> None:
    """Run the jobs until one ends, then cancel and reap the others (their errors are the end)."""
    tasks = [asyncio.create_task(j) for j in jobs]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for t in tasks:
            t.cancel()
        for t in tasks:
            with contextlib.suppress(BaseException):
                await t


live_h264.roles = roles_for("footage.live")  # type: ignore[attr-defined]


WALL_STATES = {"live": 0, "stalled": 1, "offline": 2}


def wall_message(camera_id: str, ts: datetime | None, state: str, jpeg: bytes) -> bytes:
    """One live-wall frame message (see ``live_wall``)."""
    head = camera_id.encode()
    when = ts.timestamp() if ts is not None else float("nan")
    return bytes([len(head)]) + head + struct.pack(">dB", when, WALL_STATES[state]) + jpeg


LIVE_WALL_ROLES = roles_for("footage.live")
live_wall.roles = LIVE_WALL_ROLES  # type: ignore[attr-defined]
