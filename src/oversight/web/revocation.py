"""Revocation reaches open streams: every long-lived stream or socket holds a ``StreamGuard``.

Invariant: an open MJPEG stream or WebSocket re-checks its principal (session or token still valid,
account active, same role, role still allowed) at most ``CHECK_S`` seconds apart, and stops as soon
as the check fails, so logout-everywhere, disabling, a role change or a revoked token ends it within
about one second. A revoked reveal needs nothing here: frames consult reveals through
``oversight.privacy.hooks`` (cached ``CACHE_S``), so the stream downgrades to redacted by itself.

``end_rights`` makes reveals and tokens die with the account or role that held them; the users
API and the ``oversight users`` commands call it on disabling and role changes.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from fastapi import HTTPException
from sqlalchemy import select

from oversight.store.base import utcnow
from oversight.store.models import User
from oversight.web.audit import audit
from oversight.web.auth import Principal, resolve_principal
from oversight.web.context import AppContext
from oversight.web.models import ApiToken

CHECK_S = 1.0


class StreamGuard:
    """Say ``await guard.allowed()`` once per frame or message; it queries at most once per CHECK_S."""

    def __init__(self, ctx: AppContext, conn: Any, who: Principal, roles: tuple[str, ...]):
        self.ctx, self.conn, self.who, self.roles = ctx, conn, who, roles
        self._checked = time.monotonic()
        self._ok = True

    def _check(self) -> bool:
        try:
            now = resolve_principal(self.ctx, self.conn, "GET")
        except HTTPException:
            return False
        return now is not None and now.role == self.who.role and now.role in self.roles

    async def allowed(self) -> bool:
        if not self._ok:
            return False
        if time.monotonic() - self._checked >= CHECK_S:
            self._checked = time.monotonic()
            self._ok = await asyncio.to_thread(self._check)
        return self._ok


def end_rights(s: Any, user: User, who: Principal) -> dict[str, int]:
    """Reveals and tokens die with the account or role that held them: on disabling or a role
    change the user's open reveals are revoked, and so are the tokens made by a former admin."""
    ended = {"reveals": 0, "tokens": 0}
    try:
        from oversight.privacy.models import RevealRequest
    except ModuleNotFoundError:  # no privacy package: no reveals
        RevealRequest = None  # type: ignore[assignment,misc]  # noqa: N806
    if RevealRequest is not None:
        q = select(RevealRequest).where(
            RevealRequest.requested_by == user.username,
            RevealRequest.status.in_(("pending", "approved")),
        )
        for r in s.scalars(q):
            r.status, r.expires_at = "revoked", utcnow()
            audit(s, who, "reveal.revoke", "reveal", r.id, detail={"reason": "account changed"})
            ended["reveals"] += 1
    if user.role != "admin" or not user.active:
        q2 = select(ApiToken).where(ApiToken.created_by == user.username, ApiToken.revoked_at.is_(None))
        for t in s.scalars(q2):
            t.revoked_at = utcnow()
            audit(
                s, who, "token.revoke", "api_token", t.id, detail={"reason": "its creator lost admin rights"}
            )
            ended["tokens"] += 1
    return ended
