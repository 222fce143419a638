"""The incidents HTTP API inside the real web app: roles, clear 4xx errors, dispatch conflicts,
unit status from an API token, reports."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import timedelta

import pytest

pytest.importorskip("oversight.web.app")

from fastapi.testclient import TestClient  # noqa: E402

from incidents_helpers import site  # noqa: E402
from oversight.events.bus import EventBus  # noqa: E402
from oversight.store.base import utcnow  # noqa: E402
from oversight.store.db import Database  # noqa: E402
from oversight.store.models import Event, EvidenceHold  # noqa: E402
from oversight.web.app import create_app  # noqa: E402
from oversight.web.auth import create_api_token, create_user  # noqa: E402
from oversight.web.context import AppContext  # noqa: E402

PW = "correct horse battery"


def login(app: object, username: str) -> TestClient:
    c = TestClient(app)  # type: ignore[arg-type]
    r = c.post("/api/auth/login", json={"username": username, "password": PW})
    assert r.status_code == 200, r.text
    c.headers["X-CSRF-Token"] = c.cookies["ov_csrf"]
    return c


@pytest.fixture
def ctx(db: Database) -> AppContext:
    with db.session() as s:
        for name, role in (
            ("olga", "operator"),
            ("sam", "supervisor"),
            ("vic", "viewer"),
            ("aud", "auditor"),
        ):
            create_user(s, name, PW, role)
    return AppContext(cfg=site(), db=db, bus=EventBus())


@pytest.fixture
def app(ctx: AppContext) -> Iterator[object]:
    a = create_app(ctx)
    with TestClient(a):  # runs the lifespan: units synced, integrations started
        yield a


def test_create_dispatch_and_advance_over_http(app: object, ctx: AppContext) -> None:
    op = login(app, "olga")
    r = op.post(
        "/api/incidents",
        json={
            "type": "intrusion",
            "lat": 52.0,
            "lon": 5.0,
            "address": "Square",
            "caller_account": "someone on the roof",
        },
    )
    assert r.status_code == 201, r.text
    inc = r.json()
    assert inc["status"] == "new" and inc["created_by"] == "olga"
    assert [c["id"] for c in inc["cameras"]][:1] == ["gate"] and inc["cameras"][0]["live_url"].endswith(
        "live.mjpeg"
    )
    rec = inc["recommendation"]["recommended"]["unit"]["id"]
    assert rec == "P-off"
    r = op.post("/api/dispatch", json={"incident_id": inc["id"], "unit_id": rec, "recommended_unit_id": rec})
    assert r.status_code == 201, r.text
    assert [(i["id"], i["units"]) for i in op.get("/api/incidents").json()] == [(inc["id"], [rec])]
    r = op.post(f"/api/units/{rec}/status", json={"status": "en_route"})
    assert r.status_code == 200 and r.json()["status"] == "en_route"
    r = op.post(f"/api/incidents/{inc['id']}/status", json={"status": "on_scene"})
    assert r.status_code == 200 and r.json()["status"] == "on_scene", r.text
    units = {u["id"]: u for u in op.get("/api/units").json()}
    assert units[rec]["status"] == "on_scene"
    d = op.get(f"/api/incidents/{inc['id']}").json()
    assert [t["step"] for t in d["timers"]] == ["dispatch", "turnout", "travel", "total"]
    assert all(t["seconds"] is not None for t in d["timers"])


def test_bad_input_is_a_clear_4xx_and_changes_nothing(app: object) -> None:
    op = login(app, "olga")
    r = op.post("/api/incidents", json={"type": "ufo", "lat": 52.0, "lon": 5.0})
    assert r.status_code == 422 and "unknown incident type 'ufo'" in r.json()["detail"]
    r = op.post("/api/incidents", json={"type": "fire", "lat": 40.0, "lon": -3.7})
    assert r.status_code == 422 and "off the map" in r.json()["detail"]
    assert op.get("/api/incidents?status=all").json() == []
    iid = op.post("/api/incidents", json={"type": "fire", "x": 0.2, "y": 0.3, "address": "Hall"}).json()["id"]
    r = op.post(f"/api/incidents/{iid}/status", json={"status": "on_scene"})
    assert r.status_code == 422 and "next step is 'dispatched'" in r.json()["detail"]
    assert op.get(f"/api/incidents/{iid}").json()["status"] == "new"
    assert op.get("/api/incidents/424242").status_code == 404
    r = op.post("/api/dispatch", json={"incident_id": iid, "unit_id": "F-1"})
    assert r.status_code == 201
    r = op.post("/api/dispatch", json={"incident_id": iid, "unit_id": "F-1"})
    assert r.status_code == 409 and "F-1 is not available" in r.json()["detail"]


def test_roles(app: object, ctx: AppContext) -> None:
    vic, aud = login(app, "vic"), login(app, "aud")
    assert vic.get("/api/incidents").status_code == 403
    assert vic.get("/api/units").status_code == 403
    assert aud.get("/api/incidents").status_code == 200
    assert aud.post("/api/incidents", json={"type": "fire", "address": "x"}).status_code == 403
    anon = TestClient(app)  # type: ignore[arg-type]
    assert anon.get("/api/incidents").status_code == 401
    op = login(app, "olga")
    assert op.post("/api/units", json={"id": "X-1", "type": "police"}).status_code == 403
    sam = login(app, "sam")
    assert (
        sam.post("/api/units", json={"id": "X-1", "type": "police", "lat": 52.0, "lon": 5.0}).status_code
        == 201
    )


def test_unit_status_from_a_radio_gateway_token(app: object, ctx: AppContext) -> None:
    with ctx.db.session() as s:
        _, token = create_api_token(s, "radio-gw", "operator", "sam")
    op = login(app, "olga")
    iid = op.post("/api/incidents", json={"type": "medical", "lat": 52.0, "lon": 5.0}).json()["id"]
    assert op.post("/api/dispatch", json={"incident_id": iid, "unit_id": "M-close"}).status_code == 201
    radio = TestClient(app)  # type: ignore[arg-type]
    radio.headers["Authorization"] = f"Bearer {token}"
    r = radio.post("/api/units/M-close/status", json={"status": "en_route", "lat": 52.0002, "lon": 5.0})
    assert r.status_code == 200, r.text
    d = op.get(f"/api/incidents/{iid}").json()
    assert d["status"] == "en_route"
    assert any(e["actor"] == "token:radio-gw" and "M-close en route" in e["message"] for e in d["timeline"])


def test_from_alert_reports_and_csv(app: object, ctx: AppContext) -> None:
    with ctx.db.session() as s:
        ev = Event(
            camera_id="gate",
            label="person",
            rule_id="fence",
            rule_type="zone",
            start=utcnow() - timedelta(seconds=20),
            confidence=0.9,
            data={},
        )
        s.add(ev)
        s.flush()
        eid = ev.id
    op = login(app, "olga")
    r = op.post(f"/api/events/{eid}/escalate")
    assert r.status_code == 200 and r.json()["created"] and r.json()["type"] == "intrusion"
    assert r.json()["clips"][0]["camera_id"] == "gate"
    again = op.post(f"/api/events/{eid}/escalate").json()
    assert not again["created"] and again["id"] == r.json()["id"]
    with ctx.db.session() as s:
        assert s.query(EvidenceHold).count() == 1
    rep = op.get("/api/incidents/reports?group_by=type").json()
    assert rep["overall"]["count"] == 1
    csv = op.get("/api/incidents/reports.csv?detail=true")
    assert csv.status_code == 200 and csv.text.splitlines()[1].split(",")[1] == "intrusion"
    svg = op.get("/api/incidents/reports/chart.svg")
    assert svg.status_code == 200 and svg.headers["content-type"].startswith("image/svg")
    assert op.get("/api/incidents/reports?group_by=caller").status_code == 422
    cat = op.get("/api/incidents/catalogue").json()
    assert cat["priorities"][0] == {
        "id": "P1",
        "targets": {"dispatch": 64.0, "turnout": 80.0, "travel": 240.0, "total": 384.0},
    }


def test_two_consoles_dispatching_the_same_unit_over_http(app: object) -> None:
    olga, sam = login(app, "olga"), login(app, "sam")
    a = olga.post("/api/incidents", json={"type": "fire", "lat": 52.0, "lon": 5.0}).json()["id"]
    b = sam.post("/api/incidents", json={"type": "fire", "lat": 52.001, "lon": 5.0}).json()["id"]
    barrier = threading.Barrier(2)
    answers: dict[int, tuple[int, str]] = {}

    def go(client: TestClient, iid: int) -> None:
        barrier.wait()
        r = client.post("/api/dispatch", json={"incident_id": iid, "unit_id": "F-1"})
        answers[iid] = (r.status_code, r.text)

    threads = [threading.Thread(target=go, args=(c, i)) for c, i in ((olga, a), (sam, b))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    codes = sorted(code for code, _ in answers.values())
    assert codes == [201, 409], answers
    loser = next(i for i, (code, _) in answers.items() if code == 409)
    winner = a if loser == b else b
    assert f"F-1 is not available: it is dispatched to incident #{winner}" in answers[loser][1]
    assert olga.get(f"/api/incidents/{loser}").json()["status"] == "new"
