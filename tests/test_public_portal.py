"""The public portal: an anonymous crawl of every URL reachable from /public finds no pixels, no names,
no notes and no stream addresses, and every published figure equals what was planted in the database.
The static export (``oversight report portal``) publishes the same figures."""

from __future__ import annotations

import json
import re
import shutil
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

import pytest
import yaml
from typer.testing import CliRunner

from oversight.cli import app as cli_app
from oversight.config.loader import load_config
from oversight.events.bus import EventBus
from oversight.events.models import Alert
from oversight.incidents.models import Incident
from oversight.privacy import audit
from oversight.privacy.audit_trail import sealer_for
from oversight.privacy.models import ExportRecord, RevealRequest
from oversight.privacy.recipients import COUNTED
from oversight.store.db import Database
from oversight.store.models import Event, User
from oversight.web.context import AppContext
from oversight.web.portal import month_starts
from oversight.web.portal_text import PAGES, STRINGS
from web_support import client, site_yaml

# Everything below must stay inside: names, notes, reasons, descriptions, callers, credentials.
SECRETS = (
    "alice_secretname",
    "bob_hiddenuser",
    "carol_privateauditor",
    "ghost_exporter",
    "SECRET-PURPOSE-NOTE",
    "REASON-FREE-TEXT",
    "DECISION-NOTE-QQQ",
    "CASE-REF-777",
    "EXPORT-PURPOSE-ABC",
    "INCIDENT-DESCRIPTION-SECRET",
    "INCIDENT-NOTES-SECRET",
    "Caller Person Name",
    "+15550199",
    "PRIVATE-ADDRESS-9",
    "ACK-NOTE-SECRET",
    "ALERT-TITLE-SECRET",
    "snapshot-secret.jpg",
    "camuser",
    "s3cretpw",
    "203.0.113.9",  # the camera's address (in the stream URL)
    "cam0.mp4",
    "SAR-CONTACT-SECRET",
    "SAR-DESCRIPTION-SECRET",
    "SAR-IDENTITY-SECRET",
    "SAR-REFUSAL-SECRET",
    "SAR-PLACES-SECRET",
    "RECIPIENT-REF-SECRET",  # who exactly received an export: auditors only
)
ALLOWED_TYPES = {"text/html", "application/json", "text/css", "text/javascript", "image/svg+xml"}
LAST_MONTH_DAY = 15


