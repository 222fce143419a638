"""Per-camera access: every route, socket and export refuses a camera outside the person's groups.

The site has two camera groups, north (cam0) and south (cam1), and for every scoped role one person
granted north and one granted south. Routes come from the running app: a route whose path names a
camera or an object of a camera (event, alert, segment, export, reveal, hold, incident) is tried on
the other group's camera or object and must answer 404 (the answer for "no such thing", so it tells
nothing of other districts); every list route must not mention the other group's camera at all.
A path parameter the tables below do not know fails the test until someone says what it refers to.

``test_routes_refuse_cameras_outside_the_scope`` prints the figure: routes × roles × groups tried
and the unexpected successes (the target is 0).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
from starlette.routing import Mount
from starlette.websockets import WebSocketDisconnect

from oversight.config.loader import ConfigError, load_config
from oversight.config.schema import CameraGroup, SiteConfig
from oversight.events.models import Alert
from oversight.incidents.models import Incident, IncidentClip
from oversight.permissions import ALL_CAMERAS, camera_scope
from oversight.privacy.egress import egress
from oversight.privacy.models import AuditEntry, ExportRecord, RevealRequest, SubjectAccessRequest
from oversight.store.models import Event, EvidenceHold, Segment, User
from oversight.web.app import create_app, iter_routes
from oversight.web.auth import Principal
from oversight.web.console_models import Bookmark
from web_support import PASSWORD, add_users, client, login, make_ctx, site_yaml

SCOPED_ROLES = ("viewer", "operator", "supervisor", "auditor")
GROUPS = {"north": "cam0", "south": "cam1"}
OTHER = {"north": "south", "south": "north"}
NOW = datetime.now(UTC).replace(microsecond=0)

# What each path parameter refers to: a camera's object (seeded on both cameras, tried on the other
# group's) or nothing of a camera (with the reason it needs no scope check).
OBJECT_PARAMS = (
    "camera_id",
    "event_id",
    "alert_id",
    "segment_id",
    "export_id",
    "reveal_id",
    "hold_id",
    "incident_id",
    "bookmark_id",
    "request_id",
)
NO_CAMERA_PARAMS = {
    "username": "accounts (admins only, who see every camera)",
    "token_id": "API tokens (admins only)",
    "change_id": "pending changes of separation of duties (admins and auditors; no pixels)",
    "unit_id": "response units (vehicles, no camera)",
    "station_id": "response units' stations (no camera)",
    "kind": "site-wide reports (aggregates)",
    "file": "the public portal (aggregates, anonymous)",
    "job_id": "export jobs: only their exporter's, whose cameras the route checks (test_export_jobs)",
    "view_id": "saved layouts (cells naming cameras the viewer cannot see are left out)",
    "token": "a PTZ preset of the camera in the same path",
    "z": "street map tiles (no camera)",
    "x": "street map tiles (no camera)",
    "y": "street map tiles (no camera)",
}
# List routes whose answer is about the whole site by design, for roles that read it: the audit log
# (auditors audit everyone), site-wide reports and the camera configuration (admins only).
SITE_WIDE = {
    "/api/audit",
    "/api/audit/export",
    "/api/audit/verify",
    "/api/reports/retention",
    "/api/reports/{kind}",
    "/api/config/cameras",
}
# A valid body for the routes that take one, so that the answer is about the object, not the body.
BODIES: dict[str, dict[str, Any]] = {
    "/api/bookmarks/{bookmark_id}/incident": {"incident_id": 1},
    "/api/sars/{request_id}/marks": {"camera_id": "{own}", "ts": "{t0}", "x": 0.5, "y": 0.5},
    "/api/sars/{request_id}/refuse": {"reason": "not enough detail to find the footage"},
    "/api/alerts/{alert_id}/ack": {"reason": "real", "note": "x"},
    "/api/alerts/{alert_id}/escalate": {"note": "x"},
    "/api/events/{event_id}/ack": {"note": "x"},
    "/api/events/{event_id}/escalate": {},
    "/api/reveals/{reveal_id}/approve": {"note": "ok"},
    "/api/reveals/{reveal_id}/deny": {"note": "no"},
    "/api/holds/{hold_id}/renew": {"reason": "still needed for the case"},
    "/api/incidents/{incident_id}": {"description": "x"},
    "/api/incidents/{incident_id}/status": {"status": "dispatched"},
    "/api/incidents/{incident_id}/notes": {"text": "x"},
    "/api/incidents/{incident_id}/holds/release": {"reason": "the case is closed for good"},
    "/api/incidents/{incident_id}/clips": {"camera_id": "{own}", "start": "{t0}", "end": "{t1}"},
}
QUERIES = {"/api/cameras/{camera_id}/playback.mjpeg": {"start": (NOW - timedelta(minutes=5)).isoformat()}}


def _jpeg(path: Path) -> str:
    ok, buf = cv2.imencode(".jpg", np.full((180, 320, 3), 128, np.uint8))
    path.write_bytes(buf.tobytes())
    return str(path)


def _seed(ctx: Any, tmp: Path) -> dict[str, dict[str, int | str]]:
    """One of everything on each camera; returns the ids per group."""
    out: dict[str, dict[str, int | str]] = {}
    t0, t1 = NOW - timedelta(minutes=10), NOW - timedelta(minutes=9)
    with ctx.db.session() as s:
        for group, cam in GROUPS.items():
            e = Event(
                camera_id=cam,
                label="person",
                rule_id="door",
                rule_type="zone",
                start=t0,
                confidence=0.9,
                snapshot_path=_jpeg(tmp / f"{cam}.jpg"),
                data={},
            )
            s.add(e)
            s.flush()
            a = Alert(
                kind="rule",
                camera_id=cam,
                rule_id="door",
                priority="P2",
                sound="chime",
                title=f"zone on {cam}",
                event_id=e.id,
                opened_at=t0,
                updated_at=t0,
            )
            seg = Segment(
                camera_id=cam, start=t0, end=t1, path=_jpeg(tmp / f"{cam}-seg.mp4"), bytes=1, has_event=True
            )
            r = RevealRequest(
                requested_by=f"supervisor-{group}",
                camera_ids=[cam],
                start=t0,
                end=t1,
                reason="a case that needs it",
                reference="C-1",
                status="pending",
            )
            x = ExportRecord(
                exporter=f"supervisor-{group}",
                camera_ids=[cam],
                start=t0,
                end=t1,
                purpose="court case evidence",
                path=_jpeg(tmp / f"{cam}.zip"),
                manifest_sha256="0" * 64,
            )
            h = EvidenceHold(camera_id=cam, start=t0, end=t1, reason="case", created_by="supervisor-north")
            inc = Incident(
                type="assault",
                priority="P1",
                camera_id=cam,
                event_id=e.id,
                reported_at=t0,
                created_by="operator-north",
                source="alert",
            )
            b = Bookmark(camera_id=cam, start=t0, note="kiosk", created_by=f"operator-{group}")
            q = SubjectAccessRequest(
                received_at=t0, recorded_by="auditor", contact="by post", camera_ids=[cam], start=t0,
                end=t1, jurisdiction="gdpr", deadline_at=NOW + timedelta(days=30), identity_check="ID seen",
            )  # fmt: skip
            s.add_all([a, seg, r, x, h, inc, b, q])
            s.flush()
            out[group] = {
                "camera_id": cam,
                "event_id": e.id,
                "alert_id": a.id,
                "segment_id": seg.id,
                "export_id": x.id,
                "reveal_id": r.id,
                "hold_id": h.id,
                "incident_id": inc.id,
                "bookmark_id": b.id,
                "request_id": q.id,
            }
        # a phone call, no camera: everyone sees it, but only the clips of their own cameras
        call = Incident(type="assault", priority="P1", reported_at=t0, created_by="operator-north")
        s.add(call)
        s.flush()
        for group, cam in GROUPS.items():
            s.add(
                IncidentClip(
                    incident_id=call.id,
                    camera_id=cam,
                    start=t0,
                    end=t1,
                    hold_id=int(out[group]["hold_id"]),
                    added_by="operator-north",
                )
            )
            out[group]["call_id"] = call.id
    return out


def _grouped_ctx(db: Any, tmp: Path) -> Any:
    ctx = make_ctx(db, tmp)
    groups = [CameraGroup(id=g, name=g.title(), cameras=[cam]) for g, cam in GROUPS.items()]
    ctx.cfg = ctx.cfg.model_copy(update={"camera_groups": groups})
    return ctx


@pytest.fixture
def site(db, tmp_path):
    ctx = _grouped_ctx(db, tmp_path)
    add_users(db, ("admin",))
    from oversight.web.auth import create_user

    with db.session() as s:
        for role in SCOPED_ROLES:
            for group in GROUPS:
                create_user(s, f"{role}-{group}", PASSWORD, role).camera_groups = [group]
    ids = _seed(ctx, tmp_path)
    app = create_app(ctx)
    yield ctx, app, ids
    ctx.runtime.stop()


def _fill(path: str, ids: dict[str, int | str]) -> str:
    return re.sub(r"\{([^}:]+)[^}]*\}", lambda m: str(ids.get(m.group(1), "no-such-thing")), path)


def _body(path: str, own: str) -> dict[str, Any] | None:
    body = BODIES.get(path)
    if body is None:
        return None
    t0, t1 = NOW - timedelta(minutes=10), NOW - timedelta(minutes=9)
    subs = {"{own}": own, "{t0}": t0.isoformat(), "{t1}": t1.isoformat()}
    return {k: subs.get(v, v) if isinstance(v, str) else v for k, v in body.items()}


def _probe(c: Any, method: str, url: str, body: Any, params: Any, headers: Any) -> tuple[int, str]:
    """Status and the start of the body; a stream (live MJPEG) is cut after its first bytes."""
    with c.stream(method, url, json=body, params=params, headers=headers) as r:
        buf = b""
        for chunk in r.iter_bytes():
            buf += chunk
            if len(buf) > 1 << 20 or "multipart" in r.headers.get("content-type", ""):
                break
        return r.status_code, buf.decode("utf-8", "replace")


def _sessions(ctx: Any) -> dict[tuple[str, str], tuple[Any, dict[str, str]]]:
    out = {}
    for role in SCOPED_ROLES:
        for group in GROUPS:
            c = client(ctx)
            out[(role, group)] = (c, login(c, f"{role}-{group}"))
    return out


def test_routes_refuse_cameras_outside_the_scope(site):
    """Every route × scoped role × group: objects of the other group are 404, lists never name it."""
    ctx, app, ids = site
    sessions = _sessions(ctx)
    tried, leaks, unknown = 0, [], []
    for path, route in iter_routes(app):
        methods = sorted(m for m in (getattr(route, "methods", None) or []) if m != "HEAD")
        if isinstance(route, Mount) or not methods or path.startswith(("/public", "/docs", "/openapi")):
            continue
        params = re.findall(r"\{([^}:]+)", path)
        unknown += [
            f"{path}: {{{p}}}" for p in params if p not in OBJECT_PARAMS and p not in NO_CAMERA_PARAMS
        ]
        objects = [p for p in params if p in OBJECT_PARAMS]
        for method in methods:
            for (role, group), (c, csrf) in sessions.items():
                if "logout" in path or path.endswith("/password"):
                    continue  # ends the probe's own session; names no camera
                own, other = GROUPS[group], ids[OTHER[group]]
                url = _fill(path, ({**ids[group], **other} if objects else {}))
                body = _body(path, own) if method != "GET" else None
                status, text = _probe(c, method, url, body, QUERIES.get(path), csrf)
                tried += 1
                if objects:
                    if status not in (401, 403, 404):  # refused by role, or "no such thing"
                        leaks.append(f"{role}-{group} {method} {url}: {status} {text[:120]}")
                elif method == "GET" and status < 300 and path not in SITE_WIDE:
                    foreign = str(other["camera_id"])
                    if re.search(rf"\b{foreign}\b", text) or f"Camera {foreign[-1]}" in text:
                        leaks.append(f"{role}-{group} GET {url} names {foreign}: {text[:160]}")
    print(
        f"\ncamera scope: {tried} probes (routes x {len(SCOPED_ROLES)} roles x {len(GROUPS)} groups), "
        f"{len(leaks)} unexpected successes"
    )
    assert not unknown, "path parameters with no scope decision: " + ", ".join(unknown)
    assert not leaks, "\n".join(leaks)
    assert tried > 400


def test_lists_still_show_the_own_group(site):
    """Not vacuous: what the filters keep is the person's own group (and the call with no camera)."""
    ctx, _, ids = site
    c = client(ctx)
    login(c, "supervisor-north")
    assert [(x["id"], x["groups"]) for x in c.get("/api/cameras").json()] == [
        ("cam0", ["North"])
    ]  # views filter
    assert {e["camera_id"] for e in c.get("/api/events").json()["items"]} == {"cam0"}
    assert {a["camera_id"] for a in c.get("/api/alerts").json()["items"]} == {"cam0"}
    assert [r["camera_ids"] for r in c.get("/api/reveals").json()] == [["cam0"]]
    assert [x["camera_ids"] for x in c.get("/api/exports").json()] == [["cam0"]]
    assert {h["camera_id"] for h in c.get("/api/holds").json()} == {"cam0"}
    assert c.get(f"/api/events/{ids['north']['event_id']}").status_code == 200
    call = c.get(f"/api/incidents/{ids['north']['call_id']}").json()
    assert [clip["camera_id"] for clip in call["clips"]] == ["cam0"]
    assert {i["camera_id"] for i in c.get("/api/incidents", params={"status": "all"}).json()} == {
        "cam0",
        None,
    }
    assert [h["id"] for h in c.get("/api/health").json()["cameras"]] == ["cam0"]
    admin = client(ctx)
    login(admin, "admin")
    assert [x["id"] for x in admin.get("/api/config/cameras").json()] == ["cam0", "cam1"]


