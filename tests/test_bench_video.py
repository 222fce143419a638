"""``oversight bench video``: the figures come out, consistent with each other, from one short run."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from conftest import asset
from oversight.cli import app


def test_bench_video_reports_export_live_and_recall_against_floors() -> None:
    photo = asset("images/ultraface_imgs_1.jpg")
    model = asset("models/face_detection_yunet_2023mar.onnx")
    r = CliRunner().invoke(
        app, ["bench", "video", "--photo", str(photo), "--model", str(model), "--seconds", "2"]
    )
    assert r.exit_code == 0, r.output
    out = json.loads(r.output)
    cpu = out["export_cpu_s"]
    assert 0 < cpu["floor_decode_encode"] <= cpu["with_stored_track"] < cpu["with_detector_per_frame"]
    live = out["live_ms_per_frame_640x360"]
    assert 0 < live["jpeg_only_floor"] <= live["stored_regions_and_jpeg"] < live["detector_and_jpeg"]
    recall = out["recall_hidden_by_face_size"]
    assert sum(v["faces"] for v in recall.values()) > 20
    assert all(v["hidden"] is None or 0 <= v["hidden"] <= 1 for v in recall.values())
    assert out["ingest_privacy_stage_ms_per_sampled_frame"] > 0
    h264 = out["live_h264_720p_cpu_per_camera"]
    assert 0 < h264["floor_decode_encode_cores"] <= h264["redact_and_encode_cores"]
