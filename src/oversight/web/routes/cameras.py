"""Cameras: list and status, live MJPEG and snapshots, the recordings timeline and playback.

Every pixel goes out through the egress gate (``oversight.privacy.egress``), which audits it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import FileResponse, Response, StreamingResponse
from pydantic import BaseModel
from sqlalchemy import func, select
from starlette.concurrency import run_in_threadpool

from oversight.config.schema import CameraConfig
from oversight.events.models import Alert
from oversight.i18n import N_
from oversight.permissions import roles_for
from oversight.privacy.egress import egress
from oversight.recording.timeline import timeline
from oversight.store.base import utcnow
from oversight.store.models import Segment
from oversight.web.auth import Principal, get_ctx, require
from oversight.web.context import AppContext
from oversight.web.errors import http_error
from oversight.web.params import CameraId, DbId, as_utc
from oversight.web.revocation import StreamGuard

router = APIRouter(prefix="/api", tags=["cameras"])
BOUNDARY = "ovframe"


class Location(BaseModel):
    lat: float | None = None
    lon: float | None = None
    x: float | None = None
    y: float | None = None
    address: str | None = None


class CameraOut(BaseModel):
    id: str
    name: str
    purpose: str
    enabled: bool
    online: bool
    status: dict[str, Any]
    location: Location | None
    field_of_view: dict[str, Any] | None = None  # direction_deg, angle_deg, range_m: the map's cone
    active_alerts: int
    detect_width: int
    detect_height: int
    record_mode: str = "continuous"  # or "events": operators may then "record this now"
    groups: list[str] = []  # names of the camera groups (districts, sites) it belongs to
    ptz: bool = False  # steerable (PTZ over ONVIF): the camera page shows its controls


class SiteOut(BaseModel):
    name: str
    timezone: str
    controller: str
    has_site_plan: bool
    alarm_sounds: dict[str, str] = {}  # priority -> sound name, for the alert cue
    repeat_sound_s: float = 10.0  # an unacknowledged alert sounds again this often


class Span(BaseModel):
    start: datetime
    end: datetime


class GapOut(BaseModel):
    start: datetime
    end: datetime | None
    reason: str


class TimelineEvent(BaseModel):
    id: int
    start: datetime
    end: datetime | None
    label: str
    rule_id: str | None


class SegmentOut(BaseModel):
    id: int
    start: datetime
    end: datetime
    bytes: int
    has_event: bool
    url: str


class Recordings(BaseModel):
    camera_id: str
    start: datetime
    end: datetime
    spans: list[Span]
    gaps: list[GapOut]
    events: list[TimelineEvent]
    segments: list[SegmentOut]
    truncated: bool


def _camera(ctx: AppContext, camera_id: str) -> CameraConfig:
    try:
        return ctx.cfg.camera(camera_id)
    except KeyError:
        raise http_error(404, N_("no camera '{camera_id}'"), camera_id=camera_id) from None


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return str(value)


def camera_status(ctx: AppContext, cam: CameraConfig) -> dict[str, Any]:
    worker = ctx.worker(cam.id)
    if worker is None:
        return {"id": cam.id, "online": False, "error": "not running" if cam.enabled else "disabled"}
    try:
        return {str(k): _jsonable(v) for k, v in dict(worker.status()).items()}
    except Exception as exc:  # a broken worker must not break the camera list
        return {"id": cam.id, "online": False, "error": f"status unavailable: {type(exc).__name__}"}


def active_alerts(ctx: AppContext) -> dict[str, int]:
    """Unacknowledged alerts per camera (events are not alerts)."""
    with ctx.db.session() as s:
        q = (
            select(Alert.camera_id, func.count())
            .where(Alert.acknowledged_at.is_(None))
            .group_by(Alert.camera_id)
        )
        return {str(cid): int(n) for cid, n in s.execute(q).all() if cid is not None}


def _camera_out(ctx: AppContext, cam: CameraConfig, alerts: dict[str, int]) -> CameraOut:
    st = camera_status(ctx, cam)
    loc = Location(**cam.location.model_dump()) if cam.location else None
    return CameraOut(
        id=cam.id,
        name=cam.display_name,
        purpose=cam.purpose,
        enabled=cam.enabled,
        online=bool(st.get("online")),
        status=st,
        location=loc,
        field_of_view=cam.field_of_view.model_dump() if cam.field_of_view else None,
        active_alerts=alerts.get(cam.id, 0),
        detect_width=cam.detect.width,
        detect_height=cam.detect.height,
        record_mode=cam.record.mode,
        groups=[g.name or g.id for g in ctx.cfg.camera_groups if cam.id in g.cameras],
        ptz=cam.ptz is not None and bool(cam.onvif),
    )


@router.get("/site", response_model=SiteOut)
def site(request: Request, who: Principal = Depends(require("site.view"))) -> SiteOut:
    cfg = get_ctx(request).cfg
    s = cfg.site
    return SiteOut(
        name=s.name,
        timezone=s.timezone,
        controller=s.controller,
        has_site_plan=bool(s.site_plan),
        alarm_sounds=dict(cfg.alarms.sounds),
        repeat_sound_s=cfg.alarms.repeat_sound_s,
    )


@router.get("/site/plan")
def site_plan(request: Request, who: Principal = Depends(require("site.view"))) -> FileResponse:
    """The site plan image the map page draws cameras on."""
    plan = get_ctx(request).cfg.site.site_plan
    if not plan or not Path(plan).is_file():
        raise http_error(404, N_("no site plan configured"))
    return FileResponse(plan)


@router.get("/cameras", response_model=list[CameraOut])
def list_cameras(request: Request, who: Principal = Depends(require("site.view"))) -> list[CameraOut]:
    ctx = get_ctx(request)
    alerts = active_alerts(ctx)
    return [_camera_out(ctx, cam, alerts) for cam in list(ctx.cfg.cameras) if who.sees(cam.id)]


@router.get("/cameras/{camera_id}", response_model=CameraOut)
def get_camera(
    camera_id: CameraId, request: Request, who: Principal = Depends(require("site.view"))
) -> CameraOut:
    ctx = get_ctx(request)
    return _camera_out(ctx, _camera(ctx, camera_id), active_alerts(ctx))


def _part(jpeg: bytes) -> bytes:
    head = f"--{BOUNDARY}\r\nContent-Type: image/jpeg\r\nContent-Length: {len(jpeg)}\r\n\r\n".encode()
    return head + jpeg + b"\r\n"


@router.get(
    "/cameras/{camera_id}/live.mjpeg",
    response_class=StreamingResponse,
    responses={200: {"content": {f"multipart/x-mixed-replace; boundary={BOUNDARY}": {}}}},
)
async def live(
    camera_id: CameraId,
    request: Request,
    fps: float = Query(10.0, ge=1, le=25),
    who: Principal = Depends(require("footage.live")),
) -> StreamingResponse:
    """Live video as multipart MJPEG (an <img> plays it). Redacted per frame; the viewing session
    is audited when it opens and when the client goes away."""
    ctx = get_ctx(request)
    _camera(ctx, camera_id)
    session = await run_in_threadpool(egress(ctx).open_live, who, [camera_id], "live.mjpeg")
    period = 1.0 / fps
    stats = ctx.extras.setdefault("stats", {"mjpeg_viewers": 0, "mjpeg_frames": 0})

    guard = StreamGuard(ctx, request, who, roles_for("footage.live"))

    async def stream() -> AsyncIterator[bytes]:
        stats["mjpeg_viewers"] += 1
        last: Any = object()
        last_sent = 0.0
        try:
            while await guard.allowed():  # revocation ends the stream within ~1 s
                t0 = time.monotonic()
                enc = await run_in_threadpool(session.frame, camera_id)
                if (enc.ts, enc.state) != last or t0 - last_sent >= 1.0 and enc.state != "live":
                    last, last_sent = (enc.ts, enc.state), t0
                    stats["mjpeg_frames"] += 1
                    yield _part(enc.jpeg)
                await asyncio.sleep(max(0.005, period - (time.monotonic() - t0)))
        finally:
            stats["mjpeg_viewers"] -= 1
            session.close()  # not awaited: a closed stream must still write the end entry

    return StreamingResponse(
        stream(),
        media_type=f"multipart/x-mixed-replace; boundary={BOUNDARY}",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )


@router.get(
    "/cameras/{camera_id}/snapshot.jpg",
    response_class=Response,
    responses={200: {"content": {"image/jpeg": {}}}},
)
def snapshot(
    camera_id: CameraId, request: Request, who: Principal = Depends(require("footage.live"))
) -> Response:
    """The newest live frame, redacted (503 when the camera is offline or stalled)."""
    ctx = get_ctx(request)
    _camera(ctx, camera_id)
    enc = egress(ctx).still(who, camera_id)
    if enc.state != "live":
        raise http_error(503, N_("no picture from this camera ({state})"), state=enc.state)
    headers = {"X-Frame-Time": enc.ts.isoformat()} if enc.ts else {}
    return Response(enc.jpeg, media_type="image/jpeg", headers=headers)


def _spans(segments: list[Segment], tolerance: float = 1.5) -> list[Span]:
    spans: list[Span] = []
    for seg in segments:
        if spans and (seg.start - spans[-1].end).total_seconds() <= tolerance:
            spans[-1].end = max(spans[-1].end, seg.end)
        else:
            spans.append(Span(start=seg.start, end=seg.end))
    return spans


@router.get("/cameras/{camera_id}/recordings", response_model=Recordings)
def recordings(
    camera_id: CameraId,
    request: Request,
    start: datetime | None = None,
    end: datetime | None = None,
    who: Principal = Depends(require("footage.view")),
) -> Recordings:
    """Recorded spans, gaps and events of a camera in [start, end] (default: the last 24 h)."""
    ctx = get_ctx(request)
    _camera(ctx, camera_id)
    end_ = as_utc(end, "end") or utcnow()
    start_ = as_utc(start, "start") or end_ - timedelta(hours=24)
    if start_ >= end_:
        raise http_error(422, N_("start must be before end"))
    with ctx.db.session() as s:
        found = timeline(s, camera_id, start_, end_)
    segs, gaps, evs = found.segments, found.gaps, found.events
    return Recordings(
        camera_id=camera_id,
        start=start_,
        end=end_,
        spans=_spans(segs),
        truncated=found.truncated,
        gaps=[GapOut(start=g.start, end=g.end, reason=g.reason) for g in gaps],
        events=[
            TimelineEvent(id=e.id, start=e.start, end=e.end, label=e.label, rule_id=e.rule_id) for e in evs
        ],
        segments=[
            SegmentOut(
                id=g.id,
                start=g.start,
                end=g.end,
                bytes=g.bytes,
                has_event=g.has_event,
                url=f"/api/segments/{g.id}/video.mp4",
            )
            for g in segs[-500:]
        ],
    )


@router.get(
    "/cameras/{camera_id}/playback.mjpeg",
    response_class=StreamingResponse,
    responses={200: {"content": {f"multipart/x-mixed-replace; boundary={BOUNDARY}": {}}}},
)
async def playback(
    camera_id: CameraId,
    request: Request,
    start: datetime,
    speed: float = Query(1.0, ge=0.25, le=8),
    who: Principal = Depends(require("footage.view")),
) -> StreamingResponse:
    """Recorded video from ``start`` onwards as MJPEG at ``speed``, redacted per frame."""
    ctx = get_ctx(request)
    cam = _camera(ctx, camera_id)
    t0 = as_utc(start, "start")
    assert t0 is not None
    gate = egress(ctx)
    it = gate.playback(who, camera_id, t0, (cam.detect.width, cam.detect.height))

    def next_jpeg() -> tuple[bytes, datetime] | None:
        return next(it, None)

    guard = StreamGuard(ctx, request, who, roles_for("footage.view"))

    async def stream() -> AsyncIterator[bytes]:
        wall0 = time.monotonic()
        first: datetime | None = None
        sent = 0
        while await guard.allowed():
            got = await run_in_threadpool(next_jpeg)
            if got is None:
                break
            jpeg, ts = got
            first = first or ts
            due = wall0 + (ts - first).total_seconds() / speed
            await asyncio.sleep(max(0.0, due - time.monotonic()))
            sent += 1
            yield _part(jpeg)
        yield _part(gate.card("end of recording" if sent else "no recording here"))

    return StreamingResponse(
        stream(),
        media_type=f"multipart/x-mixed-replace; boundary={BOUNDARY}",
        headers={"Cache-Control": "no-store"},
    )


@router.get(
    "/segments/{segment_id}/video.mp4",
    response_class=FileResponse,
    responses={200: {"content": {"video/mp4": {}}}},
)
def segment_video(
    segment_id: DbId, request: Request, who: Principal = Depends(require("footage.view"))
) -> FileResponse:
    """One recorded segment as a redacted MP4 (supports HTTP Range)."""
    ctx = get_ctx(request)
    try:
        path, name = egress(ctx).segment(who, segment_id)
    except LookupError:
        raise http_error(404, N_("no such segment")) from None
    except FileNotFoundError:
        raise http_error(410, N_("the segment file is gone (retention)")) from None
    return FileResponse(path, media_type="video/mp4", filename=name)