def _site(tmp: Path, db_url: str) -> Path:
    path = site_yaml(tmp)
    data = yaml.safe_load(path.read_text())
    data["site"]["database_url"] = db_url
    data["site"]["portal"] = {
        "contact": "Transparency office, City Hall",
        "sharing": ["Police, only under a court order, as a signed evidence export"],
        "legal_basis": "Municipal bylaw 7",
        "cache_minutes": 0,
        "months": 3,
    }
    cam0, cam1 = data["cameras"]
    cam0["legal_basis"] = "Traffic bylaw 12, art. 4"
    cam0["field_of_view"] = {"direction_deg": 90, "angle_deg": 70, "range_m": 40}
    cam0["streams"] = {"record": str(tmp / "cam0.mp4"), "detect": "rtsp://camuser:s3cretpw@203.0.113.9/s"}
    cam1["name"] = "<script>alert(1)</script>"  # configured text is escaped, never markup
    cam1["motion"] = {"masks": [[[0, 0], [50, 0], [50, 50]], [[60, 60], [90, 60], [90, 90]]]}
    cam1["ptz"] = {"presets": ["street", "door"], "preset": "street"}
    cam1["onvif"] = "http://127.0.0.1:9/onvif/device_service"  # a PTZ camera names its ONVIF address
    cam1["masks"] = [
        {"id": "window-12", "polygon": [[0.1, 0.1], [0.3, 0.1], [0.3, 0.4], [0.1, 0.4]]},
        {"id": "door-12", "polygon": [[0.6, 0.5], [0.8, 0.5], [0.7, 0.9]], "preset": "door"},
        {"id": "yard", "polygon": [[0.5, 0.0], [1.0, 0.0], [1.0, 0.2]], "kind": "liftable"},
    ]
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def _plant(db: Database, now: datetime) -> datetime:
    """Known rows in this month and the one before; returns an instant in the month before."""
    last = month_starts(now, 2)[0].replace(day=LAST_MONTH_DAY)
    with db.session() as s:
        for name, role in (
            ("alice_secretname", "supervisor"),
            ("bob_hiddenuser", "operator"),
            ("carol_privateauditor", "auditor"),
        ):
            s.add(User(username=name, password_hash="x", role=role))
    with db.session() as s:  # footage looks this month: operator 3, supervisor 2 + 1 reveal view
        for actor, role, action in [("bob_hiddenuser", "operator", "footage.view")] * 3 + [
            ("alice_secretname", "supervisor", "footage.live"),
            ("alice_secretname", "supervisor", "footage.live"),
            ("alice_secretname", "supervisor", "reveal.view"),
            ("carol_privateauditor", "auditor", "audit.read"),  # not a look at footage
        ]:
            audit.record(s, actor, action, "camera", "cam0", purpose="SECRET-PURPOSE-NOTE", role=role)
    w0, w1 = now - timedelta(hours=3), now - timedelta(hours=2)
    with db.session() as s:
        for status, created in (("approved", now), ("denied", now), ("pending", last)):
            s.add(
                RevealRequest(
                    requested_by="bob_hiddenuser",
                    camera_ids=["cam0", "cam1"],
                    start=w0,
                    end=w1,
                    reason="REASON-FREE-TEXT",
                    reference="CASE-REF-777",
                    status=status,
                    created_at=created,
                    decided_by="alice_secretname" if status != "pending" else None,
                    decided_at=now if status != "pending" else None,
                    decision_note="DECISION-NOTE-QQQ",
                )
            )
        for exporter, redacted, created, recipient in (
            ("alice_secretname", False, now, "court"),
            ("alice_secretname", True, now, "court"),
            ("alice_secretname", True, now, "data_subject"),
            ("ghost_exporter", True, last, None),  # made before categories: "not recorded"
            ("ghost_exporter", True, last, "police"),
        ):
            recipient_kw = {"recipient": recipient} if recipient else {}
            s.add(
                ExportRecord(
                    created_at=created,
                    exporter=exporter,
                    camera_ids=["cam0"],
                    start=w0,
                    end=w1,
                    purpose="EXPORT-PURPOSE-ABC",
                    reference="CASE-REF-777",
                    redacted=redacted,
                    path="/exports/x",
                    manifest_sha256="0" * 64,
                    recipient_ref="RECIPIENT-REF-SECRET Juzgado 4",
                    **recipient_kw,
                )
            )
        for typ, reported, dispatch_s, scene_s in (
            ("fire", now - timedelta(hours=1), 60, 300),
            ("fire", now - timedelta(hours=1), 120, 500),
            ("medical", last, 30, None),
        ):
            s.add(
                Incident(
                    type=typ,
                    priority="P2",
                    status="closed",
                    source="call",
                    address="PRIVATE-ADDRESS-9",
                    description="INCIDENT-DESCRIPTION-SECRET",
                    notes="INCIDENT-NOTES-SECRET",
                    caller_name="Caller Person Name",
                    caller_phone="+15550199",
                    snapshot_path="/var/snapshot-secret.jpg",
                    reported_at=reported,
                    created_by="bob_hiddenuser",
                    dispatched_at=reported + timedelta(seconds=dispatch_s),
                    on_scene_at=None if scene_s is None else reported + timedelta(seconds=scene_s),
                )
            )
        for reason, opened in (("false_alarm", now), ("real", now), (None, now), ("false_alarm", last)):
            s.add(
                Alert(
                    kind="rule",
                    camera_id="cam0",
                    rule_id="door",
                    priority="P3",
                    sound="chime",
                    title="ALERT-TITLE-SECRET",
                    opened_at=opened,
                    updated_at=opened,
                    acknowledged_by="bob_hiddenuser" if reason else None,
                    ack_reason=reason,
                    ack_note="ACK-NOTE-SECRET",
                )
            )
        s.add(Event(camera_id="cam0", label="person", start=now, snapshot_path="/var/snapshot-secret.jpg"))
    _plant_sars(db, now, last)
    return last


