"""Evidence exports as background jobs: queued at once, progress, cancel, restart, Range resume."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sqlalchemy import select, update
from typer.testing import CliRunner

from oversight.privacy import export_jobs
from oversight.privacy.export_jobs import MAX_ATTEMPTS, RESTARTED
from oversight.privacy.models import AuditEntry, ExportJob, ExportRecord
from oversight.store.db import Database
from oversight.store.models import EvidenceHold, Segment
from privacy_helpers import client, make_users, site, write_mp4

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
BODY = {
    "camera_ids": ["cam1"],
    "start": (T0 - timedelta(seconds=5)).isoformat(),
    "end": (T0 + timedelta(seconds=10)).isoformat(),
    "purpose": "handover to the prosecutor",
    "reference": "INC-7",
    "recipient": "prosecutor",
    "recipient_ref": "Fiscalía 3, causa 123/26",
}


def _frames(n: int, seed: int) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    base = rng.integers(0, 255, (240, 340, 3), dtype=np.uint8)
    return [np.ascontiguousarray(base[:, i % 20 : i % 20 + 320]) for i in range(n)]


def _footage(db: Database, tmp_path: Path, starts: list[datetime]) -> list[int]:
    ids = []
    with db.session() as s:
        for i, start in enumerate(starts):
            p = write_mp4(tmp_path / "data" / "recordings" / "cam1" / f"seg{i}.mp4", _frames(30, i))
            seg = Segment(
                camera_id="cam1", start=start, end=start + timedelta(seconds=3), path=str(p), bytes=1
            )
            s.add(seg)
            s.flush()
            ids.append(seg.id)
    return ids


@pytest.fixture
def app(db: Database, tmp_path: Path):  # type: ignore[no-untyped-def]
    from oversight.events.bus import EventBus
    from oversight.web.app import create_app
    from oversight.web.context import AppContext

    cfg = site(tmp_path)
    _footage(db, tmp_path, [T0, T0 + timedelta(seconds=3)])
    make_users(
        db, sue="supervisor", sam="supervisor", alice="auditor", olga="operator", approver="supervisor"
    )
    ctx = AppContext(cfg=cfg, db=db, bus=EventBus())
    yield create_app(ctx)
    if ctx.exports is not None:
        ctx.exports.stop()


class Gate:
    """Holds every export job at its first progress past 10 % until released (a slow export)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch):
        self.reached, self.release = threading.Event(), threading.Event()
        real = export_jobs._Reporter.__call__
        monkeypatch.setattr(export_jobs, "SAVE_EVERY_S", 0.0)

        def held(rep: Any, fraction: float, stage: str) -> None:
            real(rep, fraction, stage)
            if fraction > 0.1 and not self.release.is_set():
                self.reached.set()
                assert self.release.wait(30)

        monkeypatch.setattr(export_jobs._Reporter, "__call__", held)


