"""HTTP API for reveals (four-eyes), the audit log (auditors, no footage), exports and reports.

Mounted by ``oversight.web.app.create_app`` (``router``). Roles:
- reveals: operators and supervisors request; only a *different* supervisor decides (also refused
  for API tokens: a decision needs a person); auditors read.
- audit log: auditors and admins browse, verify and export; nothing here returns pixels.
- exports: supervisors (the four-eyes rule applies to the unredacted content: only the part of a
  clip inside an approved reveal of the exporter is unredacted; API tokens always get redacted
  clips; an export with unredacted clips is downloaded by its exporter, or by a holder of their
  own covering reveal). An export is a background job (``privacy.export_jobs``): POST queues it
  and returns at once; the job list, progress and cancel survive a reload and a restart; the
  download answers HTTP Range requests, so a broken download resumes.
- reports and the retention report: auditors, admins, supervisors.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import FileResponse, PlainTextResponse, Response
from pydantic import BaseModel, Field

from oversight.events import topics
from oversight.i18n import N_
from oversight.permissions import roles_for
from oversight.privacy import audit, copies, hooks, reveals
from oversight.privacy.recipients import Recipient
from oversight.web.auth import Principal, check_cameras, client_ip, get_ctx, require
from oversight.web.errors import http_error, service_error
from oversight.web.params import DbId, as_utc

router = APIRouter(prefix="/api", tags=["privacy"])

REQUESTERS = require("reveal.request")
APPROVERS = require("reveal.approve")
REVEAL_READERS = require("reveal.read")
AUDITORS = require("audit.read")
EXPORTERS = require("export.create")
EXPORT_READERS = require("export.read")
EXPORTERS_ROLES = roles_for("export.create")
REPORT_READERS = require("reports.read")


class RevealIn(BaseModel):
    camera_ids: list[str] = Field(min_length=1, max_length=64)
    start: datetime
    end: datetime
    reason: str = Field(min_length=10, max_length=4000)
    reference: str = Field(min_length=1, max_length=128)


class DecisionIn(BaseModel):
    note: str | None = Field(None, max_length=4000)
    valid_hours: float = Field(8.0, gt=0, le=24 * 7)


def _source(request: Request) -> str:
    return f"web {client_ip(request)}"


def _refused(request: Request, who: Principal, action: str, reveal_id: int | None, exc: Exception) -> None:
    """Refused attempts are audited too (in their own transaction, since the request fails)."""
    with get_ctx(request).db.session() as s:
        audit.record(
            s,
            who.username,
            action,
            "reveal",
            reveal_id,
            source=_source(request),
            role=who.role,
            detail={"refused": str(exc)},
        )


@router.post("/reveals", status_code=201)
def create_reveal(body: RevealIn, request: Request, who: Principal = Depends(REQUESTERS)) -> dict[str, Any]:
    ctx = get_ctx(request)
    check_cameras(who, body.camera_ids)  # a reveal only of cameras the requester may see
    start, end = as_utc(body.start, "start"), as_utc(body.end, "end")
    assert start is not None and end is not None
    try:
        with ctx.db.session() as s:
            r = reveals.request_reveal(
                s,
                who.username,
                who.role,
                body.camera_ids,
                start,
                end,
                body.reason,
                body.reference,
                source=_source(request),
                known_cameras={c.id for c in ctx.cfg.cameras},
                policy=reveals.RevealPolicy.from_settings(ctx.cfg.site.security),
            )
            out = reveals.reveal_dict(r)
    except reveals.RevealError as exc:
        raise service_error(exc) from None
    # after the commit: the supervisors who may decide it are told (web.push)
    ctx.bus.publish(
        topics.REVEAL,
        {
            "event": "reveal.requested",
            "id": out["id"],
            "camera_ids": list(body.camera_ids),
            "requested_by": who.username,
            "at": datetime.now(UTC).isoformat(),
        },
    )
    return out


@router.get("/reveals")
def list_reveals(
    request: Request,
    status: Literal["pending", "approved", "denied", "revoked"] | None = None,
    who: Principal = Depends(REVEAL_READERS),
) -> list[dict[str, Any]]:
    """Operators see their own requests; supervisors, auditors and admins see all."""
    only = who.username if who.role == "operator" else None
    with get_ctx(request).db.session() as s:
        found = reveals.list_reveals(s, status, only)
        return [reveals.reveal_dict(r) for r in found if who.scope.allows_all(r.camera_ids or [])]


def _reveal_in_scope(request: Request, reveal_id: int, who: Principal) -> None:
    """A reveal is decided or revoked only by someone who may see every one of its cameras."""
    from oversight.privacy.models import RevealRequest

    with get_ctx(request).db.session() as s:
        r = s.get(RevealRequest, reveal_id)
        if r is not None and not who.scope.allows_all(r.camera_ids or []):
            raise http_error(404, N_("no reveal {reveal_id}"), reveal_id=reveal_id)


def _decide(
    reveal_id: int, body: DecisionIn, request: Request, who: Principal, approve: bool
) -> dict[str, Any]:
    ctx = get_ctx(request)
    _reveal_in_scope(request, reveal_id, who)
    try:
        if who.via != "session":
            raise reveals.RevealError(
                N_("a reveal must be decided by a person logged in, not an API token"), 403
            )
        with ctx.db.session() as s:
            r = reveals.decide(
                s,
                reveal_id,
                who.username,
                who.role,
                approve,
                body.note,
                timedelta(hours=body.valid_hours),
                source=_source(request),
                policy=reveals.RevealPolicy.from_settings(ctx.cfg.site.security),
            )
            out = reveals.reveal_dict(r)
    except reveals.RevealError as exc:
        _refused(request, who, "reveal.decide_refused", reveal_id, exc)
        raise service_error(exc) from None
    hooks.forget_cache(ctx)
    return out


@router.post("/reveals/{reveal_id}/approve")
def approve_reveal(
    reveal_id: DbId, body: DecisionIn, request: Request, who: Principal = Depends(APPROVERS)
) -> dict[str, Any]:
    return _decide(reveal_id, body, request, who, True)


@router.post("/reveals/{reveal_id}/deny")
def deny_reveal(
    reveal_id: DbId, body: DecisionIn, request: Request, who: Principal = Depends(APPROVERS)
) -> dict[str, Any]:
    return _decide(reveal_id, body, request, who, False)


@router.post("/reveals/{reveal_id}/revoke")
def revoke_reveal(reveal_id: DbId, request: Request, who: Principal = Depends(REQUESTERS)) -> dict[str, Any]:
    ctx = get_ctx(request)
    _reveal_in_scope(request, reveal_id, who)
    try:
        with ctx.db.session() as s:
            out = reveals.reveal_dict(reveals.revoke(s, reveal_id, who.username, who.role, _source(request)))
    except reveals.RevealError as exc:
        raise service_error(exc) from None
    hooks.forget_cache(ctx)
    copies.drop_reveal_copies(ctx.web_cache_dir(), reveal_id)  # unredacted copies die with the reveal
    return out


# ------------------------------------------------------------------ audit log


def _range(since: datetime | None, until: datetime | None) -> dict[str, Any]:
    return {"since": as_utc(since, "since"), "until": as_utc(until, "until")}


@router.get("/audit")
def browse_audit(
    request: Request,
    since: datetime | None = None,
    until: datetime | None = None,
    actor: str | None = Query(None, max_length=64),
    action: str | None = Query(None, max_length=64),
    limit: int = Query(200, ge=1, le=1000),
    offset: int = Query(0, ge=0),
    who: Principal = Depends(AUDITORS),
) -> dict[str, Any]:
    with get_ctx(request).db.session() as s:
        rows = [
            audit.entry_dict(e)
            for e in audit.query(
                s, actor=actor, action=action, limit=limit, offset=offset, **_range(since, until)
            )
        ]
        total = audit.count(s)
    return {"total": total, "entries": rows}


@router.get("/audit/export")
def export_audit(
    request: Request,
    format: Literal["csv", "json"] = "csv",
    since: datetime | None = None,
    until: datetime | None = None,
    who: Principal = Depends(AUDITORS),
) -> Response:
    with get_ctx(request).db.session() as s:
        body = audit.export(s, format, **_range(since, until))
        audit.record(
            s,
            who.username,
            "audit.export",
            "audit",
            None,
            source=_source(request),
            role=who.role,
            detail={"format": format, "since": str(since), "until": str(until)},
        )
    media = "text/csv" if format == "csv" else "application/json"
    return PlainTextResponse(
        body, media_type=media, headers={"Content-Disposition": f'attachment; filename="audit.{format}"'}
    )


@router.get("/audit/verify")
def verify_audit(request: Request, who: Principal = Depends(AUDITORS)) -> dict[str, Any]:
    ctx = get_ctx(request)
    from oversight.privacy.audit_trail import verify_trail

    with ctx.db.session() as s:
        audit_cfg = ctx.cfg.site.audit
        r = verify_trail(s, ctx.data_dir, audit_cfg.digest_every_minutes * 60, s3=audit_cfg.s3)
    return {
        "ok": r.ok,
        "entries": r.entries,
        "checkpoints": r.digests,
        "first_bad_seq": r.first_bad_seq,
        "message": r.message,
        "problems": r.problems[:50],
    }


@router.get("/audit/public-key")
def public_key(request: Request, who: Principal = Depends(REPORT_READERS)) -> dict[str, str]:
    from oversight.privacy.keys import fingerprint, load_or_create_signing_key, public_hex

    key = load_or_create_signing_key(get_ctx(request).data_dir)
    return {"public_key": public_hex(key), "fingerprint": fingerprint(key), "algorithm": "Ed25519"}


# ------------------------------------------------------------------ exports


class ExportIn(BaseModel):
    camera_ids: list[str] = Field(min_length=1, max_length=64)
    start: datetime
    end: datetime
    purpose: str = Field(min_length=10, max_length=4000)
    reference: str | None = Field(None, max_length=128)
    recipient: Recipient = Field(description="who receives it: a published category (counted in public)")
    recipient_ref: str | None = Field(
        None, max_length=128, description="who exactly (case number, authority); auditors only, never public"
    )


@router.post("/exports", status_code=202)
def create_export(body: ExportIn, request: Request, who: Principal = Depends(EXPORTERS)) -> dict[str, Any]:
    """Queue an export and return its job at once (``GET /api/exports/jobs/{id}`` follows it). A
    request that can never succeed (unknown camera, no footage, short purpose) is refused now."""
    from oversight.privacy.export import ExportError

    check_cameras(who, body.camera_ids)  # an export only of cameras the exporter may see
    start, end = as_utc(body.start, "start"), as_utc(body.end, "end")
    assert start is not None and end is not None
    try:
        return get_ctx(request).export_jobs().create(
            who.username, who.role, who.via, body.camera_ids, start, end, body.purpose,
            body.recipient.value, reference=body.reference, source=_source(request),
            recipient_ref=body.recipient_ref,
        )  # fmt: skip
    except ExportError as exc:
        raise service_error(exc) from None


@router.get("/exports")
def list_exports(request: Request, who: Principal = Depends(EXPORT_READERS)) -> list[dict[str, Any]]:
    from oversight.privacy.export import export_record_dict, list_exports

    with get_ctx(request).db.session() as s:
        return [export_record_dict(r) for r in list_exports(s) if who.scope.allows_all(r.camera_ids or [])]


def _mine(who: Principal) -> str | None:
    """Whose jobs ``who`` sees: an exporter their own; auditors and admins everyone's (no pixels)."""
    return who.username if who.role in EXPORTERS_ROLES else None


