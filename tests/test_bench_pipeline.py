"""``oversight bench pipeline`` runs end to end and its figures are self-consistent (no timing
targets asserted: the machine is shared)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from conftest import asset
from oversight.bench.pipeline import decode_frames, encode_static, run
from oversight.cli import app

pytestmark = pytest.mark.assets


def test_bench_pipeline_onnx_figures_are_consistent() -> None:
    video = asset("video/vtest_480x360_h264.avi")
    model = asset("models/yolox_nano_416x416.onnx")
    r = run(video, frames=25, detector="onnx", model=str(model), repeats=1)
    cpu = r["cpu_ms_per_frame"]
    assert r["frames"] == 25 and r["resolution"] == [480, 360] and r["detector"] == "onnx"
    assert 0 < cpu["decode"] < cpu["full_pipeline"]
    assert cpu["model_inference_in_full"] > 0 and cpu["decode_plus_detector_floor"] > cpu["decode"]
    # serve's sampling: 13 of 25 frames at 10 fps are analysed at the default 5 fps
    assert r["frames_analysed_per_pass"] == 13 and r["detect_fps"] == 5.0
    assert r["detector_runs"] >= 10  # people walk in every frame of this clip
    assert r["events_stored"] >= 1
    for key in ("overhead_pct", "overhead_vs_model_call_pct"):
        assert isinstance(r[key], float)
    q = r["quiet_camera"]
    assert q["ratio"] == pytest.approx(q["pipeline_ms"] / q["decode_ms"], rel=0.02)
    assert set(r["breakdown_ms_per_frame_last_run"]) == {"motion", "detector", "tracking", "rules", "events"}
    json.dumps(r)  # JSON-serialisable


def test_static_clip_is_really_static(tmp_path: Path) -> None:
    video = asset("video/vtest_480x360_h264.avi")
    first = next(decode_frames(video, 1))
    clip = encode_static(first, 12, 10.0, tmp_path / "s.mp4")
    frames = list(decode_frames(clip, 100))
    assert len(frames) == 12
    assert max(float(np.abs(f.astype(np.int16) - frames[0]).mean()) for f in frames) < 1.0


def test_cli_rejects_onnx_without_model_and_runs_hog() -> None:
    video = asset("video/vtest_480x360_h264.avi")
    runner = CliRunner()
    bad = runner.invoke(app, ["bench", "pipeline", "--video", str(video), "--detector", "onnx"])
    assert bad.exit_code != 0
    ok = runner.invoke(app, ["bench", "pipeline", "--video", str(video), "--frames", "4", "--repeats", "1"])
    assert ok.exit_code == 0, ok.output
    out = json.loads(ok.output)
    assert out["detector"] == "hog" and out["frames"] == 4
