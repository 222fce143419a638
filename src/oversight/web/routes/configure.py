"""Add and edit cameras from the UI. Validated exactly like ``oversight check-config`` (the same
pydantic model and ``camera_issues``), applied with ``runtime.apply_camera`` so the other cameras
keep running, and written back to the config file when the site was loaded from one.

Weakening a camera's redaction or changing its retention answers 202 with a pending change that
takes effect only when another admin or an auditor approves it (``oversight.web.duties``); every
applied change is audited with the before and after values of what changed."""

from __future__ import annotations

import os
from typing import Any

from fastapi import APIRouter, Body, Depends, HTTPException, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ValidationError
from starlette.concurrency import run_in_threadpool

from oversight.config.loader import ConfigError, _fmt_path, _pydantic_message, camera_issues, parse_config
from oversight.config.roundtrip import render_preserving
from oversight.config.schema import CameraConfig, SiteConfig
from oversight.i18n import N_
from oversight.privacy.egress import egress
from oversight.web import duties
from oversight.web.audit import audit
from oversight.web.auth import Principal, get_ctx, require
from oversight.web.context import AppContext
from oversight.web.errors import http_error
from oversight.web.params import CameraId

router = APIRouter(prefix="/api/config", tags=["configure"])
admin_only = require("config.manage")


class Issue(BaseModel):
    path: str
    message: str


class ConfigResult(BaseModel):
    camera: dict[str, Any]
    applied: bool
    saved: bool
    apply_error: str | None = None


def validate_camera(data: Any) -> tuple[CameraConfig | None, list[Issue]]:
    """The camera model plus the semantic checks of check-config; issues when invalid."""
    if not isinstance(data, dict):
        return None, [Issue(path="", message="the camera must be a JSON object")]
    try:
        cam = CameraConfig.model_validate(data)
    except ValidationError as exc:
        return None, [
            Issue(path=_fmt_path(tuple(e["loc"])), message=_pydantic_message(dict(e))) for e in exc.errors()
        ]
    issues = [Issue(path=_fmt_path(loc), message=msg) for loc, msg in camera_issues(cam)]
    return (None, issues) if issues else (cam, [])


def _invalid(issues: list[Issue]) -> JSONResponse:
    return JSONResponse(
        {"detail": "invalid camera configuration", "issues": [i.model_dump() for i in issues]},
        status_code=422,
    )


def save_config(ctx: AppContext, cfg: SiteConfig) -> bool:
    """Write the site config back (atomically, keeping a .bak) with the file's comments and layout;
    re-parse the result first to be sure it loads."""
    if ctx.config_path is None:
        return False
    path = ctx.config_path
    try:
        original: str | None = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        original = None
    text = render_preserving(original, cfg, str(path))
    parse_config(text, str(path))  # raises ConfigError rather than write a broken file
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    if path.exists():
        os.replace(path, path.with_name(path.name + ".bak"))
    os.replace(tmp, path)
    return True


def _apply(ctx: AppContext, cam: CameraConfig) -> str | None:
    apply = getattr(ctx.runtime, "apply_camera", None)
    if apply is None:
        return None if ctx.runtime is None else "the runtime cannot apply cameras"
    try:
        apply(cam)
    except Exception as exc:  # reported to the admin; the config change itself stands
        return f"{type(exc).__name__}: {exc}"
    return None


def _changed(old: CameraConfig | None, new: CameraConfig) -> dict[str, Any]:
    """Top-level settings that differ, with before and after values (for the audit log)."""
    before = old.model_dump(mode="json") if old else {}
    after = new.model_dump(mode="json")
    return {k: {"before": before.get(k), "after": v} for k, v in after.items() if before.get(k) != v}


def _current(ctx: AppContext, camera_id: str) -> CameraConfig | None:
    try:
        return ctx.cfg.camera(camera_id)
    except KeyError:
        return None


def _needs_second_person(ctx: AppContext, cam: CameraConfig, who: Principal) -> JSONResponse | None:
    """Weakened redaction or changed retention waits for another admin (``oversight.web.duties``)."""
    old = _current(ctx, cam.id)
    reasons = duties.camera_reasons(old, cam)
    if not reasons:
        return None
    keys = ("redaction", "record")
    before = {k: getattr(old, k).model_dump(mode="json") for k in keys} if old else {}
    after = {k: getattr(cam, k).model_dump(mode="json") for k in keys}
    with ctx.db.session() as s:
        change = duties.propose(
            s, who, "camera", cam.id, reasons, before, after, {"camera": cam.model_dump(mode="json")}
        )
        return JSONResponse(duties.pending_answer(change), status_code=202)


@duties.applier("camera")
async def _apply_approved(ctx: AppContext, change: Any, who: Principal) -> dict[str, Any]:
    cam, issues = validate_camera(change.payload["camera"])
    if cam is None:
        raise ValueError("; ".join(f"{i.path}: {i.message}" for i in issues))
    action = "config.camera.update" if _current(ctx, cam.id) else "config.camera.add"
    return (await _store(ctx, cam, who, action)).model_dump()


def _save_camera(ctx: AppContext, cam: CameraConfig) -> bool:
    """Put ``cam`` into the site config and the file (off the event loop: a large file takes seconds)."""
    with ctx.lock:
        cameras = [c for c in ctx.cfg.cameras if c.id != cam.id]
        index = next((i for i, c in enumerate(ctx.cfg.cameras) if c.id == cam.id), len(cameras))
        cameras.insert(index, cam)
        new_cfg = ctx.cfg.model_copy(update={"cameras": cameras})
        try:
            saved = save_config(ctx, new_cfg)
        except ConfigError as exc:
            return_issues = [Issue(path=i.path, message=i.message) for i in exc.issues]
            raise HTTPException(
                422,
                {
                    "message": N_("invalid site configuration"),
                    "issues": [i.model_dump() for i in return_issues],
                },
            ) from None
        ctx.cfg.cameras[:] = cameras
    return saved