def _plant_sars(db: Database, now: datetime, last: datetime) -> None:
    """This month: answered in 2 days, refused in 4, one open past its deadline; last month: one open."""
    from oversight.privacy.models import SubjectAccessRequest

    with db.session() as s:
        for status, received, closed_after, due_after in (
            ("answered", now - timedelta(hours=1), 2, 10),
            ("refused", now - timedelta(hours=2), 4, 10),
            ("open", now - timedelta(hours=3), None, -1),  # its deadline has passed
            ("open", last, None, 30),
        ):
            s.add(
                SubjectAccessRequest(
                    received_at=received,
                    recorded_by="carol_privateauditor",
                    contact="SAR-CONTACT-SECRET",
                    camera_ids=["cam0"],
                    start=received - timedelta(days=1),
                    end=received - timedelta(days=1) + timedelta(hours=1),
                    places="SAR-PLACES-SECRET",
                    description="SAR-DESCRIPTION-SECRET",
                    jurisdiction="ar",
                    deadline_at=received + timedelta(days=due_after)
                    if due_after > 0
                    else now - timedelta(hours=1),
                    identity_check="SAR-IDENTITY-SECRET",
                    status=status,
                    closed_by="carol_privateauditor" if closed_after else None,
                    closed_at=received + timedelta(days=closed_after) if closed_after else None,
                    refusal_reason="SAR-REFUSAL-SECRET" if status == "refused" else None,
                )
            )


@pytest.fixture
def portal(db: Database, db_url: str, tmp_path: Path) -> Any:
    path = _site(tmp_path, db_url)
    cfg = load_config(path)
    now = datetime.now(UTC)
    if now.day == 1 and now.hour == 0:
        pytest.skip("too close to a month boundary for this-month figures")
    last = _plant(db, now)
    sealer_for(db, cfg).seal("manual")  # a genesis record and a signed digest, as `serve` makes
    ctx = AppContext(cfg=cfg, db=db, bus=EventBus(), config_path=path, cache_dir=tmp_path / "cache")
    return ctx, path, f"{now:%Y-%m}", f"{last:%Y-%m}"


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.links: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for k, v in attrs:
            if k in ("href", "src", "data-src") and v:
                self.links.append(v)


def crawl(c: Any) -> dict[str, Any]:
    """Every URL reachable from /public by links, anonymously; fails on any link leaving /public."""
    seen: dict[str, Any] = {}
    todo = ["/public"]
    while todo:
        url = todo.pop()
        if url in seen:
            continue
        r = c.get(url)
        assert r.status_code == 200, (url, r.status_code)
        seen[url] = r
        if r.headers["content-type"].startswith("text/html"):
            p = _Links()
            p.feed(r.text)
            for link in p.links:
                target = urlsplit(urljoin(str(r.url), link))
                assert target.path.startswith("/public/"), f"{url} links out of the portal: {link}"
                todo.append(target.path)
    return seen


def test_crawl_publishes_no_pixels_names_or_notes(portal: Any) -> None:
    ctx, _, _, _ = portal
    seen = crawl(client(ctx))
    pages = {f"/public/{p}.html" for p in PAGES} | {f"/public/data/{p}.json" for p in PAGES}
    assert pages | {"/public/portal.css", "/public/portal.js", "/public/favicon.svg"} <= set(seen)
    for url, r in seen.items():
        ctype = r.headers["content-type"].split(";")[0]
        assert ctype in ALLOWED_TYPES, (url, ctype)
        if ctype == "image/svg+xml":
            assert url == "/public/favicon.svg"  # the one image: a static icon
        body = r.text
        assert "data:image" not in body and "<img" not in body, url
        assert ctype != "text/html" or "<script>alert" not in body, url  # JSON carries it as a string
        leaked = [s for s in SECRETS if s.lower() in body.lower()]
        assert not leaked, f"{url} publishes {leaked}"
        assert "'unsafe-inline'" not in r.headers["content-security-policy"]
    assert "Transparency office, City Hall" in seen["/public/index.html"].text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in seen["/public/cameras.html"].text


