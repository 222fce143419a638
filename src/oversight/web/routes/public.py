"""The public transparency portal under /public: no login, GET only, aggregates only.

Every response is a page or its JSON from ``oversight.web.portal`` or one of its three static files
(CSS, JS, icon); nothing here can reach footage, snapshots or the registers' names and notes.
A name outside the fixed lists is a 404, and with ``site.portal.enabled: false`` everything is.
Pages are in the reader's language (Accept-Language), English by default.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response

from oversight.i18n import N_, negotiate
from oversight.web.auth import get_ctx
from oversight.web.errors import http_error
from oversight.web.portal import ASSET_FILES, ASSETS, Portal, PortalCache
from oversight.web.portal_text import PAGES

router = APIRouter(tags=["public"], include_in_schema=False)
CACHE = {"Cache-Control": "public, max-age=60", "Vary": "Accept-Language"}  # in the reader's language
MEDIA = {"css": "text/css", "js": "text/javascript", "svg": "image/svg+xml"}


def _portal(request: Request) -> Portal:
    ctx = get_ctx(request)
    if not ctx.cfg.site.portal.enabled:
        raise http_error(404, N_("the public portal is switched off on this site"))
    state = request.app.state
    cache = getattr(state, "portal_cache", None)
    if cache is None:
        cache = state.portal_cache = PortalCache()
    return cache.get(ctx.db, ctx.cfg, negotiate(request.headers.get("accept-language")))


@router.get("/public")
def public_root() -> RedirectResponse:
    return RedirectResponse("/public/", status_code=307)  # so the pages' relative links resolve


@router.get("/public/")
def public_index(request: Request) -> Response:
    return HTMLResponse(_portal(request).html("index"), headers=CACHE)


@router.get("/public/{file}")
def public_file(request: Request, file: str) -> Response:
    if file in ASSET_FILES:
        if not get_ctx(request).cfg.site.portal.enabled:
            raise http_error(404, N_("the public portal is switched off on this site"))
        return FileResponse(ASSETS / file, media_type=MEDIA[file.rsplit(".", 1)[1]], headers=CACHE)
    name, _, ext = file.rpartition(".")
    if ext != "html" or name not in PAGES:
        raise http_error(404, N_("no such page"))
    return HTMLResponse(_portal(request).html(name), headers=CACHE)


@router.get("/public/data/{file}")
def public_data(request: Request, file: str) -> Response:
    name, _, ext = file.rpartition(".")
    if ext != "json" or name not in PAGES:
        raise http_error(404, N_("no such data"))
    body = _portal(request).pages[name].as_json()
    return Response(body, media_type="application/json", headers=CACHE)
