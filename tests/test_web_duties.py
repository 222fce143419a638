"""Separation of duties, admins included: sensitive changes do nothing until a second person approves."""

from __future__ import annotations

from typing import Any

import pytest

from oversight.permissions import PERMISSIONS
from oversight.privacy import audit
from oversight.web.auth import create_user
from web_support import PASSWORD, add_users, client, login, make_ctx, tokens


@pytest.fixture
def ctx(db, tmp_path):  # type: ignore[no-untyped-def]
    c = make_ctx(db, tmp_path)
    add_users(db, ("admin", "auditor", "supervisor", "viewer"))
    with db.session() as s:
        create_user(s, "admin2", PASSWORD, "admin")
    yield c
    c.runtime.stop()


def _as(ctx: Any, name: str) -> tuple[Any, dict[str, str]]:
    c = client(ctx)
    return c, login(c, name)


def test_an_admins_redaction_change_does_nothing_until_a_second_admin_approves(ctx: Any) -> None:
    admin, h = _as(ctx, "admin")
    cam = admin.get("/api/config/cameras/cam0", headers=h).json()
    off = {**cam, "redaction": {**cam["redaction"], "faces": False}}
    r = admin.put("/api/config/cameras/cam0", json=off, headers=h)
    assert r.status_code == 202, r.text
    change = r.json()["pending_change"]
    assert change["reasons"] == ["redaction.faces turned off"]
    assert ctx.cfg.camera("cam0").redaction.faces is True and ctx.runtime.applied == []
    assert "faces: false" not in ctx.config_path.read_text()
    url = f"/api/changes/{change['id']}/approve"
    assert admin.post(url, headers=h).status_code == 403  # not by the requester
    assert (
        client(ctx)
        .post(url, headers={"Authorization": f"Bearer {tokens(ctx.db, ('admin',))['admin']}"})
        .status_code
        == 403
    )
    viewer, vh = _as(ctx, "viewer")
    assert viewer.post(url, headers=vh).status_code == 403
    assert ctx.cfg.camera("cam0").redaction.faces is True
    second, h2 = _as(ctx, "admin2")
    r = second.post(url, json={"note": "camera faces a private garden wall only"}, headers=h2)
    assert r.status_code == 200 and r.json()["status"] == "approved", r.text
    assert r.json()["decided_by"] == "admin2" and r.json()["note"].startswith("camera faces")
    assert ctx.cfg.camera("cam0").redaction.faces is False and ctx.runtime.applied == ["cam0"]
    assert second.post(url, headers=h2).status_code == 409  # decided once
    with ctx.db.session() as s:
        entries = {e.action: e for e in audit.query(s)}
        approved = entries["change.approve"].detail
        assert (
            approved["before"]["redaction"]["faces"] is True
            and approved["after"]["redaction"]["faces"] is False
        )
        assert entries["change.approve"].actor == "admin2" and approved["requested_by"] == "admin"
        update = entries["config.camera.update"].detail["changed"]["redaction"]
        assert update["before"]["faces"] is True and update["after"]["faces"] is False


def test_harmless_changes_apply_at_once_and_rejection_applies_nothing(ctx: Any) -> None:
    admin, h = _as(ctx, "admin")
    cam = admin.get("/api/config/cameras/cam0", headers=h).json()
    assert admin.put("/api/config/cameras/cam0", json={**cam, "name": "Gate"}, headers=h).status_code == 200
    stronger = {**cam, "redaction": {**cam["redaction"], "persons": True}}
    assert admin.put("/api/config/cameras/cam0", json=stronger, headers=h).status_code == 200
    longer = {**stronger, "record": {**cam["record"], "retention_days": 30}}
    r = admin.put("/api/config/cameras/cam0", json=longer, headers=h)
    assert r.status_code == 202 and "record.retention_days" in r.json()["pending_change"]["reasons"][0]
    auditor, ha = _as(ctx, "auditor")  # the privacy officer may decide too
    rid = r.json()["pending_change"]["id"]
    assert auditor.post(f"/api/changes/{rid}/reject", headers=ha).json()["status"] == "rejected"
    assert ctx.cfg.camera("cam0").record.retention_days == 7
    assert [c["status"] for c in auditor.get("/api/changes").json()] == ["rejected"]


def test_a_token_that_sees_footage_is_inert_until_approved(ctx: Any) -> None:
    admin, h = _as(ctx, "admin")
    r = admin.post("/api/tokens", json={"name": "wall", "role": "operator"}, headers=h)
    assert r.status_code == 202
    bearer = {"Authorization": f"Bearer {r.json()['token']}"}
    assert client(ctx).get("/api/cameras", headers=bearer).status_code == 401
    auditor_tok = admin.post("/api/tokens", json={"name": "siem", "role": "auditor"}, headers=h)
    assert auditor_tok.status_code == 201  # no footage: no second person
    second, h2 = _as(ctx, "admin2")
    assert (
        second.post(f"/api/changes/{r.json()['pending_change']['id']}/approve", headers=h2).status_code == 200
    )
    assert client(ctx).get("/api/cameras", headers=bearer).status_code == 200


def test_a_token_revoked_while_waiting_is_never_activated(ctx: Any) -> None:
    admin, h = _as(ctx, "admin")
    r = admin.post("/api/tokens", json={"name": "wall", "role": "supervisor"}, headers=h)
    assert admin.delete(f"/api/tokens/{r.json()['id']}", headers=h).status_code == 204
    second, h2 = _as(ctx, "admin2")
    assert (
        second.post(f"/api/changes/{r.json()['pending_change']['id']}/approve", headers=h2).status_code == 409
    )
    assert (
        client(ctx).get("/api/cameras", headers={"Authorization": f"Bearer {r.json()['token']}"}).status_code
        == 401
    )


def test_resetting_another_users_password_needs_a_second_person(ctx: Any) -> None:
    admin, h = _as(ctx, "admin")
    new = "a brand new password"
    r = admin.patch("/api/users/supervisor", json={"password": new}, headers=h)
    assert r.status_code == 202
    login(client(ctx), "supervisor")  # the old password still works
    bad = client(ctx).post("/api/auth/login", json={"username": "supervisor", "password": new})
    assert bad.status_code == 401
    auditor, ha = _as(ctx, "auditor")
    assert (
        auditor.post(f"/api/changes/{r.json()['pending_change']['id']}/approve", headers=ha).status_code
        == 200
    )
    login(client(ctx), "supervisor", new)
    # granting footage rights, or creating an account that has them, waits too
    assert admin.patch("/api/users/auditor", json={"role": "supervisor"}, headers=h).status_code == 202
    body = {"username": "eve", "password": PASSWORD, "role": "supervisor"}
    assert admin.post("/api/users", json=body, headers=h).status_code == 202
    assert (
        client(ctx).post("/api/auth/login", json={"username": "eve", "password": PASSWORD}).status_code == 401
    )


def test_an_admin_account_has_no_footage_permission() -> None:
    """Admins manage; they never see footage, events or reveals, whatever the table grows to."""
    seeing = [
        a for a in PERMISSIONS if a.startswith(("footage.", "events.read", "alerts.", "reveal.request"))
    ]
    seeing += ["export.create"]
    assert {"footage.live", "footage.view", "export.create", "reveal.request"} <= set(seeing)
    assert [a for a in seeing if "admin" in PERMISSIONS[a]] == []
