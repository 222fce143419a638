"""Media and CLI helpers for the benchmark and camera tests: generated clips (with or without
timestamps) and running ``oversight`` in a subprocess so a hang or crash fails one test."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import numpy as np

SRC = Path(__file__).resolve().parents[1] / "src"


def zero_pts_clip(path: Path, frames: int = 60, fps: int = 10, zero: bool = True) -> Path:
    """An H.264 Matroska clip of a moving block whose every packet is stamped pts = dts = 0
    (``zero=False``: with its real timestamps)."""
    with av.open(str(path), "w", format="matroska") as out:
        st = out.add_stream("libx264", rate=Fraction(fps))
        st.width, st.height, st.pix_fmt = 320, 240, "yuv420p"
        st.options = {"g": "10"}
        for i in [*range(frames), None]:
            frame = None
            if i is not None:
                img = np.full((240, 320, 3), 40, np.uint8)
                img[80:160, 4 * i % 280 : 4 * i % 280 + 40] = 220
                frame = av.VideoFrame.from_ndarray(img, format="bgr24")
            for p in st.encode(frame):  # None flushes the encoder at the end
                if zero:
                    p.pts = p.dts = 0
                out.mux(p)
    with av.open(str(path)) as c:  # the premise: the file really has no usable timestamps
        assert ({p.pts for p in c.demux(video=0) if p.size} <= {0, None}) == zero
    return path


def oversight(*args: str, timeout: float, env: dict[str, str] | None = None) -> dict[str, Any]:
    cmd = [sys.executable, "-c", "from oversight.cli import app; app()", *args]
    full_env = {**os.environ, "PYTHONPATH": str(SRC), **(env or {})}
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=full_env)
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout)
