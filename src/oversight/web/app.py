"""``create_app(ctx)``: the FastAPI application serving the API under /api and the UI under /.

Routers come from ``oversight.web.routes.ROUTERS`` (core, privacy and incidents alike). Errors never
carry stack traces to the client: a catch-all handler logs them and answers a plain 500.
"""

from __future__ import annotations

import errno
import logging
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from sqlalchemy.exc import DataError, OperationalError
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from oversight import __version__
from oversight.i18n import N_, Message, message_of
from oversight.privacy.egress import OutOfScope
from oversight.web.auth import ensure_bootstrap
from oversight.web.context import AppContext
from oversight.web.errors import ApiError, error_body, request_translator, validation_body
from oversight.web.install import add_install_routes
from oversight.web.limits import BodyLimit

log = logging.getLogger(__name__)
STATIC = Path(__file__).parent / "static"
# MapLibre comes from npm (package.json at the repository root, `npm ci` in scripts/venv.sh); only its
# dist folder is served, and the map page falls back to its canvas when it is absent.
NODE_MODULES = Path(
    os.environ.get("OVERSIGHT_NODE_MODULES") or Path(__file__).resolve().parents[3] / "node_modules"
)
MAPLIBRE_DIST = NODE_MODULES / "maplibre-gl" / "dist"

# No inline script or style at all: the UI builds elements with textContent and styles them through
# the CSSOM, so markup smuggled into a camera name or a note has nothing to run with.
CSP = (
    "default-src 'self'; img-src 'self' data: blob:; media-src 'self' blob:; "
    "style-src 'self'; "
    "script-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; "
    "form-action 'self'"
)
HSTS = "max-age=31536000; includeSubDomains"  # only on https responses: browsers ignore it on http


def create_app(ctx: AppContext) -> FastAPI:
    from oversight.web.routes import ROUTERS

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        gate = ctx.extras.get("egress")
        if gate is not None:  # live encodes end with the server, not with the interpreter
            await run_in_threadpool(gate.close)

    app = FastAPI(
        lifespan=lifespan,
        title="Oversight API",
        version=__version__,
        description="Monitoring-center API. Times are UTC ISO-8601. Authenticate with the session "
        "cookie (browsers, plus X-CSRF-Token on writes) or `Authorization: Bearer <api token>`.",
        docs_url="/docs",
        redoc_url=None,
    )
    app.state.ctx = ctx
    for router in ROUTERS:
        app.include_router(router)

    _add_error_handlers(app)

    @app.middleware("http")
    async def security_headers(request: Request, call_next: Any) -> Response:
        response: Response = await call_next(request)
        path = request.url.path
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "no-referrer")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
        response.headers.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
        if request.url.scheme == "https" or ctx.secure_cookies:
            response.headers.setdefault("Strict-Transport-Security", HSTS)
        if not path.startswith("/docs"):
            response.headers.setdefault("Content-Security-Policy", CSP)
        if path.startswith("/api"):
            response.headers.setdefault("Cache-Control", "no-store")
        return response

    app.add_middleware(BodyLimit)  # outermost: a huge body is refused before anything reads it
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    if (MAPLIBRE_DIST / "maplibre-gl-csp.js").is_file():
        app.mount("/vendor/maplibre-gl", StaticFiles(directory=MAPLIBRE_DIST), name="maplibre")

    @app.get("/", include_in_schema=False)
    def index() -> FileResponse:
        return FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-cache"})

    @app.get("/favicon.ico", include_in_schema=False)
    def favicon() -> FileResponse:
        return FileResponse(STATIC / "favicon.svg", media_type="image/svg+xml")

    add_install_routes(app, ctx, STATIC)

    ensure_bootstrap(ctx)
    return app


