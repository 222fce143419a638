"""`oversight demo` end to end: generated footage -> recording -> analytics -> stored events."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import av
import pytest
from sqlalchemy import select

from oversight.demo.footage import generate
from oversight.store.db import Database
from oversight.store.models import Event, Segment


def test_generated_footage_has_people_the_builtin_detector_finds(tmp_path: Path) -> None:
    import cv2

    clip = generate(tmp_path / "street.mp4", seconds=12)
    hog = cv2.HOGDescriptor()
    hog.setSVMDetector(cv2.HOGDescriptor_getDefaultPeopleDetector())
    found = 0
    with av.open(str(clip)) as c:
        for i, frame in enumerate(c.decode(video=0)):
            if i % 10 == 5:
                rects, _ = hog.detectMultiScale(
                    frame.to_ndarray(format="bgr24"), winStride=(8, 8), scale=1.05
                )
                found += len(rects) > 0
    assert found >= 6, f"people found in only {found}/12 sampled frames"


def test_demo_runs_offline_on_generated_footage(tmp_path: Path) -> None:
    """The README's main command, minus the web server, on footage the program makes itself."""
    empty = tmp_path / "no-footage"
    empty.mkdir()
    data = tmp_path / "demo"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "oversight.cli",
            "demo",
            "--duration",
            "25",
            "--no-web",
            "--data-dir",
            str(data),
            "--footage",
            str(empty / "none.mp4"),
        ],
        capture_output=True,
        text=True,
        timeout=240,
        cwd=tmp_path,
    )
    assert proc.returncode != 0 and "no video found" in (proc.stdout + proc.stderr)

    env_proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "oversight.cli",
            "demo",
            "--duration",
            "25",
            "--no-web",
            "--synthetic",
            "--data-dir",
            str(data),
        ],
        capture_output=True,
        text=True,
        timeout=240,
        cwd=empty,
    )
    out = env_proc.stdout
    assert env_proc.returncode == 0, env_proc.stderr[-3000:]
    assert "cameras online" in out
    summary = json.loads(out.split("Summary: ", 1)[1])
    assert summary["cameras"] == 2
    assert summary["segments"] >= 4
    assert any(k.startswith("zone:") or k.startswith("line:") for k in summary["events"]), summary["events"]
    # alerts only from the rules marked alerting (zone, crowd), one per situation: fewer than events
    alerting = sum(n for k, n in summary["events"].items() if k.startswith(("zone:", "crowd:")))
    assert (1 if alerting else 0) <= summary["alerts"] <= alerting, summary

    db = Database(f"sqlite:///{data / 'oversight.db'}")
    with db.session() as s:
        segments = s.scalars(select(Segment)).all()
        events = s.scalars(select(Event)).all()
    db.dispose()
    for seg in segments:
        assert Path(seg.path).is_file() and Path(seg.path).stat().st_size == seg.bytes
    assert all(e.end is not None for e in events), "the demo must close its events on shutdown"
    assert any(e.snapshot_path and Path(e.snapshot_path).is_file() for e in events)


@pytest.mark.assets
def test_demo_finds_real_footage(tmp_path: Path) -> None:
    from conftest import asset
    from oversight.demo.site import demo_site

    video_dir = asset("video")
    cfg = demo_site(tmp_path, video_dir)
    assert len(cfg.cameras) >= 2
    assert all(Path(c.streams.record).parent == video_dir for c in cfg.cameras)


def test_demo_serves_the_web_app_with_one_time_accounts(tmp_path: Path) -> None:
    """The demo prints a fresh password per role (no default password) and they work."""
    import re
    import socket

    import httpx

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "oversight.cli",
            "demo",
            "--duration",
            "20",
            "--synthetic",
            "--data-dir",
            str(tmp_path / "demo"),
            "--port",
            str(port),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=tmp_path,
    )
    assert proc.stdout is not None
    accounts: dict[str, str] = {}
    try:
        for line in proc.stdout:
            found = re.search(r"log in as (\S+) / (\S+)", line)
            if found:
                accounts[found.group(1)] = found.group(2)
            if len(accounts) == 4:
                break
        assert set(accounts) == {"demo-operator", "demo-supervisor", "demo-auditor", "demo-admin"}
        base = f"http://127.0.0.1:{port}"
        with httpx.Client(base_url=base) as c:
            bad = c.post("/api/auth/login", json={"username": "demo-operator", "password": "demo"})
            assert bad.status_code in (401, 403)
            ok = c.post(
                "/api/auth/login", json={"username": "demo-operator", "password": accounts["demo-operator"]}
            )
            assert ok.status_code == 200 and ok.json()["role"] == "operator"
            cams = c.get("/api/cameras").json()
            assert len(cams) == 2
    finally:
        out, _ = proc.communicate(timeout=120)
    assert proc.returncode == 0, out[-2000:]