def test_figures_equal_the_planted_records(portal: Any) -> None:
    ctx, _, this, last = portal
    c = client(ctx)
    months = c.get("/public/data/statistics.json").json()["data"]["months"]
    m, p = months[this], months[last]
    assert m["accesses_by_role"] == {"operator": 3, "supervisor": 3}
    assert p["accesses_by_role"] == {}
    assert m["reveals"] == {"requested": 2, "approved": 1, "denied": 1, "revoked": 0, "pending": 0}
    assert p["reveals"] == {"requested": 1, "approved": 0, "denied": 0, "revoked": 0, "pending": 1}
    assert [(r["Cameras"], r["Status"]) for r in m["reveal_scopes"]] == [("cam0, cam1", "approved")] + [
        ("cam0, cam1", "denied")
    ]
    zero = dict.fromkeys(COUNTED, 0)
    assert m["exports"] == {
        "total": 3, "unredacted": 1, "by_role": {"supervisor": 3},
        "by_recipient": {**zero, "court": 2, "data_subject": 1},
    }  # fmt: skip
    assert p["exports"] == {
        "total": 2, "unredacted": 0, "by_role": {"unknown": 2},
        "by_recipient": {**zero, "police": 1, "not_recorded": 1},
    }  # fmt: skip
    for key, month in ((this, m), (last, p)):  # the published counts are what the database says
        assert month["exports"]["by_recipient"] == {**zero, **_recipients_in_db(ctx.db, key)}
    assert m["incidents"]["count"] == 2 and m["incidents"]["by_type"] == {"fire": 2}
    steps = m["incidents"]["response_seconds"]
    assert (steps["dispatch"]["n"], steps["dispatch"]["p50"]) == (2, 90.0)
    assert (steps["total"]["n"], steps["total"]["p50"]) == (2, 400.0)
    assert m["incidents"]["response_seconds_by_type"]["fire"]["dispatch"]["p90"] == 114.0
    assert (
        p["incidents"]["by_type"] == {"medical": 1} and p["incidents"]["response_seconds"]["total"]["n"] == 0
    )
    assert m["alerts"] == [
        {
            "camera": "cam0",
            "rule": "door",
            "alerts": 3,
            "judged": 2,
            "false_alarms": 1,
            "false_alarm_rate": 0.5,
        }
    ]
    assert p["alerts"][0]["false_alarm_rate"] == 1.0
    assert m["sar"] == {
        "received": 3, "answered": 1, "refused": 1, "open": 1, "overdue": 1, "in_time": 2,
        "median_days": 3.0, "max_days": 4.0,
    }  # fmt: skip
    assert p["sar"]["received"] == 1 and p["sar"]["open"] == 1 and p["sar"]["median_days"] is None
    html = c.get("/public/statistics.html").text  # the page shows the same figures
    assert f"<tr><td>{this}</td><td>3</td><td>3</td><td>6</td></tr>" in html
    assert f"<tr><td>{this}</td><td>2</td><td>1</td><td>1</td><td>0</td><td>0</td></tr>" in html
    assert f"<td>{this}</td><td>cam0</td><td>door</td><td>3</td><td>2</td><td>1</td><td>50.0%</td>" in html
    assert f"<td>{this}</td><td>3</td><td>1</td><td>supervisor 3</td>" in html
    # by recipient: court, prosecutor, police, defence, data subject, public body, internal, not recorded
    assert (
        f"<tr><td>{this}</td><td>2</td><td>0</td><td>0</td><td>0</td><td>1</td><td>0</td><td>0</td><td>0</td></tr>"
        in html
    )
    assert (
        f"<tr><td>{last}</td><td>0</td><td>0</td><td>1</td><td>0</td><td>0</td><td>0</td><td>0</td><td>1</td></tr>"
        in html
    )
    assert 'id="stats.recipients"' in html and "Not recorded (before categories)" in html
    assert f"<td>{this}</td><td>fire</td><td>2</td><td>90 / 114</td><td>400 / 480</td>" in html
    assert f"<td>{last}</td><td>medical</td><td>1</td><td>30 / 30</td><td>-</td>" in html
    assert (
        f"<tr><td>{this}</td><td>3</td><td>1</td><td>1</td><td>1</td><td>1</td><td>2</td><td>3.0</td><td>4.0</td></tr>"
        in html
    )


