"""The health API: per camera and per server numbers from ``oversight.health`` (the runtime's
latest periodic check; a one-off check, raising no alerts, before the first one or without a runtime),
plus each camera's live H.264 encode as this web server's egress gate runs it (read, never started)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request

from oversight.health import HealthMonitor
from oversight.i18n import Translator
from oversight.privacy.live_status import LiveEncodeMeter
from oversight.web.auth import Principal, get_ctx, require
from oversight.web.routes.i18n import request_locale

router = APIRouter(tags=["health"])


@router.get("/api/health")
def health(request: Request, who: Principal = Depends(require("health.read"))) -> dict[str, Any]:
    """Receiving, recording, analysing per camera; disk, days of footage left and database size."""
    ctx = get_ctx(request)
    monitor = getattr(ctx.runtime, "health", None)
    latest = getattr(monitor, "latest", None)
    if not isinstance(latest, dict):
        status = getattr(ctx.runtime, "status", None)
        latest = HealthMonitor(ctx.cfg, ctx.db, status if callable(status) else list).check()
    meter = ctx.extras.setdefault("live_encode_meter", LiveEncodeMeter())
    live = meter.read(ctx.extras.get("egress"))  # no gate yet: nobody has watched anything
    tr = Translator(request_locale(request, who))  # plain-word errors are msgids; raw ones pass through
    cameras = [
        {
            **c,
            "live_encode": live.get(c["id"]),
            "last_error": c.get("last_error") and tr.gettext(c["last_error"]),
        }
        for c in latest.get("cameras", [])
        if who.sees(c.get("id"))
    ]
    return {**latest, "cameras": cameras}