def test_body_cameras_outside_the_scope_are_refused(site):
    """Reveals, exports, evidence clips and bulk acknowledgement name cameras in their body."""
    ctx, _, ids = site
    c = client(ctx)
    h = login(c, "supervisor-north")
    t0, t1 = (NOW - timedelta(minutes=10)).isoformat(), (NOW - timedelta(minutes=9)).isoformat()
    reveal = {
        "camera_ids": ["cam0", "cam1"],
        "start": t0,
        "end": t1,
        "reason": "a case that needs it",
        "reference": "C-2",
    }
    assert c.post("/api/reveals", json=reveal, headers=h).status_code == 404
    export = {
        "camera_ids": ["cam1"], "start": t0, "end": t1, "purpose": "court case evidence", "recipient": "court"
    }  # fmt: skip
    assert c.post("/api/exports", json=export, headers=h).status_code == 404
    clip = {"camera_id": "cam1", "start": t0, "end": t1}
    assert c.post(f"/api/incidents/{ids['north']['call_id']}/clips", json=clip, headers=h).status_code == 404
    both = [ids["north"]["alert_id"], ids["south"]["alert_id"]]
    r = c.post("/api/alerts/ack", json={"ids": both, "reason": "real"}, headers=h)
    assert r.status_code == 200 and r.json()["acknowledged"] == [ids["north"]["alert_id"]]
    with ctx.db.session() as s:
        assert s.get(Alert, ids["south"]["alert_id"]).acknowledged_at is None
        assert s.query(RevealRequest).count() == 2 and s.query(ExportRecord).count() == 2


