"""`oversight serve --config` as a user runs it: a real process, a file camera, the web app,
the one-time first-admin link, and a clean stop on SIGTERM."""

from __future__ import annotations

import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx
from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError

from oversight.demo.footage import generate
from oversight.store.db import Database
from oversight.store.models import Segment


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_for(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.3)
    raise AssertionError(f"timed out waiting for {what}")


def test_serve_records_serves_and_bootstraps_the_first_admin(tmp_path: Path) -> None:
    clip = generate(tmp_path / "street.mp4", seconds=12)
    data = tmp_path / "data"
    site = tmp_path / "site.yaml"
    site.write_text(
        f"""\
site:
  name: Serve test
  data_dir: {data}
cameras:
  - id: street
    purpose: Emergency response on the test street
    streams: {{record: {clip}}}
    loop: true
    detect: {{fps: 2, width: 640, height: 360}}
    record: {{segment_seconds: 2}}
"""
    )
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "oversight.cli", "serve", "--config", str(site), "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        lines: list[str] = []
        assert proc.stdout is not None
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not any("bootstrap?secret=" in ln for ln in lines):
            line = proc.stdout.readline()
            if not line:
                break
            lines.append(line)
        found = re.search(r"bootstrap\?secret=(\S+)", "".join(lines))
        assert found, "".join(lines)
        secret = found.group(1)

        def up() -> bool:
            try:
                return httpx.get(f"{base}/api/auth/state", timeout=2).json()["needs_bootstrap"] is True
            except httpx.HTTPError:
                return False

        _wait_for(up, 30, "the web app")
        with httpx.Client(base_url=base) as client:
            wrong = client.post(
                "/api/auth/bootstrap", json={"secret": "nope", "username": "chief", "password": "x" * 14}
            )
            assert wrong.status_code == 403
            ok = client.post(
                "/api/auth/bootstrap",
                json={"secret": secret, "username": "chief", "password": "Correct horse 42"},
            )
            assert ok.status_code == 200, ok.text
            assert ok.json()["role"] == "admin"
            again = client.post(
                "/api/auth/bootstrap", json={"secret": secret, "username": "b", "password": "x" * 14}
            )
            assert again.status_code == 409
            cams = client.get("/api/cameras")
            assert cams.status_code == 200 and "street" in cams.text

        db = Database(f"sqlite:///{data / 'oversight.db'}")

        def recorded() -> bool:
            with db.session() as s:
                return (s.scalar(select(func.count(Segment.id))) or 0) >= 2

        _wait_for(recorded, 60, "two recorded segments")
        db.dispose()
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        finally:
            if proc.poll() is None:
                proc.kill()
    assert proc.returncode == 0


def _serve(site: Path, port: int) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "oversight", "serve", "--config", str(site), "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def _segments(data: Path) -> int:
    db = Database(f"sqlite:///{data / 'oversight.db'}")
    try:
        with db.session() as s:
            return s.scalar(select(func.count(Segment.id))) or 0
    except OperationalError:  # not migrated yet
        return 0
    finally:
        db.dispose()


def test_one_server_per_data_directory_and_a_crash_leaves_no_stale_lock(tmp_path: Path) -> None:
    """A second serve (and a demo) on a live data directory refuse and touch nothing of the first's;
    after the first is killed with SIGKILL, a new serve starts at once."""
    clip = generate(tmp_path / "street.mp4", seconds=12)
    data = tmp_path / "data"
    site = tmp_path / "site.yaml"
    site.write_text(
        f"""\
site: {{name: Lock test, data_dir: {data}}}
cameras:
  - id: street
    purpose: Emergency response on the test street
    streams: {{record: {clip}}}
    loop: true
    detect: {{enabled: false}}
    record: {{segment_seconds: 2}}
"""
    )
    first = _serve(site, _free_port())
    try:
        partials = lambda: sorted((data / "recordings").rglob("*.partial"))  # noqa: E731
        _wait_for(lambda: _segments(data) >= 1 and bool(partials()), 60, "the first server recording")
        writing = partials()
        second = subprocess.run(
            [sys.executable, "-m", "oversight", "serve", "--config", str(site), "--port", str(_free_port())],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert second.returncode == 1, second.stdout + second.stderr
        assert "is in use by another Oversight process" in second.stderr, second.stderr
        assert f"pid {first.pid}" in second.stderr and "Traceback" not in second.stderr
        demo = subprocess.run(
            [sys.executable, "-m", "oversight", "demo", "--data-dir", str(data), "--no-web"]
            + ["--duration", "1"],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert demo.returncode == 1 and "is in use" in demo.stderr, demo.stdout + demo.stderr
        assert not (data / "demo-site.yaml").exists()  # the demo wrote nothing
        # the first one's in-progress segment was left alone: it was either still being written
        # or committed under its final name (never deleted by the refused process's recovery)
        for p in writing:
            final = p.with_name(p.name.removeprefix(".").removesuffix(".partial"))
            assert p.exists() or final.exists(), p
        before = _segments(data)
        _wait_for(lambda: _segments(data) > before, 30, "the first server to keep recording")
    finally:
        first.kill()  # SIGKILL: no clean-up runs, the kernel drops the lock
        first.wait(timeout=30)
    crashed = _segments(data)
    again = _serve(site, _free_port())
    try:
        _wait_for(lambda: _segments(data) > crashed, 60, "a new server recording after the crash")
        assert again.poll() is None
    finally:
        again.kill()
        again.wait(timeout=30)
