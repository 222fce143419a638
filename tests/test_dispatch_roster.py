"""The dispatch a real centre needs, over the HTTP API of the real app: the unit roster (stations,
shifts, soft retirement), travel time by road when the city supplies a road network, the offline
address lookup, and evidence holds that outlive the incident until a supervisor releases them."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("oversight.web.app")

from fastapi.testclient import TestClient  # noqa: E402

from incidents_helpers import site  # noqa: E402
from oversight.config.schema import SiteConfig  # noqa: E402
from oversight.events.bus import EventBus  # noqa: E402
from oversight.privacy.models import AuditEntry  # noqa: E402
from oversight.store.base import utcnow  # noqa: E402
from oversight.store.db import Database  # noqa: E402
from oversight.web.app import create_app  # noqa: E402
from oversight.web.auth import create_user  # noqa: E402
from oversight.web.context import AppContext  # noqa: E402

PW = "correct horse battery"
INCIDENT = {"type": "intrusion", "lat": 52.0, "lon": 5.0, "address": "Square"}


def line(*pts: tuple[float, float], **props: Any) -> dict[str, Any]:
    coords = [[lon, lat] for lat, lon in pts]
    return {"type": "Feature", "geometry": {"type": "LineString", "coordinates": coords}, "properties": props}


# A river runs east-west just north of the square (52.0, 5.0); its only bridge is 1.4 km east.
# NORTH is 222 m from the square as the crow flies but 3 km by road; SOUTH is 444 m either way.
# CARPARK, 60 m away, is in a car park whose only lane leads nowhere: no road reaches the square.
RIVER_TOWN = {
    "type": "FeatureCollection",
    "features": [
        line((51.996, 5.0), (52.0, 5.0), name="South road"),
        line((52.0, 5.0), (52.0, 5.02), name="Square street"),
        line((52.0, 5.02), (52.002, 5.02), name="Bridge", maxspeed="30"),
        line((52.002, 5.02), (52.002, 5.0), name="North bank", oneway="-1"),
        line((52.0003, 5.0008), (52.0004, 5.0008), name="Car park lane"),
    ],
}
RIVER_UNITS = [
    {"id": "NORTH", "type": "police", "lat": 52.002, "lon": 5.0},
    {"id": "SOUTH", "type": "police", "lat": 51.996, "lon": 5.0},
    {"id": "CARPARK", "type": "police", "lat": 52.0003, "lon": 5.0008},
]


def login(app: object, username: str) -> TestClient:
    c = TestClient(app)  # type: ignore[arg-type]
    r = c.post("/api/auth/login", json={"username": username, "password": PW})
    assert r.status_code == 200, r.text
    c.headers["X-CSRF-Token"] = c.cookies["ov_csrf"]
    return c


def make_app(db: Database, cfg: SiteConfig) -> Iterator[object]:
    with db.session() as s:
        for name, role in (("olga", "operator"), ("sam", "supervisor")):
            create_user(s, name, PW, role)
    a = create_app(AppContext(cfg=cfg, db=db, bus=EventBus()))
    with TestClient(a):
        yield a


@pytest.fixture
def app(db: Database) -> Iterator[object]:
    yield from make_app(db, site())


def river_site(tmp_path: Path, roads: bool) -> SiteConfig:
    path = tmp_path / "roads.geojson"
    path.write_text(json.dumps(RIVER_TOWN))
    return SiteConfig.model_validate(
        {
            "site": {"data_dir": str(tmp_path), "road_network": str(path) if roads else None},
            "incidents": {"units": RIVER_UNITS},
        }
    )


def recommended(op: TestClient) -> dict[str, Any]:
    r = op.post("/api/incidents", json=INCIDENT)
    assert r.status_code == 201, r.text
    return r.json()["recommendation"]  # type: ignore[no-any-return]


def test_roster_stations_shifts_and_retirement(app: object, db: Database) -> None:
    sam, olga = login(app, "sam"), login(app, "olga")
    r = sam.post("/api/stations", json={"id": "norte", "name": "Comisaría Norte", "lat": 52.0002, "lon": 5.0})
    assert r.status_code == 201, r.text
    assert olga.post("/api/stations", json={"id": "x", "name": "X"}).status_code == 403
    r = sam.post("/api/units", json={"id": "P-new", "type": "police", "station": "norte"})
    assert r.status_code == 201 and r.json()["location"]["lat"] == 52.0002  # starts at its station
    r = sam.patch("/api/units/P-new", json={"name": "Móvil 9"})
    assert r.status_code == 200 and r.json()["name"] == "Móvil 9" and r.json()["station"] == "norte"
    assert recommended(olga)["recommended"]["unit"]["id"] == "P-new"  # the closest police unit

    assert olga.post("/api/units/P-new/shift", json={"on_duty": False}).json()["on_duty"] is False
    rec = recommended(olga)
    assert "P-new" not in [c["unit"]["id"] for c in rec["candidates"]]
    assert rec["recommended"]["unit"]["id"] == "P-off"  # the next closest, on shift
    r = olga.post("/api/dispatch", json={"incident_id": rec["incident_id"], "unit_id": "P-new"})
    assert r.status_code == 409 and "off shift" in r.json()["detail"]
    assert olga.post("/api/units/P-new/shift", json={"on_duty": True}).status_code == 200
    assert recommended(olga)["recommended"]["unit"]["id"] == "P-new"

    assert olga.post("/api/units/P-new/retire", json={}).status_code == 403  # supervisors keep the roster
    r = sam.post("/api/units/P-new/retire", json={"reason": "vehicle written off"})
    assert r.status_code == 200 and r.json()["retired"] is True
    assert "P-new" not in [u["id"] for u in olga.get("/api/units").json()]  # off the map and the board
    assert "P-new" in [u["id"] for u in olga.get("/api/units?retired=true").json()]  # history kept
    assert "P-new" not in [c["unit"]["id"] for c in recommended(olga)["candidates"]]
    r = olga.post("/api/units/P-new/location", json={"lat": 52.0, "lon": 5.0})
    assert r.status_code == 422 and "retired" in r.json()["detail"]
    with db.session() as s:
        actions = [a.action for a in s.query(AuditEntry).filter(AuditEntry.object_id.in_(["P-new", "norte"]))]
    assert {"station.create", "unit.create", "unit.update", "unit.shift", "unit.retire"} <= set(actions)


def test_a_busy_unit_cannot_retire_or_end_its_shift(app: object) -> None:
    sam = login(app, "sam")
    iid = sam.post("/api/incidents", json=INCIDENT).json()["id"]
    assert sam.post("/api/dispatch", json={"incident_id": iid, "unit_id": "P-off"}).status_code == 201
    for path, body in (("retire", {}), ("shift", {"on_duty": False})):
        r = sam.post(f"/api/units/P-off/{path}", json=body)
        assert r.status_code == 409 and "release it first" in r.json()["detail"]


@pytest.mark.parametrize(
    ("roads", "unit", "method", "routing"),
    [(True, "SOUTH", "road", "road"), (False, "CARPARK", "distance", "straight_line")],
)
def test_the_nearest_unit_by_road_is_recommended_when_the_city_has_a_road_network(
    db: Database, tmp_path: Path, roads: bool, unit: str, method: str, routing: str
) -> None:
    for a in make_app(db, river_site(tmp_path, roads)):
        rec = recommended(login(a, "olga"))
        assert rec["routing"] == routing
        assert rec["recommended"]["unit"]["id"] == unit and rec["recommended"]["method"] == method
        eta = {c["unit"]["id"]: c["eta_s"] for c in rec["candidates"]}
        dist = {c["unit"]["id"]: c["distance_m"] for c in rec["candidates"]}
        assert dist["NORTH"] < dist["SOUTH"]  # as the crow flies, north is nearer
        if roads:  # by road north drives 3 km round by the bridge (its bank is one-way towards it)
            assert eta["NORTH"] > 5 * eta["SOUTH"], eta
            order = [(c["unit"]["id"], c["method"]) for c in rec["candidates"]]
            assert order == [("SOUTH", "road"), ("NORTH", "road"), ("CARPARK", "distance")]  # no road: last
        else:
            assert dist["CARPARK"] < dist["NORTH"] and {c["method"] for c in rec["candidates"]} == {
                "distance"
            }


def test_address_lookup_route(db: Database, tmp_path: Path) -> None:
    gz = tmp_path / "gazetteer.geojson"
    point = {"type": "Point", "coordinates": [5.0, 52.0]}
    feat = {
        "type": "Feature",
        "geometry": point,
        "properties": {"addr:street": "Belgrano", "addr:housenumber": "450"},
    }
    gz.write_text(json.dumps({"type": "FeatureCollection", "features": [feat]}))
    cfg = SiteConfig.model_validate({"site": {"data_dir": str(tmp_path), "gazetteer": str(gz)}})
    for a in make_app(db, cfg):
        olga = login(a, "olga")
        r = olga.get("/api/map/address", params={"q": "Av. Belgrano N° 450"})
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["configured"] is True
        assert [(c["text"], c["lat"], c["lon"]) for c in body["candidates"]] == [("Belgrano 450", 52.0, 5.0)]
        assert olga.get("/api/map/address", params={"q": "Mitre 12"}).json()["candidates"] == []


def test_evidence_holds_outlive_the_incident_until_a_supervisor_releases_them(app: object) -> None:
    olga, sam = login(app, "olga"), login(app, "sam")
    iid = olga.post("/api/incidents", json=INCIDENT).json()["id"]
    t = utcnow()
    clip = {"camera_id": "north", "start": (t - timedelta(minutes=1)).isoformat(), "end": t.isoformat()}
    hold_id = olga.post(f"/api/incidents/{iid}/clips", json=clip).json()["hold_id"]
    r = olga.post(f"/api/incidents/{iid}/status", json={"status": "closed", "disposition": "false_alarm"})
    assert r.status_code == 200, r.text
    holds = {h["id"]: h for h in sam.get("/api/holds").json()}
    assert holds[hold_id]["in_force"] is True  # closing did not release it
    reason = {"reason": "false alarm, no footage needed"}
    assert olga.post(f"/api/incidents/{iid}/holds/release", json=reason).status_code == 403
    assert sam.post(f"/api/incidents/{iid}/holds/release", json={"reason": "x"}).status_code == 422
    r = sam.post(f"/api/incidents/{iid}/holds/release", json=reason)
    assert r.status_code == 200 and r.json()["released"] == 1, r.text
    assert {h["id"]: h for h in sam.get("/api/holds").json()}[hold_id]["in_force"] is False
