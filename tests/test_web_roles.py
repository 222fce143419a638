"""Every route of the app, every role: allowed roles get through, others get 403, anonymous 401.

Routes come from the running app and the allowed roles from the permission table
(``oversight.permissions``), so a new route without a ``require(action)`` check fails here unless it
is on the small public list, and a change to the table is what changes who gets through.
"""

from __future__ import annotations

import inspect
import re
from typing import Any

import pytest
from starlette.routing import Mount
from starlette.websockets import WebSocketDisconnect

from oversight.permissions import PERMISSIONS, permissions_of, roles_for
from oversight.store.models import ROLES
from oversight.web.app import create_app, iter_routes, route_permission, route_roles
from web_support import add_users, client, login, make_ctx, tokens

PUBLIC = {
    ("GET", "/"),
    ("GET", "/favicon.ico"),
    # installing the app (web.install): fetched by the browser before anyone logs in, no data
    ("GET", "/manifest.webmanifest"),
    ("GET", "/sw.js"),
    ("GET", "/icons/icon-192.png"),
    ("GET", "/icons/icon-512.png"),
    ("GET", "/icons/maskable-512.png"),
    ("GET", "/openapi.json"),
    ("GET", "/docs"),
    ("GET", "/docs/oauth2-redirect"),
    ("GET", "/api/auth/state"),
    ("GET", "/api/auth/ended"),  # once, why an administrator ended this browser's own session
    ("POST", "/api/auth/login"),
    ("POST", "/api/auth/bootstrap"),
    ("GET", "/api/auth/oidc/login"),  # single sign-on: the provider authenticates
    ("GET", "/api/auth/oidc/callback"),
    # the transparency portal: aggregates only (tests/test_public_portal.py crawls it)
    ("GET", "/public"),
    ("GET", "/public/"),
    ("GET", "/public/{file}"),
    ("GET", "/public/data/{file}"),
    ("GET", "/api/i18n/catalog"),  # the log-in page is translated too: message texts only
}
PUBLIC_MOUNTS = {"/static", "/vendor/maplibre-gl"}  # the npm MapLibre build, when installed
SOCKETS = {
    "/api/ws": "events.stream",
    "/api/live.ws": "footage.live",
    "/api/live.h264.ws": "footage.live",
    "/api/live.wall.h264.ws": "footage.live",
}  # they check roles themselves


def _fill(path: str, route: Any) -> str:
    """Put harmless values that match nothing into the path parameters."""
    types: dict[str, Any] = {}
    dependant = getattr(route, "dependant", None)
    for p in getattr(dependant, "path_params", []):
        types[p.name] = getattr(p, "annotation", None) or getattr(
            getattr(p, "field_info", None), "annotation", None
        )

    def value(m: re.Match[str]) -> str:
        name = m.group(1).split(":")[0]
        t = types.get(name)
        return "999999" if (t is int or (inspect.isclass(t) and issubclass(t, int))) else "no-such-thing"

    return re.sub(r"\{([^}]+)\}", value, path)


@pytest.fixture
def setup(db, tmp_path):
    ctx = make_ctx(db, tmp_path)
    app = create_app(ctx)
    yield ctx, app, tokens(db)
    ctx.runtime.stop()


def test_every_http_route_checks_roles(setup):
    """Checked with browser sessions (cookie + CSRF header), as the UI calls the API."""
    ctx, app, _ = setup
    add_users(ctx.db)
    c = client(ctx)
    sessions = {}

    def session(role: str) -> tuple[Any, dict[str, str]]:
        if role not in sessions:
            sc = client(ctx)
            sessions[role] = (sc, login(sc, role))
        return sessions[role]

    unchecked, wrong = [], []
    checked = 0
    used: set[str] = set()
    for path, route in iter_routes(app):
        if isinstance(route, Mount):
            assert path in PUBLIC_MOUNTS, f"unexpected mount {path}"
            continue
        methods = sorted(getattr(route, "methods", None) or [])
        if not methods:
            continue  # websockets: next test
        for method in methods:
            if method == "HEAD":
                continue
            if (method, path) in PUBLIC:
                continue
            action = route_permission(route)
            if action is None:
                unchecked.append(f"{method} {path}")
                continue
            used.add(action)
            roles = PERMISSIONS[action]
            assert route_roles(route) == roles, (method, path)
            url = _fill(path, route)
            body = {} if method in ("POST", "PUT", "PATCH") else None
            anon = c.request(method, url, json=body)
            if anon.status_code != 401:
                wrong.append(f"anonymous {method} {path}: {anon.status_code}")
            for role in ROLES:
                sc, csrf = session(role)
                r = sc.request(method, url, json=body, headers=csrf)
                if "logout" in path and r.status_code < 300:
                    sessions.pop(role)  # that session ended, as it should
                denied = r.status_code in (401, 403)
                if (role in roles) == denied:
                    wrong.append(f"{role} {method} {path}: {r.status_code} (allowed: {', '.join(roles)})")
            checked += 1
    assert not unchecked, "routes without require(action): " + ", ".join(unchecked)
    assert not wrong, "\n".join(wrong)
    assert checked >= 30
    unused = set(PERMISSIONS) - used - set(SOCKETS.values())
    assert not unused, f"actions in the permission table that guard nothing: {sorted(unused)}"


def test_every_websocket_checks_roles(setup):
    ctx, app, toks = setup
    c = client(ctx)
    sockets = [
        (p, r) for p, r in iter_routes(app) if not getattr(r, "methods", None) and not isinstance(r, Mount)
    ]
    assert {p for p, _ in sockets} == set(SOCKETS)
    for path, route in sockets:
        roles = route_roles(route)
        assert roles == roles_for(SOCKETS[path]), f"websocket {path} does not follow the permission table"
        with pytest.raises(WebSocketDisconnect) as anon, c.websocket_connect(path) as ws:
            ws.receive_text()
        assert anon.value.code == 4401
        for role in ROLES:
            headers = {"Authorization": f"Bearer {toks[role]}"}
            if role in roles:
                with c.websocket_connect(path + "?ids=cam0&camera=cam0", headers=headers) as ws:
                    first = ws.receive()
                    assert first.get("type") == "websocket.send", (role, path, first)
            else:
                with (
                    pytest.raises(WebSocketDisconnect) as denied,
                    c.websocket_connect(path, headers=headers) as ws,
                ):
                    ws.receive_text()
                assert denied.value.code == 4403, (role, path)


def test_no_footage_for_auditors_and_admins_by_default(setup):
    """The issue's role model, stated directly: auditors and admins see no video."""
    _, app, _ = setup
    footage = [
        p
        for p, r in iter_routes(app)
        if re.search(r"(mjpeg|\.mp4|/snapshot\.jpg|thumbnail|download)", p)
        and not p.startswith("/api/config/")
    ]
    assert footage
    for path, route in iter_routes(app):
        if path in footage:
            roles = route_roles(route) or ()
            assert "auditor" not in roles and "admin" not in roles, path


@pytest.mark.parametrize("role", ROLES)
def test_me_lists_the_permissions_of_the_role(setup, role):
    """The UI shows and hides by these; they are the table's, for the logged-in role."""
    ctx, _, toks = setup
    r = client(ctx).get("/api/auth/me", headers={"Authorization": f"Bearer {toks[role]}"})
    assert r.status_code == 200
    assert r.json()["permissions"] == permissions_of(role)
    assert ("footage.view" in r.json()["permissions"]) == (role in ("operator", "supervisor"))
