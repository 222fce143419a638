"""Pytest helpers for a real GStreamer RTSP server (``tests/rtsp_server.py``) run by the system python."""

from __future__ import annotations

import select
import subprocess
import time
from collections.abc import Iterator
from functools import cache
from pathlib import Path

import pytest

SYSTEM_PYTHON = "/usr/bin/python3"
SERVER = Path(__file__).with_name("rtsp_server.py")
CLIP = (
    Path(__file__).resolve().parents[1].parent
    / "shared"
    / "assets"
    / "video"
    / "one-by-one-person-detection.mp4"
)


@cache
def rtsp_unavailable() -> str | None:
    """Why the RTSP server cannot run here, or None when it can."""
    if not Path(SYSTEM_PYTHON).exists():
        return f"{SYSTEM_PYTHON} not found"
    probe = "import gi; gi.require_version('GstRtspServer','1.0'); from gi.repository import GstRtspServer"
    r = subprocess.run([SYSTEM_PYTHON, "-c", probe], capture_output=True, text=True, timeout=30)
    if r.returncode != 0:
        return f"GStreamer RTSP server bindings missing for {SYSTEM_PYTHON}: {r.stderr.strip()[-200:]}"
    return None


def default_source() -> str:
    """A real clip (1 s GOP, H.264) when the assets are present, else a generated stream."""
    if CLIP.exists():
        return str(CLIP)
    r = subprocess.run(["gst-inspect-1.0", "openh264enc"], capture_output=True)
    if r.returncode != 0:
        pytest.skip(f"no test clip ({CLIP}) and no openh264enc to generate a stream")
    return "test"


class RtspServer:
    def __init__(self, source: str, port: int = 0):
        self.source = source
        self.port = port
        self.proc: subprocess.Popen[str] | None = None

    @property
    def url(self) -> str:
        return f"rtsp://127.0.0.1:{self.port}/stream"

    def start(self, timeout: float = 20.0) -> RtspServer:
        cmd = [SYSTEM_PYTHON, str(SERVER), "--port", str(self.port), "--source", self.source]
        deadline = time.monotonic() + timeout
        while True:
            self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            line = self._read_line(deadline)
            if line.startswith("READY"):
                self.port = int(line.split()[1])
                return self
            self.stop()
            if time.monotonic() > deadline:  # e.g. the port is still held after a restart
                raise RuntimeError(f"RTSP server did not start: {line!r}")
            time.sleep(0.3)

    def _read_line(self, deadline: float) -> str:
        assert self.proc is not None and self.proc.stdout is not None
        ready, _, _ = select.select([self.proc.stdout], [], [], max(0.1, deadline - time.monotonic()))
        return self.proc.stdout.readline().strip() if ready else ""

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()  # abrupt, like a camera losing power
            self.proc.wait(10)
        self.proc = None


def running_server() -> Iterator[RtspServer]:
    """Body of an ``rtsp_server`` fixture: skip cleanly without GStreamer, else serve until teardown."""
    reason = rtsp_unavailable()
    if reason:
        pytest.skip(reason)
    server = RtspServer(default_source()).start()
    yield server
    server.stop()
