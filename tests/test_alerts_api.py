"""The alert queue API: server-side counts past any page size, acknowledgement with reasons (one and
bulk), the WebSocket push, escalation to an incident, and the false-alarm report."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from oversight.events.models import Alert
from oversight.store.models import Event
from web_support import client, make_ctx, tokens


@pytest.fixture
def ctx(db, tmp_path):
    c = make_ctx(db, tmp_path)
    yield c
    c.runtime.stop()


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


def seed(ctx: Any, n: int, camera: str = "cam0", rule: str = "door", priority: str = "P3") -> list[int]:
    t0 = datetime(2026, 6, 1, 12, tzinfo=UTC)
    with ctx.db.session() as s:
        rows = [
            Alert(
                kind="rule",
                camera_id=camera,
                rule_id=rule,
                priority=priority,
                sound="chime",
                title=f"person · zone '{rule}'",
                occurrences=1,
                opened_at=t0 + timedelta(seconds=i),
                updated_at=t0 + timedelta(seconds=i),
                data={},
            )
            for i in range(n)
        ]
        s.add_all(rows)
        s.flush()
        return [a.id for a in rows]


def test_counts_are_the_servers_not_a_page(ctx) -> None:
    seed(ctx, 230)
    seed(ctx, 5, camera="cam1", priority="P1")
    c = client(ctx)
    h = bearer(tokens(ctx.db, ("operator",))["operator"])
    count = c.get("/api/alerts/count", headers=h).json()
    assert count["unacknowledged"] == 235
    assert count["by_priority"] == {"P1": 5, "P2": 0, "P3": 230, "P4": 0}
    assert count["by_camera"] == {"cam0": 230, "cam1": 5}
    page = c.get("/api/alerts", params={"limit": 200}, headers=h).json()
    assert len(page["items"]) == 200 and page["next_before"] is not None
    rest = c.get("/api/alerts", params={"limit": 200, "before_id": page["next_before"]}, headers=h).json()
    assert len(rest["items"]) == 35 and rest["next_before"] is None
    cams = {cam["id"]: cam["active_alerts"] for cam in c.get("/api/cameras", headers=h).json()}
    assert cams == {"cam0": 230, "cam1": 5}


def test_acknowledge_with_reason_bulk_and_push(ctx) -> None:
    ids = seed(ctx, 4)
    toks = tokens(ctx.db, ("operator", "viewer", "auditor"))
    op, viewer = bearer(toks["operator"]), bearer(toks["viewer"])
    c = client(ctx)
    no_cause = c.post(f"/api/alerts/{ids[0]}/ack", json={"reason": "false_alarm"}, headers=op)
    assert no_cause.status_code == 422 and "needs a cause" in no_cause.text
    assert c.post(f"/api/alerts/{ids[0]}/ack", json={"reason": "maybe"}, headers=op).status_code == 422
    assert c.post(f"/api/alerts/{ids[0]}/ack", json={"reason": "real"}, headers=viewer).status_code == 403
    with (
        c.websocket_connect("/api/ws", headers=op) as op_ws,
        c.websocket_connect("/api/ws", headers=viewer) as viewer_ws,
    ):
        assert op_ws.receive_json()["topic"] == "hello"
        assert viewer_ws.receive_json()["topic"] == "hello"
        body = {"reason": "false_alarm", "cause": "lighting", "note": "sun glare on the glass"}
        r = c.post(f"/api/alerts/{ids[0]}/ack", json=body, headers=op)
        assert r.status_code == 200, r.text
        got = r.json()
        assert (got["ack_reason"], got["ack_cause"], got["ack_note"]) == (
            "false_alarm",
            "lighting",
            body["note"],
        )
        msg = op_ws.receive_json()
        assert msg["topic"] == "alert" and msg["data"]["phase"] == "ack" and msg["data"]["id"] == ids[0]
        # a viewer gets only the bare marker that refreshes per-camera counts: no reason, no note
        marker = viewer_ws.receive_json()
        assert marker["topic"] == "alert.ack" and set(marker["data"]) == {"alert_id", "camera_id"}
        assert op_ws.receive_json()["topic"] == "alert.ack"
    again = c.post(f"/api/alerts/{ids[0]}/ack", json={"reason": "real"}, headers=op).json()
    assert again["ack_reason"] == "false_alarm"  # the first acknowledgement stands
    bulk = c.post("/api/alerts/ack", json={"ids": ids, "reason": "test", "note": "monthly test"}, headers=op)
    assert bulk.json()["acknowledged"] == ids[1:]
    assert c.get("/api/alerts/count", headers=op).json()["unacknowledged"] == 0
    report = c.get("/api/alerts/report", headers=bearer(toks["auditor"])).json()["rows"]
    (row,) = report
    assert (row["camera_id"], row["rule_id"], row["alerts"], row["false_alarm"], row["test"]) == (
        "cam0",
        "door",
        4,
        1,
        3,
    )
    assert row["false_alarm_rate"] == 0.25


def test_escalate_a_rule_alert_to_an_incident(ctx) -> None:
    pytest.importorskip("oversight.incidents.service")
    with ctx.db.session() as s:
        ev = Event(
            camera_id="cam0",
            label="person",
            rule_id="door",
            rule_type="zone",
            start=datetime.now(UTC),
            confidence=0.9,
            data={},
        )
        s.add(ev)
        s.flush()
        now = datetime.now(UTC)
        a = Alert(
            kind="rule",
            camera_id="cam0",
            rule_id="door",
            priority="P2",
            sound="alarm",
            title="person · zone 'door'",
            event_id=ev.id,
            occurrences=1,
            opened_at=now,
            updated_at=now,
            data={},
        )
        health = Alert(
            kind="health", camera_id="cam0", rule_id="camera_down", priority="P2", sound="alarm",
            title="down", occurrences=1, opened_at=now, updated_at=now, data={},
        )  # fmt: skip
        s.add_all([a, health])
        s.flush()
        aid, hid, eid = a.id, health.id, ev.id
    c = client(ctx)
    op = bearer(tokens(ctx.db, ("operator",))["operator"])
    r = c.post(f"/api/alerts/{aid}/escalate", json={"note": "intruder"}, headers=op)
    assert r.status_code == 200, r.text
    assert r.json()["event_id"] == eid and r.json()["incident_id"]
    assert c.get(f"/api/alerts/{aid}", headers=op).json()["ack_reason"] == "real"
    assert c.post(f"/api/alerts/{hid}/escalate", json={}, headers=op).status_code == 409
