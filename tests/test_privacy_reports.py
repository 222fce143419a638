"""PIA and transparency reports: generated from config and usage, HTML/PDF/CSV, readable PDF text."""

from __future__ import annotations

import csv
import io
import shutil
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from oversight.events.bus import EventBus
from oversight.privacy import audit, reports, reveals
from oversight.privacy.models import RevealRequest
from oversight.store.db import Database
from oversight.store.models import Event
from privacy_helpers import client, make_users, site

T = datetime(2026, 3, 1, tzinfo=UTC)


def _usage(db: Database) -> None:
    with db.session() as s:
        for i in range(12):
            s.add(
                Event(
                    camera_id="cam1",
                    label="person",
                    start=T + timedelta(hours=i * 7),
                    confidence=0.8,
                    data={},
                )
            )
        for i in range(3):
            audit.record(
                s, "olga", "footage.segment", "segment", i, role="operator", ts=T + timedelta(days=i)
            )
        audit.record(
            s, "sue", "footage.playback", "camera", "cam1", role="supervisor", ts=T + timedelta(days=1)
        )
        audit.record(
            s, "olga", "footage.segment", "segment", 9, role="operator", ts=T + timedelta(days=30)
        )  # outside
        r1 = reveals.request_reveal(
            s, "olga", "operator", ["cam1"], T, T + timedelta(hours=1), "robbery at the kiosk", "INC-1"
        )
        r2 = reveals.request_reveal(
            s, "olga", "operator", ["cam2"], T, T + timedelta(hours=1), "curiosity about a neighbour", "none"
        )
        reveals.decide(s, r1.id, "sue", "supervisor", True)
        reveals.decide(s, r2.id, "sue", "supervisor", False)


def _pdf_text(path: Path) -> str:
    if shutil.which("pdftotext") is None:
        pytest.skip("pdftotext (poppler-utils) not installed")
    return subprocess.run(
        ["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True, check=True
    ).stdout


def test_transparency_report_figures(db: Database, tmp_path: Path) -> None:
    _usage(db)
    cfg = site(tmp_path)
    now = datetime.now(UTC)
    files = reports.build_report("transparency", db, cfg, T, T + timedelta(days=7), tmp_path / "out")
    assert set(files) == {"html", "pdf", "csv"}
    rows = {
        (r["section"], r["key"]): r["value"] for r in csv.DictReader(io.StringIO(files["csv"].read_text()))
    }
    assert rows[("accesses_by_role", "operator")] == "3" and rows[("accesses_by_role", "supervisor")] == "1"
    # reveals are counted by when they were requested (now), so use a period that contains now
    files2 = reports.build_report(
        "transparency",
        db,
        cfg,
        now - timedelta(days=1),
        now + timedelta(days=1),
        tmp_path / "out2",
        formats=("csv",),
    )
    rows2 = {
        (r["section"], r["key"]): r["value"] for r in csv.DictReader(io.StringIO(files2["csv"].read_text()))
    }
    assert (
        rows2[("reveals", "requested")],
        rows2[("reveals", "approved")],
        rows2[("reveals", "denied")],
    ) == ("2", "1", "1")
    with db.session() as s:
        ids = sorted(r.id for r in s.query(RevealRequest))
    scope = rows2[("reveal_scope", str(ids[0]))].split(" | ")
    assert scope[0] == "cam1" and scope[1] == "2026-03-01 00:00" and scope[3] == "1.00"  # its scope
    assert scope[5:] == ["1 of 1", "approved"] and rows2[("reveal_scope", str(ids[1]))].endswith("denied")
    assert rows[("events_per_day", "2026-03-01")] == "4" and rows[("cameras", "count")] == "2"
    assert rows[("retention", "compliant")] == "True"
    from oversight.store.base import Base

    assert rows[("incidents", "count")] == ("0" if "incidents" in Base.metadata.tables else "")
    html = files["html"].read_text()
    assert (
        "Main square 1" in html and "public safety on the square" in html and "data:image/png;base64" in html
    )
    text = _pdf_text(files["pdf"])
    assert "Transparency report" in text and "Footage accesses" in text and "Retention compliance" in text


def test_pia_follows_article_35_and_lists_findings(db: Database, tmp_path: Path) -> None:
    cfg = site(tmp_path)
    cfg.cameras[0].manufacturer = "Dahua"
    files = reports.build_report(
        "pia", db, cfg, T, T + timedelta(days=30), tmp_path / "out", formats=("html", "pdf")
    )
    text = _pdf_text(files["pdf"])
    for heading in (
        "Systematic description",
        "Necessity and proportionality",
        "Risks to the rights",
        "Measures in place",
        "Camera security audit",
    ):
        assert heading in text
    assert "NDAA" in text and "cam1" in text
    with pytest.raises(ValueError):
        reports.build_report("pia", db, cfg, T, T + timedelta(days=1), tmp_path / "o", formats=("csv",))


def test_report_api_for_auditors_only(db: Database, tmp_path: Path) -> None:
    from oversight.web.app import create_app
    from oversight.web.context import AppContext

    make_users(db, alice="auditor", vic="viewer")
    app = create_app(AppContext(cfg=site(tmp_path), db=db, bus=EventBus()))
    assert client(app, "vic").get("/api/reports/transparency").status_code == 403
    alice = client(app, "alice")
    r = alice.get("/api/reports/transparency?format=csv")
    assert r.status_code == 200 and r.text.startswith("section,key,value")
    r = alice.get("/api/reports/pia?format=pdf")
    assert r.status_code == 200 and r.content[:4] == b"%PDF"
    assert alice.get("/api/reports/retention").json()["compliant"] is True
