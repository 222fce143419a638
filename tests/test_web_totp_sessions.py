"""TOTP second factor for the roles configured to need it (enrolment, codes, replay, admin
reset), and sessions that slide with use, lock when idle and end at their maximum age, audited."""

from __future__ import annotations

import re
import time
from datetime import timedelta
from typing import Any

import pyotp
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from oversight.privacy import audit
from oversight.store.base import utcnow
from oversight.web.app import create_app
from oversight.web.models import WebSession
from web_support import PASSWORD, add_users, login, make_ctx


@pytest.fixture
def ctx(db, tmp_path):  # type: ignore[no-untyped-def]
    c = make_ctx(db, tmp_path, cameras=1, runtime=False)
    c.cfg.site.security.totp_roles = ["supervisor", "admin"]
    add_users(db, ("operator", "supervisor", "admin"))
    return c


def _login(c: TestClient, user: str, code: str | None = None) -> Any:
    body = {"username": user, "password": PASSWORD} | ({"totp": code} if code else {})
    return c.post("/api/auth/login", json=body)


def _actions(ctx: Any, prefix: str) -> list[str]:
    with ctx.db.session() as s:
        return [e.action for e in audit.query(s) if e.action.startswith(prefix)]


def test_supervisor_enrols_then_needs_a_fresh_code_each_time(ctx: Any) -> None:
    c = TestClient(create_app(ctx))
    assert _login(c, "operator").status_code == 200  # not a role that needs it
    r = _login(c, "supervisor")
    assert r.status_code == 401 and r.json()["detail"]["totp"] == "enrol"
    secret = r.json()["detail"]["secret"]
    assert r.json()["detail"]["otpauth_uri"].startswith("otpauth://totp/")
    assert "ov_session" not in c.cookies or c.get("/api/auth/me").json()["username"] == "operator"
    wrong = _login(c, "supervisor", "000000" if pyotp.TOTP(secret).now() != "000000" else "111111")
    assert wrong.status_code == 401 and wrong.json()["detail"]["totp"] == "required"
    code = pyotp.TOTP(secret).now()
    ok = _login(c, "supervisor", code)
    assert ok.status_code == 200 and ok.json()["role"] == "supervisor"
    again = _login(TestClient(create_app(ctx)), "supervisor")
    assert again.status_code == 401 and again.json()["detail"] == {
        "totp": "required",
        "message": "Enter the code from your authenticator app.",
    }  # once enrolled, the seed is never shown again
    replay = _login(TestClient(create_app(ctx)), "supervisor", code)
    assert replay.status_code == 401  # the same code cannot be used twice
    later = pyotp.TOTP(secret).at(time.time() + 30)  # the next step (one step of drift is allowed)
    assert _login(TestClient(create_app(ctx)), "supervisor", later).status_code == 200
    assert _actions(ctx, "auth.totp") == ["auth.totp_failed", "auth.totp_enrolled", "auth.totp_failed"]
    with ctx.db.session() as s:  # a copy of the database alone does not hold the seed
        from oversight.web.models import UserTotp

        stored = s.scalar(select(UserTotp.secret))
    assert stored is not None and stored.startswith("nacl:") and secret not in stored


def test_admin_reset_makes_the_user_enrol_again(ctx: Any) -> None:
    c = TestClient(create_app(ctx))
    secret = _login(c, "supervisor").json()["detail"]["secret"]
    assert _login(c, "supervisor", pyotp.TOTP(secret).now()).status_code == 200
    admin = TestClient(create_app(ctx))
    admin_secret = _login(admin, "admin").json()["detail"]["secret"]
    csrf = {"X-CSRF-Token": _login(admin, "admin", pyotp.TOTP(admin_secret).now()).json()["csrf"]}
    assert admin.post("/api/users/supervisor/totp-reset", headers=csrf).status_code == 204
    assert c.get("/api/auth/me").status_code == 401  # the reset also ended their sessions
    r = _login(TestClient(create_app(ctx)), "supervisor")
    assert r.json()["detail"]["totp"] == "enrol" and r.json()["detail"]["secret"] != secret
    assert "user.totp_reset" in _actions(ctx, "user.")


def _age(ctx: Any, **cols: timedelta) -> None:
    with ctx.db.session() as s:
        s.execute(update(WebSession).values(**{k: utcnow() - v for k, v in cols.items()}))


def test_sessions_slide_lock_when_idle_and_end_at_max_age(ctx: Any) -> None:
    ctx.cfg.site.security.session_idle_minutes = 30
    ctx.cfg.site.security.session_max_hours = 8
    c = TestClient(create_app(ctx))
    login(c, "operator")
    _age(ctx, last_seen_at=timedelta(minutes=25), created_at=timedelta(hours=1))
    assert c.get("/api/auth/me").status_code == 200  # used within the idle limit: it slides
    with ctx.db.session() as s:
        seen = s.scalar(select(WebSession.last_seen_at))
    assert seen is not None and utcnow() - seen < timedelta(minutes=1)
    _age(ctx, last_seen_at=timedelta(minutes=31))
    assert c.get("/api/auth/me").status_code == 401  # idle: locked
    login(c, "operator")
    _age(ctx, created_at=timedelta(hours=8, minutes=1))
    assert c.get("/api/auth/me").status_code == 401  # busy all day, still ends at the maximum
    with ctx.db.session() as s:
        reasons = [e.detail["reason"] for e in audit.query(s, action="auth.session_expired")]
        assert s.scalar(select(WebSession)) is None
    assert reasons == ["idle", "max_age"]


@pytest.mark.browser
def test_login_page_enrols_and_asks_for_the_code(ctx: Any) -> None:
    from pathlib import Path

    pytest.importorskip("playwright.sync_api")
    if not Path("/usr/bin/chromium").exists():
        pytest.skip("Chromium not installed at /usr/bin/chromium")
    from playwright.sync_api import expect, sync_playwright

    from oversight.web.server import BackgroundServer

    with BackgroundServer(ctx) as url, sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path="/usr/bin/chromium", args=["--no-sandbox", "--disable-gpu"]
        )
        page = browser.new_page()
        page.goto(url + "/#/login")
        page.fill("input[name=username]", "supervisor")
        page.fill("input[name=password]", PASSWORD)
        page.keyboard.press("Enter")
        secret = page.locator("form code")
        expect(secret).to_have_text(re.compile(r"^[A-Z2-7]{16,}$"), timeout=15_000)
        page.fill("input[name=totp]", pyotp.TOTP(secret.inner_text()).now())
        page.click("button[type=submit]")
        expect(page.locator("#user-name")).to_contain_text("supervisor", timeout=15_000)
        browser.close()
