"""Four-eyes reveals: the rules in the library and through the HTTP API (no bypass)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, update

from oversight.events.bus import EventBus
from oversight.privacy import audit, reveals
from oversight.privacy.models import AuditEntry, RevealRequest
from oversight.store.db import Database
from privacy_helpers import client, make_users, site

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def test_library_rules(db: Database) -> None:
    with db.session() as s:
        r = reveals.request_reveal(
            s,
            "olga",
            "operator",
            ["cam1"],
            T0,
            T0 + timedelta(minutes=10),
            "assault reported at the fountain",
            "INC-42",
        )
        rid = r.id
    with db.session() as s, pytest.raises(reveals.RevealError, match="four-eyes"):
        reveals.decide(s, rid, "olga", "supervisor", True)
    with db.session() as s, pytest.raises(reveals.RevealError, match="supervisor"):
        reveals.decide(s, rid, "otto", "operator", True)
    with db.session() as s:
        reveals.decide(s, rid, "sue", "supervisor", True, "ok", timedelta(hours=1))
    with db.session() as s, pytest.raises(reveals.RevealError, match="already approved"):
        reveals.decide(s, rid, "sam", "supervisor", False)
    with db.session() as s:
        assert reveals.is_revealed(s, "olga", "cam1", T0 + timedelta(minutes=5)) is not None
        assert reveals.is_revealed(s, "olga", "cam1", T0 - timedelta(seconds=1)) is None  # before window
        assert reveals.is_revealed(s, "olga", "cam1", T0 + timedelta(minutes=11)) is None  # after window
        assert reveals.is_revealed(s, "olga", "cam2", T0 + timedelta(minutes=5)) is None  # other camera
        assert reveals.is_revealed(s, "sue", "cam1", T0 + timedelta(minutes=5)) is None  # other user
        assert reveals.covering_reveal(s, "olga", "cam1", T0, T0 + timedelta(minutes=20)) is None  # wider
        later = datetime.now(UTC) + timedelta(hours=2)
        assert reveals.is_revealed(s, "olga", "cam1", T0 + timedelta(minutes=5), now=later) is None  # expired
        actions = [e.action for e in audit.query(s)]
    assert actions == ["reveal.request", "reveal.approve"]


@pytest.mark.parametrize(
    "bad",
    [
        {"camera_ids": []},
        {"reason": "short"},
        {"reference": " "},
        {"end": T0 - timedelta(minutes=1)},
        {"end": T0 + timedelta(days=8)},
        {"camera_ids": ["nope"]},
    ],
)
def test_bad_requests_refused(db: Database, bad: dict) -> None:  # type: ignore[type-arg]
    args = {
        "camera_ids": ["cam1"],
        "start": T0,
        "end": T0 + timedelta(minutes=5),
        "reason": "a good long reason",
        "reference": "INC-1",
    } | bad
    with db.session() as s, pytest.raises(reveals.RevealError):
        reveals.request_reveal(s, "olga", "operator", known_cameras={"cam1", "cam2"}, **args)


@pytest.fixture
def app(db: Database, tmp_path: Path):  # type: ignore[no-untyped-def]
    from oversight.web.app import create_app
    from oversight.web.context import AppContext

    make_users(
        db,
        olga="operator",
        otto="operator",
        sue="supervisor",
        sam="supervisor",
        alice="auditor",
        vic="viewer",
    )
    return create_app(AppContext(cfg=site(tmp_path), db=db, bus=EventBus()))


def _body(**kw):  # type: ignore[no-untyped-def]
    b = {
        "camera_ids": ["cam1"],
        "start": T0.isoformat(),
        "end": (T0 + timedelta(minutes=10)).isoformat(),
        "reason": "assault reported at the fountain",
        "reference": "INC-42",
    }
    b.update(kw)
    return b


def test_api_four_eyes_cannot_be_bypassed(app, db: Database) -> None:  # type: ignore[no-untyped-def]
    olga, sue, sam, vic, alice = (client(app, u) for u in ("olga", "sue", "sam", "vic", "alice"))
    assert vic.post("/api/reveals", json=_body()).status_code == 403  # viewers cannot even ask
    r = olga.post("/api/reveals", json=_body())
    assert r.status_code == 201, r.text
    rid = r.json()["id"]
    assert olga.post(f"/api/reveals/{rid}/approve", json={}).status_code == 403  # operator
    # a supervisor's own request: she cannot approve it herself
    own = sue.post("/api/reveals", json=_body(camera_ids=["cam2"])).json()["id"]
    r = sue.post(f"/api/reveals/{own}/approve", json={})
    assert r.status_code == 403 and "four-eyes" in r.json()["detail"]
    assert alice.post(f"/api/reveals/{rid}/approve", json={}).status_code == 403  # auditor
    r = sue.post(f"/api/reveals/{rid}/approve", json={"note": "ok", "valid_hours": 1})
    assert r.status_code == 200 and r.json()["status"] == "approved"
    assert sam.post(f"/api/reveals/{rid}/deny", json={}).status_code == 409  # already decided
    assert [x["id"] for x in olga.get("/api/reveals").json()] == [rid]  # operators see their own
    assert len(alice.get("/api/reveals").json()) == 2
    with db.session() as s:
        acts = [(e.actor, e.action) for e in audit.query(s) if e.action.startswith("reveal")]
        assert ("sue", "reveal.decide_refused") in acts and ("sue", "reveal.approve") in acts
        assert audit.verify(s).ok


def test_api_reveal_scope_and_expiry(app, db: Database) -> None:  # type: ignore[no-untyped-def]
    from oversight.privacy import hooks
    from oversight.web.auth import Principal

    olga, sue = client(app, "olga"), client(app, "sue")
    rid = olga.post("/api/reveals", json=_body()).json()["id"]
    sue.post(f"/api/reveals/{rid}/approve", json={"valid_hours": 1})
    ctx = app.state.ctx
    p = Principal("olga", "operator")
    assert hooks.frame_reveal(ctx, "cam1", T0 + timedelta(minutes=1), p) is not None
    assert hooks.frame_reveal(ctx, "cam2", T0 + timedelta(minutes=1), p) is None
    assert hooks.frame_reveal(ctx, "cam1", T0 + timedelta(minutes=11), p) is None
    assert hooks.frame_reveal(ctx, "cam1", T0 + timedelta(minutes=1), Principal("sue", "supervisor")) is None
    assert (
        hooks.frame_reveal(ctx, "cam1", T0 + timedelta(minutes=1), Principal("olga", "operator", "token"))
        is None
    )
    # expired: move expiry into the past, caches dropped
    with db.session() as s:
        s.execute(update(RevealRequest).values(expires_at=datetime.now(UTC) - timedelta(seconds=1)))
    hooks.forget_cache(ctx)
    assert hooks.frame_reveal(ctx, "cam1", T0 + timedelta(minutes=1), p) is None
    assert olga.get("/api/reveals").json()[0]["status"] == "expired"


def test_revoke_stops_reveal(app, db: Database) -> None:  # type: ignore[no-untyped-def]
    from oversight.privacy import hooks
    from oversight.web.auth import Principal

    olga, sue = client(app, "olga"), client(app, "sue")
    rid = olga.post("/api/reveals", json=_body()).json()["id"]
    sue.post(f"/api/reveals/{rid}/approve", json={})
    assert olga.post(f"/api/reveals/{rid}/revoke").status_code == 200
    assert hooks.frame_reveal(app.state.ctx, "cam1", T0, Principal("olga", "operator")) is None
    with db.session() as s:
        assert (
            s.execute(select(AuditEntry.action).order_by(AuditEntry.seq.desc())).first()[0] == "reveal.revoke"
        )


def test_auditor_browses_and_exports_log(app, db: Database) -> None:  # type: ignore[no-untyped-def]
    olga, alice = client(app, "olga"), client(app, "alice")
    olga.post("/api/reveals", json=_body())
    assert olga.get("/api/audit").status_code == 403
    page = alice.get("/api/audit").json()
    assert page["total"] >= 1 and "reveal.request" in [e["action"] for e in page["entries"]]
    only = alice.get("/api/audit", params={"action": "reveal.*"}).json()["entries"]
    assert [e["action"] for e in only] == ["reveal.request"]
    csv_text = alice.get("/api/audit/export?format=csv").text
    assert csv_text.splitlines()[0].startswith("seq,ts,actor")
    v = alice.get("/api/audit/verify").json()
    assert not v["ok"] and "no genesis record" in v["message"]  # never started: nothing anchors it
    from oversight.privacy.audit_trail import Sealer
    from oversight.privacy.keys import load_or_create_signing_key

    ctx = app.state.ctx
    Sealer(db, load_or_create_signing_key(ctx.data_dir), ctx.data_dir).seal("start")
    v = alice.get("/api/audit/verify").json()
    assert v["ok"] and v["checkpoints"] == 1, v


def test_logins_are_audited(app, db: Database) -> None:  # type: ignore[no-untyped-def]
    from fastapi.testclient import TestClient

    c = TestClient(app)
    assert (
        c.post("/api/auth/login", json={"username": "olga", "password": "wrong password!"}).status_code == 401
    )
    assert c.post("/api/auth/login", json={"username": "ghost", "password": "whatever123"}).status_code == 401
    client(app, "olga")
    with db.session() as s:
        got = [(e.actor, e.action) for e in audit.query(s) if e.action.startswith("auth.")]
        assert got == [("olga", "auth.login_failed"), ("ghost", "auth.login_failed"), ("olga", "auth.login")]
        assert audit.verify(s).ok


NOW = datetime.now(UTC).replace(microsecond=0)


@pytest.mark.parametrize(
    ("start", "end", "outcome"),
    [
        (T0, T0 + timedelta(hours=6), 1),  # past footage: one approval
        (NOW - timedelta(minutes=5), NOW + timedelta(minutes=55), 1),  # live, within the hour
        (NOW, NOW + timedelta(hours=3), 2),  # live beyond an hour: two approvers
        (NOW + timedelta(hours=20), NOW + timedelta(hours=23), 2),
        (NOW, NOW + timedelta(days=7), "refused"),  # the week of live surveillance from the issue
        (NOW + timedelta(hours=25), NOW + timedelta(hours=26), "refused"),
    ],
)
def test_future_windows_are_limited(app, start: datetime, end: datetime, outcome: object) -> None:  # type: ignore[no-untyped-def]
    from oversight.privacy import hooks
    from oversight.web.auth import Principal

    olga, sue, sam = client(app, "olga"), client(app, "sue"), client(app, "sam")
    r = olga.post("/api/reveals", json=_body(start=start.isoformat(), end=end.isoformat()))
    if outcome == "refused":
        assert r.status_code == 400 and "past now" in r.json()["detail"], r.text
        return
    assert r.status_code == 201 and r.json()["approvals_needed"] == outcome
    rid = r.json()["id"]
    first = sue.post(f"/api/reveals/{rid}/approve", json={"valid_hours": 24}).json()
    olga_p, inside = Principal("olga", "operator"), start + timedelta(minutes=10)
    if outcome == 2:
        assert first["status"] == "pending" and first["first_approved_by"] == "sue"
        hooks.forget_cache(app.state.ctx)
        assert hooks.frame_reveal(app.state.ctx, "cam1", inside, olga_p) is None  # one signature: nothing
        again = sue.post(f"/api/reveals/{rid}/approve", json={})
        assert again.status_code == 403 and "different supervisor" in again.json()["detail"]
        first = sam.post(f"/api/reveals/{rid}/approve", json={"valid_hours": 24}).json()
    assert first["status"] == "approved"
    hooks.forget_cache(app.state.ctx)
    assert hooks.frame_reveal(app.state.ctx, "cam1", inside, olga_p) is not None


def test_reveal_limits_follow_configuration(db: Database) -> None:
    policy = reveals.RevealPolicy(ahead=timedelta(minutes=10), ahead_max=timedelta(hours=2))
    now = datetime.now(UTC)
    args = {"reason": "a good long reason", "reference": "INC-1", "policy": policy, "now": now}
    with db.session() as s:
        short = reveals.request_reveal(
            s, "olga", "operator", ["cam1"], now, now + timedelta(minutes=9), **args
        )
        longer = reveals.request_reveal(
            s, "olga", "operator", ["cam1"], now, now + timedelta(minutes=11), **args
        )
        assert (short.approvals_needed, longer.approvals_needed) == (1, 2)
        with pytest.raises(reveals.RevealError, match="past now"):
            reveals.request_reveal(s, "olga", "operator", ["cam1"], now, now + timedelta(hours=3), **args)