def test_sockets_carry_only_cameras_in_scope(site):
    ctx, _, ids = site
    c = client(ctx)
    login(c, "operator-north")
    with c.websocket_connect("/api/live.ws?ids=cam0,cam1") as ws:
        seen = set()
        for _ in range(6):
            msg = ws.receive_bytes()
            seen.add(msg[1 : 1 + msg[0]].decode())
    assert seen == {"cam0"}
    with (
        pytest.raises(WebSocketDisconnect) as refused,
        c.websocket_connect("/api/live.h264.ws?camera=cam1") as ws,
    ):
        ws.receive_text()
    assert refused.value.code == 4404
    with c.websocket_connect("/api/ws") as ws:
        assert ws.receive_json()["topic"] == "hello"
        for cam in ("cam1", "cam0"):
            ctx.bus.publish("event", {"id": 1, "camera_id": cam, "phase": "start", "label": "person"})
            ctx.bus.publish("camera.status", {"id": cam, "online": True})
        got = [ws.receive_json() for _ in range(2)]
    assert [(m["topic"], m["data"].get("camera_id", m["data"].get("id"))) for m in got] == [
        ("event", "cam0"),
        ("camera.status", "cam0"),
    ]


def test_the_egress_gate_refuses_cameras_outside_the_scope(site):
    """The second line: a route that forgot the check still gets no pixels from the gate."""
    ctx, _, ids = site
    who = Principal("operator-north", "operator", scope=camera_scope(ctx.cfg, "operator", ["north"]))
    gate = egress(ctx)
    for call in (
        lambda: gate.still(who, "cam1"),
        lambda: gate.open_live(who, ["cam0", "cam1"]),
        lambda: gate.playback(who, "cam1", NOW, None),
        lambda: gate.thumbnail(who, int(ids["south"]["event_id"])),
        lambda: gate.segment(who, int(ids["south"]["segment_id"])),
        lambda: gate.export_package(who, int(ids["south"]["export_id"])),
    ):
        with pytest.raises(LookupError):
            call()
    assert gate.thumbnail(who, int(ids["north"]["event_id"]))[:2] == b"\xff\xd8"  # its own: a JPEG


