"""Security headers on every response: a CSP with no inline script or style, no framing, HSTS
only under TLS."""

from __future__ import annotations

from fastapi.testclient import TestClient

from oversight.web.app import create_app
from web_support import make_ctx


def test_strict_headers_and_hsts_only_under_tls(db, tmp_path) -> None:  # type: ignore[no-untyped-def]
    ctx = make_ctx(db, tmp_path, cameras=1, runtime=False)
    plain = TestClient(create_app(ctx)).get("/")
    csp = plain.headers["content-security-policy"]
    assert "'unsafe-inline'" not in csp and "'unsafe-eval'" not in csp
    assert "script-src 'self'" in csp and "style-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert plain.headers["x-content-type-options"] == "nosniff"
    assert plain.headers["referrer-policy"] == "no-referrer"
    assert "strict-transport-security" not in plain.headers
    tls = TestClient(create_app(ctx), base_url="https://testserver").get("/api/auth/state")
    assert tls.headers["strict-transport-security"].startswith("max-age=31536000")
