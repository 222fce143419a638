"""The app installs on a phone: the manifest is served and valid (name, standalone, start_url and
scope inside the app, theme colour, icons that exist at their declared sizes), the service worker is
served from the root with its scope allowed, and the whole shell keeps the strict CSP (no
'unsafe-inline'). The worker caches nothing: no footage or API answer is kept on the device."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from oversight.web.app import STATIC
from web_support import client, make_ctx


def test_the_manifest_is_served_and_valid(db: Any, tmp_path: Path) -> None:
    c = client(make_ctx(db, tmp_path, runtime=False))
    r = c.get("/manifest.webmanifest")
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/manifest+json")
    m = r.json()
    assert m["name"] == "Test site" and m["display"] == "standalone"
    assert m["start_url"] == "/" and m["scope"] == "/" and m["id"] == "/"
    assert re.fullmatch(r"#[0-9a-f]{6}", m["theme_color"]) and re.fullmatch(
        r"#[0-9a-f]{6}", m["background_color"]
    )
    sizes = set()
    for icon in m["icons"]:
        got = c.get(icon["src"])
        assert got.status_code == 200 and got.headers["content-type"].startswith(icon["type"]), icon
        if icon["type"] == "image/png":
            img = cv2.imdecode(np.frombuffer(got.content, np.uint8), cv2.IMREAD_COLOR)
            assert f"{img.shape[1]}x{img.shape[0]}" == icon["sizes"]
            sizes.add(icon["sizes"])
    assert {"192x192", "512x512"} <= sizes  # what Chromium asks of an installable app
    assert any(i.get("purpose") == "maskable" for i in m["icons"])
    index = c.get("/").text
    assert '<link rel="manifest" href="/manifest.webmanifest">' in index and 'name="theme-color"' in index


def test_the_worker_has_root_scope_and_the_shell_keeps_the_csp(db: Any, tmp_path: Path) -> None:
    c = client(make_ctx(db, tmp_path, runtime=False))
    sw = c.get("/sw.js")
    assert sw.status_code == 200 and sw.headers["content-type"].startswith("text/javascript")
    assert sw.headers["service-worker-allowed"] == "/" and sw.headers["cache-control"] == "no-cache"
    for path in ("/", "/sw.js", "/manifest.webmanifest", "/icons/icon-192.png", "/static/app.js"):
        csp = c.get(path).headers["content-security-policy"]
        assert "unsafe-inline" not in csp and "unsafe-eval" not in csp and "script-src 'self'" in csp, path


def test_the_worker_keeps_nothing_on_the_device() -> None:
    """No Cache Storage, no IndexedDB, no fetch handler: every request goes to the network."""
    code = re.sub(r"//.*", "", (STATIC / "sw.js").read_text())
    for forbidden in ("caches", "indexedDB", '"fetch"', "'fetch'", "localStorage"):
        assert forbidden not in code, forbidden
    assert 'addEventListener("push"' in code and 'addEventListener("notificationclick"' in code