def test_granting_a_group_waits_for_a_second_admin_and_taking_it_away_does_not(site):
    ctx, _, _ = site
    add_users(ctx.db, ("auditor",))
    admin, auditor, op = client(ctx), client(ctx), client(ctx)
    ha, hu = login(admin, "admin"), login(auditor, "auditor")
    login(op, "operator-north")
    assert [x["id"] for x in admin.get("/api/camera-groups", headers=ha).json()] == ["north", "south"]
    r = admin.put(
        "/api/users/operator-north/camera-groups", json={"camera_groups": ["north", "south"]}, headers=ha
    )
    assert r.status_code == 202, r.text
    assert [x["id"] for x in op.get("/api/cameras").json()] == ["cam0"]  # not yet
    change = r.json()["pending_change"]["id"]
    assert admin.post(f"/api/changes/{change}/approve", json={}, headers=ha).status_code == 403  # own change
    assert auditor.post(f"/api/changes/{change}/approve", json={}, headers=hu).status_code == 200
    assert [x["id"] for x in op.get("/api/cameras").json()] == ["cam0", "cam1"]
    with op.websocket_connect("/api/live.ws?ids=cam0,cam1") as ws:
        ws.receive_bytes()
        r = admin.put("/api/users/operator-north/camera-groups", json={"camera_groups": []}, headers=ha)
        assert r.status_code == 200 and r.json()["camera_groups"] == []
        with pytest.raises(WebSocketDisconnect) as ended:
            for _ in range(200):  # the stream ends within about a second of losing the group
                ws.receive_bytes()
        assert ended.value.code == 4401
    assert op.get("/api/cameras").json() == []
    bad = admin.put("/api/users/operator-north/camera-groups", json={"camera_groups": ["west"]}, headers=ha)
    assert bad.status_code == 400
    with ctx.db.session() as s:
        rows = s.query(AuditEntry).filter(AuditEntry.action == "user.camera_groups").all()
        details = [r.detail["camera_groups"] for r in rows]
        assert s.query(User).filter_by(username="operator-north").one().camera_groups == []
    assert details == [{"added": ["south"], "removed": []}, {"added": [], "removed": ["north", "south"]}]


