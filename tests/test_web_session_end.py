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


@pytest.mark.browser
def test_chromium_bounced_to_login_is_told_why(ctx: Any) -> None:
    """In a real browser: an operator's page, an administrator disables the account at the
    console; the page ends up on the login page, which says why, and says it only once."""
    from pathlib import Path

    from oversight.web.server import BackgroundServer

    chromium = Path("/usr/bin/chromium")
    if not chromium.exists():
        pytest.skip("/usr/bin/chromium is not installed")
    sync_api = pytest.importorskip("playwright.sync_api")
    from web_support import PASSWORD

    errors: list[str] = []
    with BackgroundServer(ctx) as url, sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(chromium), args=["--no-sandbox", "--disable-gpu"])
        try:
            page = browser.new_page()
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(url + "/#/login")
            page.fill("input[name=username]", "operator")
            page.fill("input[name=password]", PASSWORD)
            page.click("button[type=submit]")
            page.wait_for_selector("#top:not([hidden])")
            sync_api.expect(page.locator("#session-ended")).to_have_count(0)
            with ctx.db.session() as s:
                accounts.update_user(s, accounts.Actor("root", "cli"), "operator", active=False)
            # no reload: revocation closes the page's socket, and the app goes to the login page
            notice = page.locator("#session-ended")
            sync_api.expect(notice).to_have_text(END_REASONS["disabled"], timeout=10000)
            sync_api.expect(page.locator("input[name=username]")).to_be_visible()
            page.reload()
            sync_api.expect(page.locator("input[name=username]")).to_be_visible()
            sync_api.expect(notice).to_be_hidden()
        finally:
            browser.close()
    assert not errors, errors
