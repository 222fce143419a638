"""Without the oversight-models package, a camera running on the built-in fallback models says so in
its status (read as a table). With the package: tests/test_models_package.py."""

from __future__ import annotations

from typing import Any

import pytest

from oversight.cameras.fallbacks import HAAR_NOTE, HOG_NOTE, model_status
from oversight.config.models import DISABLE_ENV
from oversight.config.schema import CameraConfig


def cam(detect: dict[str, Any], redaction: dict[str, Any]) -> CameraConfig:
    return CameraConfig.model_validate(
        {
            "id": "c",
            "purpose": "fallback check",
            "streams": {"record": "x.mp4"},
            "detect": detect,
            "redaction": redaction,
        }
    )


@pytest.mark.parametrize(
    ("detect", "redaction", "detector", "faces", "notes"),
    [
        ({}, {}, "hog", "haar", [HOG_NOTE, HAAR_NOTE]),  # a fresh config: both fallbacks
        ({"model_path": "m.onnx"}, {}, "onnx", "haar", [HAAR_NOTE]),  # auto takes a configured model
        ({"detector": "onnx", "model_path": "m.onnx"}, {}, "onnx", "haar", [HAAR_NOTE]),
        ({"detector": "hog", "model_path": "m.onnx"}, {}, "hog", "haar", [HOG_NOTE, HAAR_NOTE]),
        ({}, {"face_model_path": "yunet.onnx"}, "hog", "model", [HOG_NOTE]),
        ({"detector": "onnx", "model_path": "m.onnx"}, {"face_model_path": "y.onnx"}, "onnx", "model", []),
        ({"enabled": False}, {"faces": False}, "none", "off", []),
        ({"detector": "none"}, {"faces": False}, "none", "off", []),
    ],
)
def test_model_status(detect, redaction, detector, faces, notes, monkeypatch):
    monkeypatch.setenv(DISABLE_ENV, "1")
    st = model_status(cam(detect, redaction))
    assert (st["detector"], st["face_detector"], st["degraded"]) == (detector, faces, notes)
    assert st["degraded_models"] == len(notes)