def _cfg(groups: list[dict[str, Any]], ungrouped: str = "everyone") -> SiteConfig:
    cams = [{"id": f"c{i}", "purpose": "a test camera", "streams": {"record": "x.mp4"}} for i in range(4)]
    return SiteConfig.model_validate(
        {"cameras": cams, "camera_groups": groups, "site": {"security": {"ungrouped_cameras": ungrouped}}}
    )


NORTH = {"id": "north", "cameras": ["c0", "c1"]}
SOUTH = {"id": "south", "cameras": ["c1", "c2"], "roles": ["supervisor"]}


@pytest.mark.parametrize(
    ("groups", "ungrouped", "role", "granted", "sees"),
    [
        ([], "everyone", "viewer", [], None),  # no groups configured: today's behaviour, every camera
        ([NORTH, SOUTH], "everyone", "admin", [], None),  # admins edit the groups: every camera
        ([NORTH, SOUTH], "everyone", "viewer", [], {"c3"}),  # only the camera in no group
        ([NORTH, SOUTH], "nobody", "viewer", [], set()),
        ([NORTH, SOUTH], "everyone", "operator", ["north"], {"c0", "c1", "c3"}),
        ([NORTH, SOUTH], "nobody", "supervisor", [], {"c1", "c2"}),  # granted to the role
        ([NORTH, SOUTH], "nobody", "supervisor", ["north"], {"c0", "c1", "c2"}),  # a camera in two groups
        ([NORTH, SOUTH], "nobody", "operator", ["west"], set()),  # a group since deleted grants nothing
    ],
)
def test_camera_scope_table(groups, ungrouped, role, granted, sees):
    scope = camera_scope(_cfg(groups, ungrouped), role, granted)
    assert scope.cameras == (None if sees is None else frozenset(sees))
    assert (scope == ALL_CAMERAS) == (sees is None)


