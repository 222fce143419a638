"""A session an administrator ended says why on the login page, once, and the telling is audited.

Each row: what the administrator did (over HTTP, or at the console), and the reason the bounced
browser is given. A user who ends their own sessions is told nothing (they know why).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient

from oversight.privacy import audit as audit_log
from oversight.web import accounts
from oversight.web.auth import END_REASONS
from web_support import add_users, client, login, make_ctx

Admin = Callable[[TestClient, dict[str, str], Any], None]


def _patch(body: dict[str, Any]) -> Admin:
    def act(admin: TestClient, csrf: dict[str, str], ctx: Any) -> None:
        assert admin.patch("/api/users/operator", json=body, headers=csrf).status_code == 200

    return act


def _post(path: str) -> Admin:
    def act(admin: TestClient, csrf: dict[str, str], ctx: Any) -> None:
        assert admin.post(f"/api/users/operator/{path}", headers=csrf).status_code == 204

    return act


def _console_password(admin: TestClient, csrf: dict[str, str], ctx: Any) -> None:
    with ctx.db.session() as s:
        accounts.update_user(s, accounts.Actor("root", "cli"), "operator", password="a new password 123")


@pytest.fixture
def ctx(db, tmp_path):  # type: ignore[no-untyped-def]
    c = make_ctx(db, tmp_path)
    add_users(db, ("admin", "operator"))
    yield c
    c.runtime.stop()


@pytest.mark.parametrize(
    ("act", "reason"),
    [
        (_patch({"active": False}), "disabled"),
        (_patch({"role": "viewer"}), "role_changed"),
        (_post("logout-all"), "revoked"),
        (_post("totp-reset"), "second_factor_reset"),
        (_console_password, "password_reset"),
    ],
    ids=["disable", "role", "logout-all", "totp-reset", "console-password"],
)
def test_the_login_page_says_why_once(ctx: Any, act: Admin, reason: str) -> None:
    browser, admin = client(ctx), client(ctx)
    login(browser, "operator")
    assert browser.get("/api/auth/ended").json()["reason"] is None  # a live session: nothing to say
    act(admin, login(admin, "admin"), ctx)
    assert browser.get("/api/auth/me").status_code == 401  # bounced to the login page
    told = browser.get("/api/auth/ended")
    assert told.json()["reason"] == reason and told.json()["message"] == END_REASONS[reason]
    assert browser.get("/api/auth/ended").json()["reason"] is None  # once
    with ctx.db.session() as s:
        shown = [e for e in audit_log.query(s) if e.action == "auth.session_end_shown"]
    assert len(shown) == 1 and shown[0].actor == "operator" and shown[0].detail["reason"] == reason


def test_ending_my_own_sessions_leaves_no_notice(ctx: Any) -> None:
    browser, other = client(ctx), client(ctx)
    login(browser, "operator")
    csrf = login(other, "operator")
    assert other.post("/api/auth/logout-all", headers=csrf).status_code == 204
    assert browser.get("/api/auth/me").status_code == 401
    assert browser.get("/api/auth/ended").json()["reason"] is None
