"""The privacy commands end to end: audit verify/export, retention report, cameras audit, reports,
export and verify-export (exit codes and messages)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import yaml
from sqlalchemy import text, update
from typer.testing import CliRunner

from oversight.cli import app
from oversight.privacy import audit
from oversight.privacy.models import AuditEntry
from oversight.store.db import Database

runner = CliRunner()
T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def _config(tmp_path: Path, db_url: str) -> Path:
    cfg = {
        "site": {"name": "CLI test", "data_dir": str(tmp_path / "data"), "database_url": db_url},
        "cameras": [
            {
                "id": "cam1",
                "purpose": "safety on the square",
                "manufacturer": "Axis",
                "location": {"address": "Square"},
                "streams": {"record": "rtsps://10.0.0.5/live"},
            }
        ],
    }
    p = tmp_path / "site.yaml"
    p.write_text(yaml.safe_dump(cfg))
    return p


def test_audit_verify_and_export(db: Database, db_url: str, tmp_path: Path) -> None:
    cfg = _config(tmp_path, db_url)
    with db.session() as s:
        for i in range(3):
            audit.record(s, "olga", "footage.view", "camera", "cam1", detail={"i": i})
    r = runner.invoke(app, ["audit", "checkpoint", "-c", str(cfg)])
    # the first signing makes the genesis record (seq 4 records it) and digest 1 covers it
    assert r.exit_code == 0 and "digest 1 seq 4" in r.output, r.output
    r = runner.invoke(app, ["audit", "verify", "-c", str(cfg)])
    assert r.exit_code == 0 and "4 entries, 1 signed digest" in r.output, r.output
    out = tmp_path / "a.json"
    r = runner.invoke(app, ["audit", "export", "-c", str(cfg), "--format", "json", "-o", str(out)])
    assert r.exit_code == 0 and [e["seq"] for e in json.loads(out.read_text())] == [1, 2, 3, 4]
    with db.session() as s:
        s.execute(update(AuditEntry).where(AuditEntry.seq == 2).values(purpose="edited"))
    r = runner.invoke(app, ["audit", "verify", "-c", str(cfg)])
    assert r.exit_code == 1 and "seq 2" in r.output


def test_retention_and_camera_audit_and_reports(db: Database, db_url: str, tmp_path: Path) -> None:
    cfg = _config(tmp_path, db_url)
    r = runner.invoke(app, ["retention", "report", "-c", str(cfg)])
    assert r.exit_code == 0 and "COMPLIANT" in r.output
    r = runner.invoke(app, ["cameras", "audit", "-c", str(cfg), "--no-onvif"])
    assert r.exit_code == 0 and "not covered" in r.output, r.output
    bad = yaml.safe_load(cfg.read_text())
    bad["cameras"][0]["manufacturer"] = "Hikvision"
    cfg.write_text(yaml.safe_dump(bad))
    r = runner.invoke(app, ["cameras", "audit", "-c", str(cfg), "--no-onvif", "--json"])
    assert r.exit_code == 1 and json.loads(r.output)["cameras"][0]["ndaa_covered"] == "Hikvision"
    r = runner.invoke(
        app,
        [
            "report",
            "transparency",
            "-c",
            str(cfg),
            "--from",
            "2026-03-01",
            "--to",
            "2026-03-08",
            "--out",
            str(tmp_path / "rep"),
        ],
    )
    assert r.exit_code == 0, r.output
    assert {p.suffix for p in (tmp_path / "rep").iterdir()} == {".html", ".pdf", ".csv"}


def test_export_and_verify_export(db: Database, db_url: str, tmp_path: Path) -> None:
    from oversight.store.models import Segment
    from privacy_helpers import make_users, synthetic_face_frame, write_mp4

    cfg = _config(tmp_path, db_url)
    make_users(db, sue="supervisor", olga="operator")
    frame, _ = synthetic_face_frame()
    p = write_mp4(tmp_path / "data" / "recordings" / "cam1" / "s.mp4", [frame] * 3)
    with db.session() as s:
        s.add(
            Segment(
                camera_id="cam1",
                start=T0,
                end=T0 + timedelta(seconds=1),
                path=str(p),
                bytes=p.stat().st_size,
                has_event=False,
            )
        )
    args = [
        "export",
        "-c",
        str(cfg),
        "--camera",
        "cam1",
        "--from",
        "2026-03-01T11:59:00Z",
        "--to",
        "2026-03-01T12:01:00Z",
        "--purpose",
        "court order 2026/17",
        "--reference",
        "CASE-17",
    ]
    r = runner.invoke(app, [*args, "--as", "sue"])  # no recipient: refused, the list is shown
    assert r.exit_code == 2 and "--recipient" in r.output and "data_subject" in r.output, r.output
    r = runner.invoke(app, [*args, "--recipient", "journalist", "--as", "sue"])
    assert r.exit_code == 2 and "journalist" in r.output
    args += ["--recipient", "court", "--recipient-ref", "Juzgado 4, causa 17/26"]
    r = runner.invoke(app, [*args, "--as", "olga"])
    assert r.exit_code == 1 and "supervisor" in r.output
    r = runner.invoke(app, [*args, "--as", "sue", "--zip"])
    assert r.exit_code == 0, r.output
    z = Path(json.loads(r.output)["path"])
    from oversight.privacy.export import read_manifest

    assert read_manifest(z)["recipient"] == {"category": "court", "reference": "Juzgado 4, causa 17/26"}
    pub = tmp_path / "pub.txt"
    r = runner.invoke(app, ["audit", "public-key", "-c", str(cfg)])
    pub.write_text(r.stdout)  # as docs/privacy.md says: `oversight audit public-key > installation.pub`
    r = runner.invoke(app, ["verify-export", str(z), "--public-key", str(pub)])
    assert r.exit_code == 0 and "export OK" in r.output
    data = bytearray(z.read_bytes())
    i = data.find(b"mdat")
    data[i + 50] ^= 0xFF
    z.write_bytes(bytes(data))
    r = runner.invoke(app, ["verify-export", str(z), "--public-key", str(pub)])
    assert r.exit_code == 1 and "FAILED" in r.output and ".mp4" in r.output


def test_audit_verify_fails_on_an_emptied_log(db: Database, db_url: str, tmp_path: Path) -> None:
    cfg = _config(tmp_path, db_url)
    r = runner.invoke(app, ["audit", "verify", "-c", str(cfg)])
    assert r.exit_code == 1 and "no genesis record" in r.output  # never installed: nothing anchors it
    r = runner.invoke(app, ["audit", "genesis", "-c", str(cfg)])
    assert r.exit_code == 0
    fpr = r.stdout.strip().splitlines()[0]
    r = runner.invoke(app, ["audit", "verify", "-c", str(cfg), "--genesis", fpr])
    assert r.exit_code == 0, r.output
    with db.engine.begin() as conn:
        for table in ("audit_entries", "audit_head", "audit_checkpoints"):
            conn.execute(text(f"DELETE FROM {table}"))
    r = runner.invoke(app, ["audit", "verify", "-c", str(cfg), "--genesis", fpr])
    assert r.exit_code == 1 and "empty" in r.output, r.output