def _recipients_in_db(db: Database, month: str) -> dict[str, int]:
    """Exports per recipient category in one UTC month, counted straight from the table."""
    from sqlalchemy import select

    with db.session() as s:
        rows = s.execute(select(ExportRecord.created_at, ExportRecord.recipient)).all()
    out: dict[str, int] = {}
    for created, recipient in rows:
        if f"{created.astimezone(UTC):%Y-%m}" == month:
            out[recipient] = out.get(recipient, 0) + 1
    return out


def test_cameras_policy_and_digest(portal: Any) -> None:
    ctx, _, _, _ = portal
    c = client(ctx)
    cams = {r["id"]: r for r in c.get("/public/data/cameras.json").json()["data"]["cameras"]}
    assert cams["cam0"]["legal_basis"] == "Traffic bylaw 12, art. 4"
    assert cams["cam1"]["legal_basis"] == "Municipal bylaw 7"  # the site's default
    assert cams["cam0"]["field_of_view"]["direction_deg"] == 90
    assert (cams["cam0"]["masked_areas"], cams["cam1"]["masked_areas"]) == (0, 5)
    assert cams["cam1"]["privacy_masks"] == {"permanent": 2, "liftable": 1, "presets": 1}
    page = c.get("/public/cameras.html").text
    assert "<tr><td>cam1</td><td>2</td><td>1</td><td>1</td></tr>" in page
    # the masked view: a schematic of the three polygons on a blank frame, no camera pixels
    svg = page[page.index('<svg xmlns="http://www.w3.org/2000/svg" class="mask-schematic"') :]
    svg = svg[: svg.index("</svg>")]
    assert svg.count("<polygon") == 3 and "<image" not in svg and "href" not in svg
    assert cams["cam0"]["retention_days"] == 7.0 and cams["cam0"]["purpose"] == "traffic safety on the square"
    policy = c.get("/public/data/policy.json").json()
    assert policy["data"]["accounts_by_role"] == {"supervisor": 1, "operator": 1, "auditor": 1}
    assert policy["data"]["permissions"]["reveal.approve"] == ["supervisor"]
    text = c.get("/public/policy.html").text
    assert "Police, only under a court order" in text and "approved by a different person" in text
    assert "Court or judge, Prosecutor, Police, Defence" in text  # the published recipient categories
    digest = c.get("/public/data/audit.json").json()["data"]
    with ctx.db.session() as s:
        from oversight.privacy.audit_trail import latest_digest, load_genesis

        latest = latest_digest(s, ctx.cfg.site.data_dir)
    genesis = load_genesis(ctx.cfg.site.data_dir)
    assert latest is not None and genesis is not None
    assert digest["latest"]["digest"] == latest["digest"] and digest["latest"]["number"] == latest["number"]
    assert digest["genesis"]["fingerprint"] == genesis.fingerprint
    assert (
        genesis.fingerprint in c.get("/public/").text and latest["digest"] in c.get("/public/audit.html").text
    )