def _add_error_handlers(app: FastAPI) -> None:
    """Plain JSON errors in the requester's language (``web/errors.py``): the client's mistakes as
    4xx with what was wrong, ours as a bare 500."""

    def answer(request: Request, status: int, detail: Any, headers: Any = None) -> JSONResponse:
        return JSONResponse(
            error_body(request_translator(request), detail), status_code=status, headers=headers
        )

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        detail = exc.text if isinstance(exc, ApiError) else exc.detail
        return answer(request, exc.status_code, detail, getattr(exc, "headers", None))

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> Response:
        return JSONResponse(validation_body(request_translator(request), list(exc.errors())), status_code=422)

    @app.exception_handler(OutOfScope)
    async def out_of_scope(request: Request, exc: OutOfScope) -> Response:
        # the egress gate refused a camera outside the principal's groups that a route let through
        log.warning("egress refused an out-of-scope camera on %s %s", request.method, request.url.path)
        return answer(request, 404, message_of(exc))

    @app.exception_handler(DataError)
    async def data_error(request: Request, exc: DataError) -> Response:
        # the database refused a value the client sent (e.g. an id beyond 32 bits): a client error
        log.warning("database refused a value on %s %s: %s", request.method, request.url.path, exc.orig)
        return answer(request, 422, Message(N_("a value is out of range")))

    @app.exception_handler(OverflowError)
    async def overflow_error(request: Request, exc: OverflowError) -> Response:
        if "SQLite INTEGER" not in str(exc):  # only the driver's refusal of a huge client number
            return await server_error(request, exc)
        log.warning("number out of range on %s %s", request.method, request.url.path)
        return answer(request, 422, Message(N_("a number is out of range")))

    @app.exception_handler(OperationalError)
    async def storage_error(request: Request, exc: OperationalError) -> Response:
        # a full disk or an unreachable database: say so and when to retry, never a bare 500.
        # Footage reads land here too when their audit entry cannot be written: no look unlogged.
        log.error("storage unavailable on %s %s: %s", request.method, request.url.path, exc.orig)
        text = Message(N_("storage is unavailable (disk full?); nothing was changed"))
        return answer(request, 503, text, {"Retry-After": "10"})

    @app.exception_handler(Exception)
    async def server_error(request: Request, exc: Exception) -> Response:
        if isinstance(exc, OSError) and exc.errno == errno.ENOSPC:
            return await storage_error(request, OperationalError("write", None, exc))
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return answer(request, 500, Message(N_("internal server error")))


def iter_routes(app: FastAPI) -> list[tuple[str, Any]]:
    """Every route of the app as (full path, route), looking inside included routers.

    FastAPI >= 0.16x keeps included routers as lazy branches; older versions flatten them.
    """
    try:
        from fastapi.routing import _iter_routes_with_context
    except ImportError:  # older FastAPI: app.routes is already flat
        return [(getattr(r, "path", ""), r) for r in app.routes]
    out: list[tuple[str, Any]] = []
    for route, rc in _iter_routes_with_context(app.routes):
        starlette_route = getattr(rc, "starlette_route", None) if rc is not None else None
        path = getattr(starlette_route, "path", None) or getattr(route, "path", "")
        out.append((str(path), route))
    return out


def route_roles(route: Any) -> tuple[str, ...] | None:
    """The roles a route allows, read from its ``require`` dependency (or ``.roles`` on a
    WebSocket endpoint); None when the route has no role check."""
    found = _route_check(route, "roles")
    return tuple(found) if found else None


def route_permission(route: Any) -> str | None:
    """The action of the permission table a route checks (``require(action)``); None without one."""
    found = _route_check(route, "permission")
    return str(found) if found else None


def _route_check(route: Any, attr: str) -> Any:
    found = getattr(getattr(route, "endpoint", None), attr, None)
    if found:
        return found
    stack = list(getattr(getattr(route, "dependant", None), "dependencies", []))
    while stack:
        dep = stack.pop()
        found = getattr(dep.call, attr, None)
        if found:
            return found
        stack.extend(dep.dependencies)
    return None
