"""Revocation reaches open streams: every long-lived stream or socket holds a ``StreamGuard``.

Invariant: an open MJPEG stream or WebSocket re-checks its principal (session or token still valid,
account active, same role, role still allowed) at most ``CHECK_S`` seconds apart, and stops as soon
as the check fails, so logout-everywhere, disabling, a role change or a revoked token ends it within
about one second. A revoked reveal needs nothing here: frames consult reveals through
``oversight.privacy.hooks`` (cached ``CACHE_S``), so the stream downgrades to redacted by itself.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from fastapi import HTTPException

from oversight.web.auth import Principal, resolve_principal
from oversight.web.context import AppContext

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