def test_mapping_links_resolve_to_sections(portal: Any) -> None:
    """Every row of the CCOPS / UK code table points at a page and a heading that exist."""
    ctx, _, _, _ = portal
    c = client(ctx)
    rows = c.get("/public/data/mapping.json").json()["blocks"][2][2]
    assert len([r for r in rows if str(r[0]).startswith("UK code principle")]) == 12
    for row in rows:
        if isinstance(row[2], str):  # not held by the system: said so
            continue
        page, _, anchor = row[2][1].partition("#")
        html = c.get(f"/public/{page}").text
        assert not anchor or f'id="{anchor}"' in html, row


@pytest.mark.parametrize(
    "url,status",
    [
        ("/public/secret.html", 404),
        ("/public/data/users.json", 404),
        ("/public/..%2Fapp.js", 404),
        ("/public/data/statistics.html", 404),
        ("/public/index.json", 404),
        ("/public/app.css", 404),
    ],
)
def test_only_the_portal_is_public(portal: Any, url: str, status: int) -> None:
    ctx, _, _, _ = portal
    assert client(ctx).get(url).status_code == status


def test_portal_switched_off(portal: Any) -> None:
    ctx, _, _, _ = portal
    ctx.cfg.site.portal.enabled = False
    c = client(ctx)
    assert c.get("/public/").status_code == 404 and c.get("/public/data/cameras.json").status_code == 404


def test_strings_complete_for_every_language() -> None:
    """A translation is a dict with exactly the English keys and the same placeholders."""
    en = STRINGS["en"]
    for lang, tx in STRINGS.items():
        assert set(tx) == set(en), lang
        for k, v in tx.items():
            assert set(re.findall(r"{(\w+)", v)) == set(re.findall(r"{(\w+)", en[k])), (lang, k)


def test_static_export_publishes_the_same(portal: Any, tmp_path: Path) -> None:
    ctx, path, this, _ = portal
    served = client(ctx).get("/public/data/statistics.json").json()["data"]
    out = tmp_path / "site"
    r = CliRunner().invoke(cli_app, ["report", "portal", "-c", str(path), "--out", str(out)])
    assert r.exit_code == 0, r.output
    for p in PAGES:
        assert (out / f"{p}.html").is_file() and (out / "data" / f"{p}.json").is_file()
    for asset in ("portal.css", "portal.js", "favicon.svg"):
        assert (out / asset).is_file()
    assert {f.stat().st_mode & 0o777 for f in out.rglob("*") if f.is_file()} == {0o644}  # published
    assert (out / "data").stat().st_mode & 0o777 == 0o755
    exported = json.loads((out / "data" / "statistics.json").read_text())["data"]
    assert exported["months"][this] == served["months"][this]
    index = (out / "index.html").read_text()
    assert 'href="cameras.html"' in index and 'src="portal.js"' in index
    for f in out.rglob("*"):
        if f.is_file():
            body = f.read_text(encoding="utf-8")
            assert not [s for s in SECRETS if s.lower() in body.lower()], f
    with ctx.db.session() as s:
        assert audit.verify(s).ok
    bad = CliRunner().invoke(cli_app, ["report", "nonsense", "-c", str(path)])
    assert bad.exit_code != 0 and "portal" in bad.output


def test_docs_map_every_element() -> None:
    """docs/portal.md carries the same CCOPS / UK code table as the portal's mapping page."""
    from oversight.web.portal_text import MAPPING

    doc = (Path(__file__).resolve().parents[1] / "docs" / "portal.md").read_text()
    en = STRINGS["en"]
    for fw_key, el_key, page, _ in MAPPING:
        assert f"| {en[fw_key]} | {en[el_key]} |" in doc
        assert not page or f"/public/{page}.html" in doc


def test_anonymous_requests_reuse_one_build(portal: Any) -> None:
    """Within cache_minutes a new record does not show (no recount per request); a config edit does."""
    ctx, _, this, _ = portal
    ctx.cfg.site.portal.cache_minutes = 10
    c = client(ctx)

    def requested() -> int:
        return int(
            c.get("/public/data/statistics.json").json()["data"]["months"][this]["reveals"]["requested"]
        )

    assert requested() == 2
    now = datetime.now(UTC)
    with ctx.db.session() as s:
        s.add(
            RevealRequest(
                requested_by="x", camera_ids=["cam0"], start=now, end=now, reason="r", reference="r"
            )
        )
    assert requested() == 2
    ctx.cfg = ctx.cfg.model_copy(deep=True)  # what an edit on the Configure page does
    assert requested() == 3


