"""What makes the web app installable on a phone or tablet: the web app manifest, its icons and the
service worker, served from the site's root so the worker's scope is the whole app.

Icons are drawn here (OpenCV, the favicon's ring and dot) at first request and kept in memory, so the
repository holds no binary images. The worker (``static/sw.js``) caches nothing: see its header.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import cv2
import numpy as np
from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, JSONResponse, Response

from oversight.web.context import AppContext

THEME = "#161c22"  # app.css --panel: the top bar's colour
BACKGROUND = "#0f1317"  # app.css --bg
ACCENT = (0xA1, 0xB3, 0x5F)  # #5fb3a1 in OpenCV's BGR
ICONS = {"icon-192.png": (192, False), "icon-512.png": (512, False), "maskable-512.png": (512, True)}
MANIFEST_TYPE = "application/manifest+json"


def manifest(site_name: str) -> dict[str, Any]:
    """The web app manifest (W3C Web Application Manifest): a standalone app opening on the wall or
    the page the role lands on (``start_url`` "/" lets the app route)."""
    return {
        "name": site_name,
        "short_name": site_name[:12] or "Oversight",
        "id": "/",
        "start_url": "/",
        "scope": "/",
        "display": "standalone",
        "orientation": "any",
        "theme_color": THEME,
        "background_color": BACKGROUND,
        "icons": [
            {"src": "/static/favicon.svg", "sizes": "any", "type": "image/svg+xml", "purpose": "any"},
            *(
                {"src": f"/icons/{name}", "sizes": f"{px}x{px}", "type": "image/png"}
                | {"purpose": "maskable" if mask else "any"}
                for name, (px, mask) in ICONS.items()
            ),
        ],
    }


@lru_cache(maxsize=len(ICONS))
def icon_png(name: str) -> bytes:
    """The favicon's ring and dot on the app's background; a maskable icon keeps them inside the
    central 80 % that every launcher's mask leaves visible."""
    px, maskable = ICONS[name]
    img = np.zeros((px, px, 3), np.uint8)
    img[:] = (0x22, 0x1C, 0x16)
    scale = px / 32 * (0.75 if maskable else 1.0)
    c = px // 2
    cv2.circle(img, (c, c), round(13 * scale), ACCENT, max(1, round(3 * scale)), cv2.LINE_AA)
    cv2.circle(img, (c, c), round(5 * scale), ACCENT, -1, cv2.LINE_AA)
    ok, buf = cv2.imencode(".png", img)
    assert ok
    return buf.tobytes()


def add_install_routes(app: FastAPI, ctx: AppContext, static: Any) -> None:
    """Public routes (no session: a browser fetches them before anyone logs in): the manifest, the
    icons and the worker. The worker is served from / with ``Service-Worker-Allowed`` so its scope
    covers the app's every page."""

    @app.get("/manifest.webmanifest", include_in_schema=False)
    def web_manifest(request: Request) -> Response:
        body = manifest(ctx.cfg.site.name or "Oversight")
        return JSONResponse(body, media_type=MANIFEST_TYPE, headers={"Cache-Control": "no-cache"})

    @app.get("/sw.js", include_in_schema=False)
    def service_worker() -> FileResponse:
        headers = {"Cache-Control": "no-cache", "Service-Worker-Allowed": "/"}
        return FileResponse(static / "sw.js", media_type="text/javascript", headers=headers)

    for name in ICONS:
        app.add_api_route(
            f"/icons/{name}", _icon_route(name), methods=["GET"], include_in_schema=False, name=f"icon {name}"
        )


def _icon_route(name: str) -> Any:
    def icon() -> Response:
        return Response(icon_png(name), media_type="image/png", headers={"Cache-Control": "max-age=86400"})

    return icon