async def _store(ctx: AppContext, cam: CameraConfig, who: Principal, action: str) -> ConfigResult:
    changed = _changed(_current(ctx, cam.id), cam)
    saved = await run_in_threadpool(_save_camera, ctx, cam)
    error = await run_in_threadpool(_apply, ctx, cam)
    with ctx.db.session() as s:
        detail = {"applied": error is None, "saved": saved, "changed": changed}
        audit(s, who, action, "camera", cam.id, detail=detail)
    ctx.bus.publish("config.camera", {"id": cam.id, "action": action})
    return ConfigResult(
        camera=cam.model_dump(mode="json"),
        applied=ctx.runtime is not None and error is None,
        saved=saved,
        apply_error=error,
    )


CAMERA_BODY = Body(
    ..., examples=[{"id": "gate", "purpose": "entrance safety", "streams": {"record": "rtsp://..."}}]
)


@router.get("/cameras", response_model=list[dict[str, Any]])
def list_camera_configs(request: Request, who: Principal = Depends(admin_only)) -> list[dict[str, Any]]:
    return [c.model_dump(mode="json") for c in get_ctx(request).cfg.cameras]


@router.get("/cameras/{camera_id}", response_model=dict[str, Any])
def get_camera_config(
    camera_id: CameraId, request: Request, who: Principal = Depends(admin_only)
) -> dict[str, Any]:
    try:
        return get_ctx(request).cfg.camera(camera_id).model_dump(mode="json")
    except KeyError:
        raise http_error(404, N_("no camera '{camera_id}'"), camera_id=camera_id) from None


@router.post(
    "/cameras",
    response_model=ConfigResult,
    status_code=201,
    responses={
        422: {"description": "validation issues"},
        409: {"description": "id taken"},
        202: {"description": "waits for a second person"},
    },
)
async def add_camera(
    request: Request,
    body: dict[str, Any] = CAMERA_BODY,
    dry_run: bool = Query(False),
    who: Principal = Depends(admin_only),
) -> Any:
    ctx = get_ctx(request)
    cam, issues = validate_camera(body)
    if cam is None:
        return _invalid(issues)
    if any(c.id == cam.id for c in ctx.cfg.cameras):
        raise http_error(409, N_("camera '{id}' already exists"), id=cam.id)
    if dry_run:
        return ConfigResult(camera=cam.model_dump(mode="json"), applied=False, saved=False)
    return _needs_second_person(ctx, cam, who) or await _store(ctx, cam, who, "config.camera.add")


@router.put(
    "/cameras/{camera_id}",
    response_model=ConfigResult,
    responses={422: {"description": "validation issues"}, 202: {"description": "waits for a second person"}},
)
async def put_camera(
    camera_id: CameraId,
    request: Request,
    body: dict[str, Any] = CAMERA_BODY,
    dry_run: bool = Query(False),
    who: Principal = Depends(admin_only),
) -> Any:
    """Replace one camera's configuration and apply it to that camera only."""
    ctx = get_ctx(request)
    if isinstance(body, dict) and body.get("id", camera_id) != camera_id:
        return _invalid([Issue(path="id", message="the id in the body differs from the URL")])
    cam, issues = validate_camera({**body, "id": camera_id} if isinstance(body, dict) else body)
    if cam is None:
        return _invalid(issues)
    if not any(c.id == camera_id for c in ctx.cfg.cameras):
        raise http_error(404, N_("no camera '{camera_id}' (POST to add one)"), camera_id=camera_id)
    if dry_run:
        return ConfigResult(camera=cam.model_dump(mode="json"), applied=False, saved=False)
    return _needs_second_person(ctx, cam, who) or await _store(ctx, cam, who, "config.camera.update")


def _drop_camera(ctx: AppContext, camera_id: str) -> None:
    with ctx.lock:
        if not any(c.id == camera_id for c in ctx.cfg.cameras):
            raise http_error(404, N_("no camera '{camera_id}'"), camera_id=camera_id)
        cameras = [c for c in ctx.cfg.cameras if c.id != camera_id]
        save_config(ctx, ctx.cfg.model_copy(update={"cameras": cameras}))
        ctx.cfg.cameras[:] = cameras


@router.delete("/cameras/{camera_id}", status_code=204)
async def delete_camera(
    camera_id: CameraId, request: Request, who: Principal = Depends(admin_only)
) -> Response:
    ctx = get_ctx(request)
    await run_in_threadpool(_drop_camera, ctx, camera_id)
    remove = getattr(ctx.runtime, "remove_camera", None)
    if remove is not None:
        await run_in_threadpool(remove, camera_id)
    with ctx.db.session() as s:
        audit(s, who, "config.camera.delete", "camera", camera_id)
    return Response(status_code=204)


@router.get(
    "/cameras/{camera_id}/snapshot.jpg",
    response_class=Response,
    responses={200: {"content": {"image/jpeg": {}}}},
)
def config_snapshot(camera_id: CameraId, request: Request, who: Principal = Depends(admin_only)) -> Response:
    """A redacted still for drawing zones, masks and lines (admins see no other footage). Audited."""
    ctx = get_ctx(request)
    try:
        ctx.cfg.camera(camera_id)
    except KeyError:
        raise http_error(404, N_("no camera '{camera_id}'"), camera_id=camera_id) from None
    enc = egress(ctx).still(who, camera_id, "footage.config_snapshot", purpose="configuration")
    if enc.state != "live":
        raise http_error(503, N_("no picture from this camera ({state})"), state=enc.state)
    return Response(enc.jpeg, media_type="image/jpeg")