def test_static_export_ends_at_to(portal: Any, tmp_path: Path) -> None:
    _, path, _, _ = portal
    out = tmp_path / "jan"
    r = CliRunner().invoke(
        cli_app, ["report", "portal", "-c", str(path), "--out", str(out), "--to", "2026-01-15"]
    )
    assert r.exit_code == 0, r.output
    months = json.loads((out / "data" / "statistics.json").read_text())["data"]["months"]
    assert list(months) == ["2025-11", "2025-12", "2026-01"]


def test_no_server_paths_even_when_the_audit_check_fails(portal: Any) -> None:
    ctx, _, _, _ = portal
    data_dir = Path(ctx.cfg.site.data_dir)
    shutil.rmtree(data_dir / "audit")  # the audit check now fails, naming this folder
    seen = crawl(client(ctx))
    assert "FAILED verification" in seen["/public/pia.html"].text
    for url, r in seen.items():
        assert str(data_dir) not in r.text, url


def test_the_portal_speaks_the_readers_language(portal: Any) -> None:
    """Accept-Language picks the catalogue (a cache keyed by it says so); the PIA page cites the
    Latin-American frameworks in Spanish; without the header the portal stays English."""
    ctx, _, _, _ = portal
    c = client(ctx)
    es = c.get("/public/", headers={"Accept-Language": "es-AR,es;q=0.9"})
    assert es.status_code == 200 and '<html lang="es-AR">' in es.text
    assert "Portal público de transparencia" in es.text and "Accept-Language" in es.headers["vary"]
    assert "la ciudad" in es.text and "the city" not in es.text  # the default controller, translated
    pia = c.get("/public/pia.html", headers={"Accept-Language": "es-EC"}).text
    assert "Marco normativo" in pia and "Ley 25.326" in pia and "art. 42" in pia and "the city" not in pia
    policy = c.get("/public/policy.html", headers={"Accept-Language": "es-AR"}).text
    assert "lectura de patentes" in policy  # Argentine wording
    stats = c.get("/public/statistics.html", headers={"Accept-Language": "es"}).text
    assert "Exportaciones de evidencia por destinatario" in stats and "Fiscalía" in stats
    en = c.get("/public/")
    assert '<html lang="en">' in en.text and "Public transparency portal" in en.text and "the city" in en.text


def test_transparency_report_counts_exports_by_recipient(portal: Any, tmp_path: Path) -> None:
    """The transparency report (CSV and HTML, English and Spanish) counts this month's exports by
    recipient category as the table says, and never prints a recipient's reference."""
    import csv

    from oversight.privacy.reports import build_report

    ctx, _, this, _ = portal
    now = datetime.now(UTC)
    start = month_starts(now, 1)[0]
    files = build_report("transparency", ctx.db, ctx.cfg, start, now, tmp_path / "r", formats=("html", "csv"))
    rows = list(csv.reader(files["csv"].read_text().splitlines()))
    got = {k: int(v) for section, k, v in rows if section == "exports_by_recipient"}
    assert got == {**dict.fromkeys(COUNTED, 0), **_recipients_in_db(ctx.db, this)}
    es = build_report(
        "transparency", ctx.db, ctx.cfg, start, now, tmp_path / "r", formats=("html",), locale="es"
    )
    for body in (files["html"].read_text(), files["csv"].read_text(), es["html"].read_text()):
        assert "RECIPIENT-REF-SECRET" not in body
    assert "<td>Court or judge</td><td>2</td>" in files["html"].read_text()
    assert "Exportaciones de evidencia por destinatario" in es["html"].read_text()