@router.get("/exports/jobs")
def list_export_jobs(request: Request, who: Principal = Depends(EXPORT_READERS)) -> list[dict[str, Any]]:
    jobs = get_ctx(request).export_jobs().list(_mine(who))
    return [j for j in jobs if who.scope.allows_all(j["camera_ids"] or [])]


@router.get("/exports/jobs/{job_id}")
def get_export_job(
    job_id: DbId, request: Request, who: Principal = Depends(EXPORT_READERS)
) -> dict[str, Any]:
    job = get_ctx(request).export_jobs().get(job_id)
    mine = _mine(who)
    if (
        job is None
        or (mine is not None and job["exporter"] != mine)
        or not who.scope.allows_all(job["camera_ids"])
    ):
        raise http_error(404, N_("no such export job"))
    return job


@router.post("/exports/jobs/{job_id}/cancel")
def cancel_export_job(job_id: DbId, request: Request, who: Principal = Depends(EXPORTERS)) -> dict[str, Any]:
    try:
        return get_ctx(request).export_jobs().cancel(job_id, who.username, _source(request))
    except LookupError as exc:
        raise service_error(exc, 404) from None
    except PermissionError as exc:
        raise service_error(exc, 403) from None


@router.get("/exports/{export_id}/download")
def download_export(export_id: DbId, request: Request, who: Principal = Depends(EXPORTERS)) -> Response:
    from oversight.privacy.egress import egress

    try:
        path = egress(get_ctx(request)).export_package(who, export_id, _source(request))
    except LookupError as exc:
        raise service_error(exc, 404) from None
    except PermissionError as exc:
        raise service_error(exc, 403) from None
    # Starlette answers Range requests (206) from the file, so a broken download resumes
    return FileResponse(path, filename=path.name, media_type="application/zip")


