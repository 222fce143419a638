"""Subject access requests over HTTP: intake and refusal (``sar.record``), reading (``sar.read``),
marking the requester in a frame (``sar.mark``) and the answering export (``export.create``).

The work is in ``oversight.privacy.sar``; the export is the signed evidence export
(``privacy.export.export_footage``) with the marked person kept and everyone else redacted."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Request
from pydantic import BaseModel, Field
from sqlalchemy import select

from oversight.i18n import N_, _, use
from oversight.privacy import sar
from oversight.privacy.models import SubjectAccessRequest, SubjectMark
from oversight.privacy.recipients import Recipient
from oversight.web.auth import Principal, check_cameras, client_ip, get_ctx, require
from oversight.web.errors import http_error, service_error
from oversight.web.params import DbId, as_utc
from oversight.web.routes.i18n import request_locale

router = APIRouter(prefix="/api/sars", tags=["subject access requests"])
RECORDERS = require("sar.record")
READERS = require("sar.read")
MARKERS = require("sar.mark")
EXPORTERS = require("export.create")


class SarIn(BaseModel):
    contact: str = Field(min_length=3, max_length=500)
    camera_ids: list[str] = Field(min_length=1, max_length=64)
    start: datetime
    end: datetime
    places: str = Field("", max_length=1000)
    description: str = Field("", max_length=2000)
    jurisdiction: str = Field(max_length=16)
    identity_check: str = Field(min_length=10, max_length=1000)
    received_at: datetime | None = None


class MarkIn(BaseModel):
    camera_id: str = Field(min_length=1, max_length=64)
    ts: datetime
    x: float = Field(ge=0, le=1)
    y: float = Field(ge=0, le=1)


class RefuseIn(BaseModel):
    reason: str = Field(min_length=10, max_length=4000)


def _fail(exc: sar.SarError) -> HTTPException:
    return service_error(exc)


def _dict(s: Any, r: SubjectAccessRequest) -> dict[str, Any]:
    marks = list(
        s.scalars(select(SubjectMark).where(SubjectMark.request_id == r.id).order_by(SubjectMark.id))
    )
    return sar.request_dict(r, marks)


def _visible(s: Any, who: Principal, request_id: int) -> SubjectAccessRequest:
    """The request, when it exists and every camera it names is one ``who`` may see (else 404)."""
    r = s.get(SubjectAccessRequest, request_id)
    if r is None or not who.scope.allows_all(r.camera_ids):
        raise http_error(404, N_("no such request"))
    return r


@router.get("/jurisdictions")
def jurisdictions(request: Request, who: Principal = Depends(READERS)) -> dict[str, str]:
    with use(request_locale(request, who)):  # the reader's language
        return {k: _(v[0]) for k, v in sar.JURISDICTIONS.items()}


@router.post("", status_code=201)
def record(body: SarIn, request: Request, who: Principal = Depends(RECORDERS)) -> dict[str, Any]:
    ctx = get_ctx(request)
    check_cameras(who, body.camera_ids)  # a request only about cameras the officer may see
    data = body.model_dump(mode="json")
    for k in ("start", "end", "received_at"):
        if body.model_dump()[k] is not None:
            data[k] = as_utc(getattr(body, k), k).isoformat()  # type: ignore[union-attr]
    try:
        with ctx.db.session() as s:
            return _dict(s, sar.record_request(s, ctx.cfg, who.username, who.role, data))
    except sar.SarError as exc:
        raise _fail(exc) from None


@router.get("")
def list_requests(request: Request, who: Principal = Depends(READERS)) -> list[dict[str, Any]]:
    with get_ctx(request).db.session() as s:
        rows = s.scalars(select(SubjectAccessRequest).order_by(SubjectAccessRequest.id.desc()).limit(500))
        return [_dict(s, r) for r in rows if who.scope.allows_all(r.camera_ids)]


@router.get("/{request_id}")
def get_request(request_id: DbId, request: Request, who: Principal = Depends(READERS)) -> dict[str, Any]:
    with get_ctx(request).db.session() as s:
        return _dict(s, _visible(s, who, request_id))


@router.post("/{request_id}/marks", status_code=201)
def mark(
    request_id: DbId, body: MarkIn, request: Request, who: Principal = Depends(MARKERS)
) -> dict[str, Any]:
    """The operator clicked the requester at (x, y) of a frame of ``camera_id`` taken at ``ts``; the
    answer says for how many samples the privacy track follows that person from there."""
    ctx = get_ctx(request)
    ts = as_utc(body.ts, "ts")
    assert ts is not None
    check_cameras(who, [body.camera_id])
    with ctx.db.session() as s:
        _visible(s, who, request_id)
    try:
        followed = sar.follow_mark(ctx.cfg, body.camera_id, ts, body.x, body.y)
        with ctx.db.session() as s:
            m = sar.add_mark(s, request_id, who.username, who.role, body.camera_id, ts, body.x, body.y)
            return {"id": m.id, "followed_samples": len(followed)}
    except sar.SarError as exc:
        raise _fail(exc) from None


@router.post("/{request_id}/refuse")
def refuse(
    request_id: DbId, body: RefuseIn, request: Request, who: Principal = Depends(RECORDERS)
) -> dict[str, Any]:
    ctx = get_ctx(request)
    try:
        with ctx.db.session() as s:
            _visible(s, who, request_id)
            return _dict(s, sar.refuse(s, request_id, who.username, who.role, body.reason))
    except sar.SarError as exc:
        raise _fail(exc) from None


@router.post("/{request_id}/export", status_code=201)
def export(request_id: DbId, request: Request, who: Principal = Depends(EXPORTERS)) -> dict[str, Any]:
    """The answer: the request's cameras and window as a signed evidence export in which only the
    marked person is unredacted, received by the person filmed (``data_subject``); the request is
    then answered."""
    from oversight.privacy.export import ExportError, export_footage

    ctx = get_ctx(request)
    try:
        with ctx.db.session() as s:
            _visible(s, who, request_id)
            r = sar.get_open(s, request_id)
            cams, start, end = list(r.camera_ids), r.start, r.end
        subjects = sar.subject_tracks(ctx.db, ctx.cfg, request_id)
        if not subjects:
            raise sar.SarError(N_("mark the requester in the footage first"), 409)
        res = export_footage(
            ctx.db, ctx.cfg, cams, start, end, exporter=who.username, role=who.role,
            purpose=f"subject access request {request_id}: the requester's own footage",
            recipient=Recipient.data_subject.value,
            reference=f"SAR-{request_id}", source=f"web {client_ip(request)}", zip_it=True,
            allow_unredacted=False, subjects=subjects, request_id=request_id,
        )  # fmt: skip
        with ctx.db.session() as s:
            sar.answer(s, request_id, who.username, who.role, res.id)
    except sar.SarError as exc:
        raise _fail(exc) from None
    except ExportError as exc:
        raise service_error(exc) from None
    return res.as_dict()
