"""Glue between the egress gate (``oversight.privacy.egress``) and reveals / the audit log.

The gate asks ``frame_reveal`` whether a principal may see a frame unredacted; the answer
comes from a short-lived per-user cache of active reveals so live MJPEG does not query the database
for every frame (a revoked reveal stops working within ``CACHE_S`` seconds). The first unredacted
frame a reveal serves on each camera is audited (``reveal.view``).
"""

from __future__ import annotations

import hashlib
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from oversight.privacy import audit
from oversight.privacy.reveals import REQUEST_ROLES, active_reveals
from oversight.store.base import utcnow

CACHE_S = 2.0
_lock = threading.Lock()


@dataclass(frozen=True)
class ActiveReveal:
    id: int
    camera_ids: tuple[str, ...]
    start: datetime
    end: datetime
    expires_at: datetime
    reason: str
    reference: str

    def covers(self, camera_id: str, start: datetime, end: datetime | None = None) -> bool:
        end = end or start
        return (
            camera_id in self.camera_ids
            and self.start <= start
            and end <= self.end
            and utcnow() < self.expires_at
        )


def _username(principal: Any) -> str | None:
    return getattr(principal, "username", None) if principal is not None else None


def reveals_of(ctx: Any, principal: Any) -> list[ActiveReveal]:
    """Active reveals of the principal (cached CACHE_S seconds in ``ctx.extras``)."""
    user = _username(principal)
    if not user or getattr(principal, "via", "session") == "token":
        return []  # API tokens never get unredacted footage
    if getattr(principal, "role", None) not in REQUEST_ROLES:
        return []  # a reveal dies with the role that held it
    cache: dict[str, tuple[float, list[ActiveReveal]]] = ctx.extras.setdefault("privacy_reveals", {})
    now = time.monotonic()
    with _lock:
        hit = cache.get(user)
        if hit and now - hit[0] < CACHE_S:
            return hit[1]
    with ctx.db.session() as s:
        found = [
            ActiveReveal(r.id, tuple(r.camera_ids or ()), r.start, r.end, r.expires_at, r.reason, r.reference)  # type: ignore[arg-type]
            for r in active_reveals(s, user)
        ]
    with _lock:
        cache[user] = (now, found)
    return found


def forget_cache(ctx: Any) -> None:
    with _lock:
        ctx.extras.pop("privacy_reveals", None)


def frame_reveal(ctx: Any, camera_id: str, ts: datetime | None, principal: Any) -> ActiveReveal | None:
    """The reveal letting ``principal`` see ``camera_id`` unredacted at footage time ``ts``, else None."""
    if ts is None:
        return None
    for r in reveals_of(ctx, principal):
        if r.covers(camera_id, ts):
            _audit_first_use(ctx, r, camera_id, principal)
            return r
    return None


def segment_reveal(ctx: Any, segment: Any, principal: Any) -> ActiveReveal | None:
    """A reveal covering the whole segment; partial overlaps stay redacted (per-frame check)."""
    for r in reveals_of(ctx, principal):
        if r.covers(segment.camera_id, segment.start, segment.end):
            return r
    return None


def overlapping_reveals(
    ctx: Any, camera_id: str, start: datetime, end: datetime, principal: Any
) -> list[int]:
    return [
        r.id
        for r in reveals_of(ctx, principal)
        if camera_id in r.camera_ids and r.start < end and start < r.end
    ]


def view_key(
    ctx: Any, camera_id: str, principal: Any, start: datetime | None = None, end: datetime | None = None
) -> str:
    """Principals with equal keys get identical pixels: everyone shares "redacted" unless a reveal
    applies. The camera's redaction settings are part of the key, so a file rendered under other
    settings (redaction off for a while) is never served after they change."""
    start = start or utcnow()
    end = end or start + timedelta(seconds=1)
    ids = overlapping_reveals(ctx, camera_id, start, end, principal)
    settings = redaction_fingerprint(ctx, camera_id)
    if not ids:
        return f"redacted-{settings}"
    return f"reveal{'-'.join(map(str, sorted(ids)))}-{_username(principal)}-{settings}"


def redaction_fingerprint(ctx: Any, camera_id: str) -> str:
    """A short hash of the camera's redaction settings (``none`` for an unknown camera)."""
    try:
        red = ctx.cfg.camera(camera_id).redaction
    except KeyError:
        return "none"
    return hashlib.sha256(red.model_dump_json().encode()).hexdigest()[:12]


def _audit_first_use(ctx: Any, r: ActiveReveal, camera_id: str, principal: Any) -> None:
    seen: set[tuple[int, str, str]] = ctx.extras.setdefault("privacy_reveal_used", set())
    key = (r.id, camera_id, _username(principal) or "")
    with _lock:
        if key in seen:
            return
        seen.add(key)
    with ctx.db.session() as s:
        audit.record(
            s,
            _username(principal) or "?",
            "reveal.view",
            "camera",
            camera_id,
            purpose=r.reason,
            source="web",
            role=getattr(principal, "role", None),
            detail={"reveal_id": r.id, "reference": r.reference},
        )


def audit_login(
    ctx: Any,
    username: str,
    ip: str,
    ok: bool,
    role: str | None = None,
    session: Any = None,
    action: str | None = None,
) -> None:
    """Every login, success or failure (and second-factor and session events, named by ``action``).
    A failure is written in its own transaction because the request's is rolled back on a 401."""
    action = action or ("auth.login" if ok else "auth.login_failed")
    name = username[:64]
    if session is not None:
        audit.record(session, name, action, "user", name, source=f"web {ip}", role=role, detail={"ok": ok})
        return
    with ctx.db.session() as s:
        audit.record(s, name, action, "user", name, source=f"web {ip}", role=role, detail={"ok": ok})
