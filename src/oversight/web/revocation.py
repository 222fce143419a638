"""Revocation reaches open streams: every long-lived stream or socket holds a ``StreamGuard``.

Invariant: an open MJPEG stream or WebSocket re-checks its principal (session or token still valid,
account active, same role, role still allowed, no camera group taken away) at most ``CHECK_S``
seconds apart, and stops as soon as the check fails, so logout-everywhere, disabling, a role change
or a revoked token ends it within about one second. A revoked reveal needs nothing here: frames
consult reveals through ``oversight.privacy.hooks`` (cached ``CACHE_S``), so the stream downgrades
to redacted by itself.
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
        if now is None or now.role != self.who.role or now.role not in self.roles:
            return False
        # a group taken away ends the stream too (a wider scope keeps it: nothing was lost)
        old, new = self.who.scope.cameras, now.scope.cameras
        return new is None or (old is not None and old <= new)

    async def allowed(self) -> bool:
        if not self._ok:
            return False
        if time.monotonic() - self._checked >= CHECK_S:
            self._checked = time.monotonic()
            self._ok = await asyncio.to_thread(self._check)
        return self._ok
