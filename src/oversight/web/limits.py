"""Bounded work per request: a request body larger than ``MAX_BODY`` is refused with 413.

Invariant: no request makes the server hold more than ``MAX_BODY`` bytes of body, whether the
client announces the size (``Content-Length``, refused before reading) or streams it chunked
(refused as soon as the running total passes the limit). The API takes only small JSON bodies.
"""

from __future__ import annotations

import contextlib
import json
from typing import Any

MAX_BODY = 1024 * 1024  # 1 MiB: the largest JSON the API needs (a camera with many rules) is far smaller

Scope = dict[str, Any]
Message = dict[str, Any]


class BodyTooLarge(Exception):
    pass


class BodyLimit:
    """ASGI middleware; wraps the whole app so it also guards routes that read the body themselves."""

    def __init__(self, app: Any, max_body: int = MAX_BODY):
        self.app = app
        self.max_body = max_body

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_body):
            await self._refuse(send)
            return
        seen = 0
        started = too_large = False

        async def limited_receive() -> Message:
            nonlocal seen, too_large
            message: Message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_body:
                    too_large = True
                    raise BodyTooLarge
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if too_large:
                return  # whatever the app answers to the cut body (FastAPI says 400), the answer is 413
            started = started or message["type"] == "http.response.start"
            await send(message)

        with contextlib.suppress(BodyTooLarge):
            await self.app(scope, limited_receive, tracking_send)
        if too_large and not started:
            await self._refuse(send)

    async def _refuse(self, send: Any) -> None:
        body = json.dumps({"detail": f"request body larger than {self.max_body} bytes"}).encode()
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
        await send(
            {"type": "http.response.start", "status": 413, "headers": headers + [(b"connection", b"close")]}
        )
        await send({"type": "http.response.body", "body": body})