def test_a_group_naming_an_unknown_camera_is_a_config_error(tmp_path):
    import yaml

    path = site_yaml(tmp_path)
    data = yaml.safe_load(path.read_text())
    data["camera_groups"] = [{"id": "north", "cameras": ["cam0", "cam9"]}]
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(ConfigError, match="cam9"):
        load_config(path)
    data["camera_groups"] = [{"id": "north", "cameras": ["cam0"]}]
    path.write_text(yaml.safe_dump(data))
    assert load_config(path).camera_groups[0].cameras == ["cam0"]


def test_the_console_grants_groups_too(db, db_url, tmp_path):
    import yaml
    from typer.testing import CliRunner

    from oversight.cli import app
    from oversight.web.auth import create_user

    path = site_yaml(tmp_path)
    data = yaml.safe_load(path.read_text())
    data["site"]["database_url"] = db_url
    data["camera_groups"] = [{"id": "north", "cameras": ["cam0"]}]
    path.write_text(yaml.safe_dump(data))
    with db.session() as s:
        create_user(s, "olga", PASSWORD, "operator")
    runner = CliRunner()
    r = runner.invoke(app, ["users", "groups", "olga", "north", "-c", str(path)])
    assert r.exit_code == 0, r.output
    assert "olga\toperator\tactive\tnorth" in runner.invoke(app, ["users", "list", "-c", str(path)]).output
    r = runner.invoke(app, ["users", "groups", "olga", "west", "-c", str(path)])
    assert r.exit_code == 1 and "no camera group 'west'" in r.output
    with db.session() as s:
        assert s.query(User).filter_by(username="olga").one().camera_groups == ["north"]
        entry = s.query(AuditEntry).filter(AuditEntry.action == "user.camera_groups").one()
        assert entry.actor.startswith("cli:") and entry.detail["camera_groups"]["added"] == ["north"]
