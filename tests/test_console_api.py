"""The console's saved views and bookmarks over HTTP: who sees and changes which view, shared views
need a supervisor, bookmarks are searched by note and attached to an incident as held footage."""

from __future__ import annotations

from datetime import timedelta

import pytest
from fastapi.testclient import TestClient

from oversight.store.base import utcnow
from oversight.store.db import Database
from oversight.store.models import EvidenceHold
from oversight.web.app import create_app
from web_support import add_users, login, make_ctx


@pytest.fixture
def clients(db: Database, tmp_path):
    ctx = make_ctx(db, tmp_path, cameras=4, runtime=False)
    add_users(db)
    app = create_app(ctx)
    out = {}
    for role in ("viewer", "operator", "supervisor", "auditor", "admin"):
        c = TestClient(app, base_url="http://testserver")
        c.headers.update(login(c, role))
        out[role] = c
    return out


VIEW = {
    "name": "Entrances",
    "layout": "2x2",
    "cells": [{"cameras": ["cam0"]}, {"cameras": ["cam1", "cam2"], "dwell_s": 5}],
}


@pytest.mark.parametrize(
    ("body", "status"),
    [
        (VIEW, 201),
        ({**VIEW, "layout": "1"}, 422),  # two cells do not fit one tile
        ({**VIEW, "cells": [{"cameras": ["nope"]}]}, 422),
        ({**VIEW, "layout": "5x5"}, 422),
        ({**VIEW, "shared": True}, 403),  # an operator cannot share
        ({**VIEW, "cells": [{"cameras": ["cam0"], "dwell_s": 0}]}, 422),
    ],
)
def test_view_validation(clients, body, status):
    r = clients["operator"].post("/api/views", json=body)
    assert r.status_code == status, r.text
    assert "Traceback" not in r.text


def test_private_and_shared_views(clients):
    op, sup, viewer = clients["operator"], clients["supervisor"], clients["viewer"]
    mine = op.post("/api/views", json=VIEW).json()
    shared = sup.post("/api/views", json={**VIEW, "name": "Night shift", "shared": True}).json()
    assert {v["name"] for v in op.get("/api/views").json()} == {"Entrances", "Night shift"}
    assert [v["name"] for v in viewer.get("/api/views").json()] == ["Night shift"]
    assert viewer.get(f"/api/views/{mine['id']}").status_code == 404  # private: not even its existence
    assert op.put(f"/api/views/{shared['id']}", json={**VIEW, "shared": True}).status_code == 403
    assert op.delete(f"/api/views/{shared['id']}").status_code == 403
    r = op.put(f"/api/views/{mine['id']}", json={**VIEW, "layout": "1+5", "name": "Renamed"})
    assert r.status_code == 200 and r.json()["layout"] == "1+5"
    assert op.get(f"/api/views/{mine['id']}").json()["cells"][1] == {
        "cameras": ["cam1", "cam2"],
        "dwell_s": 5,
    }
    assert op.put(f"/api/views/{mine['id']}/shared", json={"shared": True}).status_code == 403
    assert viewer.get(f"/api/views/{mine['id']}").status_code == 404
    assert sup.put(f"/api/views/{shared['id']}/shared", json={"shared": False}).json()["shared"] is False
    assert [v["name"] for v in viewer.get("/api/views").json()] == []
    assert clients["auditor"].get("/api/views").status_code == 403
    assert op.delete(f"/api/views/{mine['id']}").status_code == 204
    assert op.get(f"/api/views/{mine['id']}").status_code == 404


def test_bookmarks_search_and_attach(clients, db):
    op = clients["operator"]
    t = utcnow() - timedelta(minutes=5)
    a = op.post(
        "/api/bookmarks", json={"camera_id": "cam0", "start": t.isoformat(), "note": "red van stops at gate"}
    )
    assert a.status_code == 201, a.text
    b = op.post(
        "/api/bookmarks",
        json={
            "camera_id": "cam1",
            "start": t.isoformat(),
            "end": (t + timedelta(seconds=30)).isoformat(),
            "note": "100% cyclist",
            "source": "playback",
        },
    )
    assert b.status_code == 201
    assert [x["id"] for x in op.get("/api/bookmarks", params={"q": "van gate"}).json()] == [a.json()["id"]]
    assert [x["id"] for x in op.get("/api/bookmarks", params={"q": "100%"}).json()] == [b.json()["id"]]
    assert op.get("/api/bookmarks", params={"q": "_"}).json() == []  # a wildcard is a character here
    assert [x["id"] for x in op.get("/api/bookmarks", params={"camera_id": "cam1"}).json()] == [
        b.json()["id"]
    ]
    assert clients["auditor"].get("/api/bookmarks").status_code == 200
    assert (
        clients["auditor"]
        .post("/api/bookmarks", json={"camera_id": "cam0", "start": t.isoformat()})
        .status_code
        == 403
    )
    assert op.post("/api/bookmarks", json={"camera_id": "cam9", "start": t.isoformat()}).status_code == 422
    bad = {"camera_id": "cam0", "start": t.isoformat(), "end": (t - timedelta(seconds=1)).isoformat()}
    assert op.post("/api/bookmarks", json=bad).status_code == 422

    inc = op.post("/api/incidents", json={"type": "other", "description": "van", "address": "Main gate"})
    assert inc.status_code == 201, inc.text
    iid = inc.json()["id"]
    r = op.post(f"/api/bookmarks/{a.json()['id']}/incident", json={"incident_id": iid})
    assert r.status_code == 200, r.text and r.json()["incident_id"] == iid
    clips = op.get(f"/api/incidents/{iid}").json()["clips"]
    assert len(clips) == 1 and "red van stops at gate" in clips[0]["note"]
    with db.session() as s:
        hold = s.get(EvidenceHold, clips[0]["hold_id"])
        assert hold is not None and hold.start < t < hold.end  # a moment holds footage either side
    assert (
        op.post(f"/api/bookmarks/{a.json()['id']}/incident", json={"incident_id": 999999}).status_code == 404
    )
