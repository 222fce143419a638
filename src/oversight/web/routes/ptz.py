"""Steer pan-tilt-zoom cameras over ONVIF (operators and supervisors), and find ONVIF cameras on the
network (admins). Every command is in the audit log with who sent it and where it pointed the
camera: who looked where is exactly what a city must be able to answer.

A camera is steerable when its config has ``ptz`` and an ``onvif`` URL. Its ``cameras.onvif``
client is made on first use and kept per app on the server's event loop. After each command the
camera's analytics learn whether it is at its home preset; off home they pause
(``CameraAnalytics.off_home``) unless ``ptz.pause_analytics_off_home`` is false."""

from __future__ import annotations

import asyncio
import ipaddress
from typing import Any

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field, field_validator
from starlette.concurrency import run_in_threadpool

from oversight.cameras.onvif import PtzCamera, PtzError, discover
from oversight.config.schema import CameraConfig
from oversight.i18n import N_, InvalidValue
from oversight.privacy.camera_audit import onvif_device_info
from oversight.web.audit import audit
from oversight.web.auth import Principal, get_ctx, require
from oversight.web.context import AppContext
from oversight.web.errors import http_error, service_error
from oversight.web.params import CameraId

router = APIRouter(prefix="/api/ptz", tags=["ptz"])
steer = require("ptz.control")
admin_only = require("config.manage")


class MoveIn(BaseModel):
    pan: float = Field(0.0, ge=-1, le=1, description="speed, negative: left")
    tilt: float = Field(0.0, ge=-1, le=1, description="speed, negative: down")
    zoom: float = Field(0.0, ge=-1, le=1, description="speed, negative: wide")


class PresetIn(BaseModel):
    name: str = Field(min_length=1, max_length=64, pattern=r"^[\w .-]+$")


class DiscoverIn(BaseModel):
    address: str | None = Field(
        None, pattern=r"^[0-9.]{7,15}$", description="probe one IPv4 address instead of the local network"
    )
    timeout_s: float = Field(3.0, gt=0, le=10)

    @field_validator("address")
    @classmethod
    def _ipv4(cls, v: str | None) -> str | None:
        if v is not None:
            try:
                ipaddress.IPv4Address(v)
            except ValueError:
                raise InvalidValue(
                    N_("not an IPv4 address (four numbers 0-255, e.g. 192.168.1.20)")
                ) from None
        return v


def _ptz_cam(ctx: AppContext, camera_id: str) -> CameraConfig:
    try:
        cam = ctx.cfg.camera(camera_id)
    except KeyError:
        raise http_error(404, N_("no camera '{camera_id}'"), camera_id=camera_id) from None
    if cam.ptz is None or not cam.onvif:
        raise http_error(
            409, N_("camera '{camera_id}' is not a PTZ camera (set ptz and onvif)"), camera_id=camera_id
        )
    return cam


async def _client(ctx: AppContext, cam: CameraConfig) -> PtzCamera:
    """The camera's client, made on first use; again when its config or the event loop changed."""
    clients: dict[str, tuple[Any, str, PtzCamera]] = ctx.extras.setdefault("ptz", {})
    loop, home = asyncio.get_running_loop(), cam.ptz.home_preset if cam.ptz else None
    kept = clients.get(cam.id)
    if kept is not None and kept[0] is loop and kept[1] == cam.onvif and kept[2].home_preset == home:
        return kept[2]
    try:
        client = await PtzCamera.connect(cam.id, str(cam.onvif), home)
    except PtzError as exc:
        raise service_error(exc, 502) from None
    if kept is not None:
        client.at_home = kept[2].at_home  # the camera did not move because its config changed
        if kept[0] is loop:
            await kept[2].close()
    clients[cam.id] = (loop, str(cam.onvif), client)
    return client


def _sync_analytics(ctx: AppContext, cam: CameraConfig, client: PtzCamera) -> bool:
    """Tell the camera's analytics whether the picture is the home one; True when they run."""
    worker = getattr(ctx.runtime, "workers", {}).get(cam.id) if ctx.runtime is not None else None
    analytics = getattr(worker, "analytics", None)
    pause = bool(cam.ptz and cam.ptz.pause_analytics_off_home) and not client.at_home
    if analytics is not None and hasattr(analytics, "off_home"):
        (analytics.off_home.set if pause else analytics.off_home.clear)()
    return not pause