def _wait(c: Any, job_id: int, timeout: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = c.get(f"/api/exports/jobs/{job_id}").json()
        if job["status"] not in ("queued", "running"):
            return dict(job)
        time.sleep(0.05)
    raise AssertionError("export job never finished")


def test_job_returns_at_once_shows_progress_and_finishes(app, db: Database, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    gate = Gate(monkeypatch)
    sue = client(app, "sue")
    r = sue.post("/api/exports", json=BODY)
    assert r.status_code == 202 and r.json()["status"] in ("queued", "running"), r.text
    job_id = r.json()["id"]
    assert gate.reached.wait(30)
    mid = sue.get(f"/api/exports/jobs/{job_id}").json()
    assert mid["status"] == "running" and 0.1 < mid["progress"] < 1 and "clip" in mid["stage"], mid
    assert [j["id"] for j in sue.get("/api/exports/jobs").json()] == [job_id]  # the list after a reload
    gate.release.set()
    done = _wait(sue, job_id)
    assert done["status"] == "done" and done["progress"] == 1.0 and done["redacted"] is True, done
    assert sue.get(done["download"]).status_code == 200
    with db.session() as s:
        actions = [e.action for e in s.execute(select(AuditEntry).order_by(AuditEntry.seq)).scalars()]
    assert (
        "export.queued" in actions
        and "export.create" in actions
        and actions.count("footage.export_clip") == 2
    )


def test_refusals_are_immediate_and_jobs_are_per_user(app) -> None:  # type: ignore[no-untyped-def]
    sue, sam, alice = client(app, "sue"), client(app, "sam"), client(app, "alice")
    assert client(app, "olga").post("/api/exports", json=BODY).status_code == 403
    assert sue.post("/api/exports", json={**BODY, "camera_ids": ["nope"]}).status_code == 404
    late = {
        **BODY,
        "start": (T0 + timedelta(hours=1)).isoformat(),
        "end": (T0 + timedelta(hours=2)).isoformat(),
    }
    r = sue.post("/api/exports", json=late)
    assert r.status_code == 404 and "no recorded footage" in r.text
    no_recipient = {k: v for k, v in BODY.items() if k != "recipient"}
    for bad in (no_recipient, {**BODY, "recipient": "journalist"}, {**BODY, "recipient": "not_recorded"}):
        r = sue.post("/api/exports", json=bad)
        assert r.status_code == 422 and "recipient" in r.text, r.text
    assert sue.get("/api/exports/jobs").json() == []  # nothing queued for a refused request
    job = _wait(sue, sue.post("/api/exports", json=BODY).json()["id"])
    assert (job["recipient"], job["recipient_ref"]) == ("prosecutor", "Fiscalía 3, causa 123/26")
    assert sam.get("/api/exports/jobs").json() == []  # another supervisor does not see sue's jobs
    assert sam.get(f"/api/exports/jobs/{job['id']}").status_code == 404
    assert sam.post(f"/api/exports/jobs/{job['id']}/cancel").status_code == 403
    assert [j["id"] for j in alice.get("/api/exports/jobs").json()] == [job["id"]]  # auditors see all
    assert alice.get(job["download"]).status_code == 403  # ... but never the footage


def test_cancel_stops_the_export_and_leaves_nothing(app, db: Database, tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    gate = Gate(monkeypatch)
    sue = client(app, "sue")
    job_id = sue.post("/api/exports", json=BODY).json()["id"]
    assert gate.reached.wait(30)
    assert sue.post(f"/api/exports/jobs/{job_id}/cancel").json()["status"] == "cancelled"
    gate.release.set()
    job = _wait(sue, job_id)
    assert job["status"] == "cancelled" and job["download"] is None
    time.sleep(0.3)  # the job thread notices at its next frame and cleans up
    assert sue.get(f"/api/exports/jobs/{job_id}").json()["status"] == "cancelled"
    with db.session() as s:
        assert s.execute(select(ExportRecord)).first() is None
    left = [
        p
        for p in (tmp_path / "data").rglob("*")
        if p.is_file() and ("exports" in p.parts or p.suffix == ".part")
    ]
    assert left == []


def test_a_restart_runs_interrupted_jobs_again_or_says_why_not(app, db: Database, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from oversight.events.bus import EventBus
    from oversight.web.app import create_app
    from oversight.web.context import AppContext

    sue = client(app, "sue")
    first = sue.post("/api/exports", json=BODY).json()["id"]
    _wait(sue, first)
    with db.session() as s:  # as a kill -9 leaves them: one mid-run, one that already died twice
        for job_id, attempts in ((first, 1), (None, MAX_ATTEMPTS)):
            if job_id is None:
                job = ExportJob(
                    exporter="sue", role="supervisor", via="session", camera_ids=["cam1"], start=T0,
                    end=T0 + timedelta(seconds=3), purpose="handover to the prosecutor", status="running",
                    stage="", progress=0.4, attempts=attempts,
                )  # fmt: skip
                s.add(job)
            else:
                s.execute(
                    update(ExportJob).where(ExportJob.id == job_id).values(status="running", export_id=None)
                )
    ctx = AppContext(cfg=site(tmp_path), db=db, bus=EventBus())  # the restarted server
    try:
        again = client(create_app(ctx), "sue")
        jobs = {j["id"]: j for j in again.get("/api/exports/jobs").json()}
        gave_up = next(j for i, j in jobs.items() if i != first)
        assert gave_up["status"] == "failed" and "restart" in gave_up["error"]
        redone = _wait(again, first)
        assert redone["status"] == "done" and redone["attempts"] == 2 and redone["download"], redone
        assert again.get(redone["download"]).status_code == 200
    finally:
        assert ctx.exports is not None
        ctx.exports.stop()
    assert RESTARTED  # the stage a resumed job shows while it waits


def test_range_resume_gives_identical_bytes_and_stays_bound(app, db: Database) -> None:  # type: ignore[no-untyped-def]
    from oversight.privacy import reveals

    with db.session() as s:
        r = reveals.request_reveal(
            s, "sue", "supervisor", ["cam1"], T0, T0 + timedelta(seconds=1), "identify him", "INC-7"
        )
        reveals.decide(s, r.id, "approver", "supervisor", True, "justified")
    sue, sam = client(app, "sue"), client(app, "sam")
    job = _wait(sue, sue.post("/api/exports", json=BODY).json()["id"])
    assert job["redacted"] is False  # a second of it is unredacted: bound to sue
    whole = sue.get(job["download"])
    assert whole.status_code == 200 and whole.headers["accept-ranges"] == "bytes"
    cut = len(whole.content) // 3
    head = sue.get(job["download"], headers={"Range": f"bytes=0-{cut - 1}"})
    tail = sue.get(job["download"], headers={"Range": f"bytes={cut}-"})
    assert head.status_code == 206 and tail.status_code == 206
    assert tail.headers["content-range"] == f"bytes {cut}-{len(whole.content) - 1}/{len(whole.content)}"
    assert head.content + tail.content == whole.content
    assert sam.get(job["download"], headers={"Range": f"bytes={cut}-"}).status_code == 403


def test_held_segment_exported_after_retention_verifies(app, db: Database, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """Footage past retention under an evidence hold is kept, exported as a job, and the package
    verifies with the CLI exactly as the docs say (public key from ``audit public-key``)."""
    from oversight.cli import app as cli
    from oversight.recording.retention import run_retention
    from oversight.recording.storage import LocalStorage
    from oversight.store.base import utcnow

    old = utcnow() - timedelta(days=40)  # past the 7 and 30 retention days
    held, gone = _footage(db, tmp_path / "old", [old, old + timedelta(seconds=3)])
    with db.session() as s:
        s.add(
            EvidenceHold(
                camera_id="cam1",
                start=old,
                end=old + timedelta(seconds=2),
                reason="court case",
                created_by="sue",
            )
        )
    res = run_retention(db, site(tmp_path), utcnow(), LocalStorage(tmp_path))
    assert gone in res.deleted and held not in res.deleted
    sue = client(app, "sue")
    body = {**BODY, "start": old.isoformat(), "end": (old + timedelta(seconds=6)).isoformat()}
    job = _wait(sue, sue.post("/api/exports", json=body).json()["id"])
    assert job["status"] == "done", job
    z = tmp_path / "evidence.zip"
    z.write_bytes(sue.get(job["download"]).content)
    from oversight.privacy.export import read_manifest

    assert read_manifest(z)["recipient"] == {
        "category": "prosecutor",
        "reference": "Fiscalía 3, causa 123/26",
    }
    cfg_file = tmp_path / "site.yaml"
    cfg_file.write_text(f"site:\n  name: Test\n  data_dir: {tmp_path / 'data'}\ncameras: []\n")
    runner = CliRunner()
    pub = tmp_path / "pub.txt"
    pub.write_text(runner.invoke(cli, ["audit", "public-key", "-c", str(cfg_file)]).stdout)
    r = runner.invoke(cli, ["verify-export", str(z), "--public-key", str(pub)])
    assert r.exit_code == 0 and "export OK" in r.output, r.output