# ------------------------------------------------------------------ reports


@router.get("/reports/retention")
def retention_report(request: Request, who: Principal = Depends(REPORT_READERS)) -> dict[str, Any]:
    from oversight.privacy.retention_report import retention_report as build

    ctx = get_ctx(request)
    return build(ctx.db, ctx.cfg).as_dict()


@router.get("/reports/{kind}")
def report(
    kind: Literal["pia", "transparency"],
    request: Request,
    format: Literal["html", "pdf", "csv"] = "html",
    since: datetime | None = Query(None, alias="from"),
    until: datetime | None = Query(None, alias="to"),
    lang: str | None = Query(None, max_length=16, description="es, es_AR, es_EC, en; default: the user's"),
    who: Principal = Depends(REPORT_READERS),
) -> Response:
    from oversight.i18n import normalize
    from oversight.privacy import reports
    from oversight.web.routes.i18n import request_locale

    ctx = get_ctx(request)
    end = as_utc(until, "to") or datetime.now().astimezone()
    start = as_utc(since, "from") or end - timedelta(days=30)
    if kind == "pia" and format == "csv":
        raise http_error(422, N_("the privacy impact assessment is HTML or PDF"))
    if start >= end:
        raise http_error(422, N_("'from' must be before 'to'"))
    out = ctx.web_cache_dir() / "reports"
    locale = normalize(lang) or request_locale(request, who)
    files = reports.build_report(kind, ctx.db, ctx.cfg, start, end, out, formats=(format,), locale=locale)
    with ctx.db.session() as s:
        audit.record(
            s,
            who.username,
            f"report.{kind}",
            "report",
            kind,
            source=_source(request),
            role=who.role,
            detail={"format": format, "from": start.isoformat(), "to": end.isoformat(), "lang": locale},
        )
    media = {"html": "text/html", "pdf": "application/pdf", "csv": "text/csv"}[format]
    return FileResponse(files[format], media_type=media, filename=files[format].name)