# after a command, the preset the camera is at: off every preset while moving ("" matches none)
PLACES: dict[str, Any] = {
    "ptz.move": lambda cam, detail: "",
    "ptz.home": lambda cam, detail: cam.ptz.home_preset if cam.ptz else None,
    "ptz.preset.goto": lambda cam, detail: detail["preset"],
}


async def _command(
    request: Request, camera_id: str, who: Principal, action: str, detail: dict[str, Any], run: Any
) -> dict[str, Any]:
    ctx = get_ctx(request)
    cam = _ptz_cam(ctx, camera_id)
    client = await _client(ctx, cam)
    try:
        result = await run(client)
    except PtzError as exc:
        raise service_error(exc, 502) from None
    analysing = _sync_analytics(ctx, cam, client)
    if action in PLACES:  # where privacy masks are placed (privacy.masks reads the worker's preset)
        worker = getattr(ctx.runtime, "workers", {}).get(cam.id) if ctx.runtime is not None else None
        if worker is not None:
            worker.ptz_preset = PLACES[action](cam, detail)
    with ctx.db.session() as s:
        audit(s, who, action, "camera", camera_id, detail={**detail, "at_home": client.at_home})
    return {"at_home": client.at_home, "analytics": "running" if analysing else "paused", "result": result}


@router.get("/{camera_id}")
async def ptz_state(camera_id: CameraId, request: Request, who: Principal = Depends(steer)) -> dict[str, Any]:
    """Presets, whether the camera is at home, and where it reports it points (when it says)."""
    ctx = get_ctx(request)
    cam = _ptz_cam(ctx, camera_id)
    client = await _client(ctx, cam)
    try:
        presets = await client.presets()
    except PtzError as exc:
        raise service_error(exc, 502) from None
    return {
        "presets": presets,
        "home_preset": client.home_preset,
        "at_home": client.at_home,
        "position": await client.position(),
    }


@router.post("/{camera_id}/move")
async def ptz_move(
    camera_id: CameraId, body: MoveIn, request: Request, who: Principal = Depends(steer)
) -> dict[str, Any]:
    """Continuous move at the given speeds until ``stop`` (keyboard, buttons or a joystick)."""
    return await _command(
        request,
        camera_id,
        who,
        "ptz.move",
        body.model_dump(),
        lambda c: c.move(body.pan, body.tilt, body.zoom),
    )


@router.post("/{camera_id}/stop")
async def ptz_stop(camera_id: CameraId, request: Request, who: Principal = Depends(steer)) -> dict[str, Any]:
    return await _command(request, camera_id, who, "ptz.stop", {}, lambda c: c.stop())


@router.post("/{camera_id}/home")
async def ptz_home(camera_id: CameraId, request: Request, who: Principal = Depends(steer)) -> dict[str, Any]:
    return await _command(request, camera_id, who, "ptz.home", {}, lambda c: c.home())


@router.post("/{camera_id}/presets/{token}/goto")
async def ptz_goto(
    camera_id: CameraId, token: str, request: Request, who: Principal = Depends(steer)
) -> dict[str, Any]:
    if not 0 < len(token) <= 64:
        raise http_error(422, N_("a preset token has 1 to 64 characters"))
    return await _command(
        request, camera_id, who, "ptz.preset.goto", {"preset": token}, lambda c: c.goto_preset(token)
    )


@router.post("/{camera_id}/presets")
async def ptz_save_preset(
    camera_id: CameraId, body: PresetIn, request: Request, who: Principal = Depends(steer)
) -> dict[str, Any]:
    """Save where the camera points now as a preset of the camera's own."""
    return await _command(
        request, camera_id, who, "ptz.preset.save", {"name": body.name}, lambda c: c.save_preset(body.name)
    )


@router.post("/discover")
async def ptz_discover(
    body: DiscoverIn, request: Request, who: Principal = Depends(admin_only)
) -> list[dict[str, Any]]:
    """ONVIF cameras answering WS-Discovery, with their device information where they give it
    (the same answer the camera security check reads)."""
    try:
        found = await run_in_threadpool(discover, body.timeout_s, body.address)
    except PtzError as exc:
        raise service_error(exc, 502) from None
    out = []
    for d in found[:64]:
        try:
            info: dict[str, str] = await run_in_threadpool(onvif_device_info, d.address, 2.0)
        except (OSError, ValueError) as exc:
            info = {"error": f"no device information: {exc}"}
        out.append({"address": d.address, "scopes": d.scopes, "types": d.types, "device": info})
    ctx = get_ctx(request)
    with ctx.db.session() as s:
        audit(s, who, "ptz.discover", "network", body.address or "multicast", detail={"found": len(out)})
    return out
