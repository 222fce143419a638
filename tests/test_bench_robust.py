"""Benchmarks finish and print their JSON on any input and any install: a clip whose packets all
carry pts 0, a PostgreSQL that is down or a driver that is not installed (run in subprocesses so a
hang or crash fails the test instead of the suite)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from media_helpers import SRC, oversight, zero_pts_clip

DOWN_PG = "postgresql+psycopg://postgres@127.0.0.1:9/test"  # discard port: nothing listens


def test_bench_pipeline_finishes_on_a_clip_whose_pts_are_all_zero(tmp_path: Path):
    clip = zero_pts_clip(tmp_path / "zero.mkv")
    out = oversight(
        "bench", "pipeline", "--video", str(clip), "--frames", "30", "--repeats", "1", timeout=180
    )
    assert out["frames"] == 30 and out["detect_fps"] == 5.0 and out["frames_analysed_per_pass"] == 15
    rec = out["recording_cpu_per_4mbps_stream"]
    # 60 s of media counted by frames at 10 fps (not one tick per packet): about 600 packets
    assert 550 <= rec["packets"] <= 620 and rec["segments"] >= 5


def test_bench_pipeline_cuts_frames_to_its_budget(tmp_path: Path):
    clip = zero_pts_clip(tmp_path / "long.mkv", frames=600)  # 60 s with motion in every frame
    args = ["bench", "pipeline", "--video", str(clip), "--frames", "600", "--repeats", "2"]
    out = oversight(*args, "--budget-s", "1", timeout=180)
    # a 1 CPU-second budget cannot cover 600 frames of HOG detection twice over: the run is cut
    assert out["frames_requested"] == 600 and 2 <= out["frames"] < 600
    assert out["detector_runs"] >= 1  # what remains is still the real pipeline


def test_bench_incidents_keeps_sqlite_results_when_postgres_is_down():
    out = oversight(
        "bench",
        "incidents",
        "--pg-url",
        DOWN_PG,
        "--incidents",
        "5",
        "--units",
        "10",
        "--consoles",
        "2",
        "--samples",
        "5",
        timeout=240,
    )
    assert out["sqlite"]["dispatch_round_trip_ms"]["p95"] > 0
    assert "skipped" in out["postgres"] and "PostgreSQL" in out["postgres"]["skipped"]


def test_bench_incidents_keeps_sqlite_results_without_the_postgres_driver(tmp_path: Path):
    (tmp_path / "psycopg.py").write_text("raise ImportError('No module named psycopg (test)')\n")
    out = oversight(
        "bench",
        "incidents",
        "--incidents",
        "5",
        "--units",
        "10",
        "--consoles",
        "2",
        "--samples",
        "5",
        timeout=240,
        env={"PYTHONPATH": f"{tmp_path}{os.pathsep}{SRC}"},
    )
    assert out["sqlite"]["dispatch_round_trip_ms"]["p95"] > 0
    assert "psycopg" in out["postgres"]["skipped"]


@pytest.mark.parametrize("pg", [DOWN_PG])
def test_bench_web_keeps_sqlite_results_when_postgres_is_down(pg: str):
    out = oversight("bench", "web", "--parts", "events", "--events", "300", "--pg-url", pg, timeout=240)
    assert out["event_list"]["sqlite"]["api_first_page_ms"]["p95"] > 0
    assert "skipped" in out["event_list"]["postgres"]


def test_bench_scale_refuses_a_clip_too_long_to_finish(tmp_path: Path):
    clip = zero_pts_clip(tmp_path / "long.mkv", frames=1300, fps=10)  # 130 s, every pts 0
    model = tmp_path / "unused.onnx"
    model.write_bytes(b"not loaded: the run stops before any part")
    out = oversight("bench", "scale", "--video", str(clip), "--model", str(model), timeout=120)
    assert "skipped" in out and "130 s" in out["skipped"]


def test_bench_scale_load_falls_back_to_sqlite_when_postgres_is_down(tmp_path: Path):
    from conftest import asset

    model = asset("models/yolox_nano_416x416.onnx")
    clip = zero_pts_clip(tmp_path / "clip.mkv", frames=30, fps=10, zero=False)
    out = oversight(
        "bench",
        "scale",
        "--video",
        str(clip),
        "--model",
        str(model),
        "--parts",
        "load",
        "--pg-url",
        DOWN_PG,
        timeout=180,
    )
    assert "PostgreSQL" in out["postgres"]["skipped"]
    load = out["load_per_camera"]
    assert load["database"] == "sqlite" and load["sql_per_camera_per_s"] > 0
