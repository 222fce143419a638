"""The face detector is shared by the cameras of a process: three cameras' privacy stages create
one native YuNet detector (not one each, 240 MB apiece at 720p x 1.5), stay within the pool's limit
when they run at once, and find the same faces as a detector of their own."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from pathlib import Path

import cv2
import numpy as np
import pytest

from conftest import asset
from oversight.config.schema import CameraConfig
from oversight.privacy import face_detectors
from oversight.runtime import privacy_stage


def camera(i: int, model: Path) -> CameraConfig:
    return CameraConfig.model_validate(
        {
            "id": f"cam{i}",
            "purpose": "shared face detector test",
            "streams": {"record": "rtsp://127.0.0.1/none"},
            "redaction": {"face_model_path": str(model)},
        }
    )


@pytest.fixture
def created(monkeypatch: pytest.MonkeyPatch) -> list[tuple[int, int]]:
    """Fresh pools, and the input size of every native detector the process creates."""
    monkeypatch.setattr(face_detectors, "_YUNET_POOLS", {})
    sizes: list[tuple[int, int]] = []
    real = cv2.FaceDetectorYN.create

    def counting(model: str, config: str, size: tuple[int, int], *args: object) -> object:
        sizes.append(tuple(size))
        return real(model, config, size, *args)

    monkeypatch.setattr(cv2.FaceDetectorYN, "create", counting)
    return sizes


def photo() -> np.ndarray:
    img = cv2.imread(str(asset("images/ultraface_imgs_1.jpg")))
    return cv2.resize(img, (640, 360))


def test_three_cameras_create_one_face_detector(created: list[tuple[int, int]], tmp_path: Path) -> None:
    model = asset("models/face_detection_yunet_2023mar.onnx")
    stages = [privacy_stage(camera(i, model), None, tmp_path) for i in range(3)]
    img = photo()
    for stage in stages:
        stage.process(img, datetime.now(UTC))
    at_frame_size = [s for s in created if s != (320, 320)]  # (320, 320): the load check
    assert at_frame_size == [(960, 540)]  # 640x360 upscaled 1.5x, made once for three cameras
    assert all(s.recent()[-1].boxes for s in stages)  # and every camera found the faces


def test_cameras_at_once_stay_within_the_pool_and_agree(
    created: list[tuple[int, int]], tmp_path: Path
) -> None:
    model = asset("models/face_detection_yunet_2023mar.onnx")
    stages = [privacy_stage(camera(i, model), None, tmp_path) for i in range(4)]
    img = photo()
    own = face_detectors.YuNetCVDetector(str(model), upscale=face_detectors.DEFAULT_UPSCALE)
    expected = own.detect(img)
    got: dict[int, np.ndarray] = {}

    def run(i: int) -> None:
        for _ in range(5):
            got[i] = stages[i].redactor.detector.detect(img)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert sorted(got) == [0, 1, 2, 3]
    assert len([s for s in created if s == (960, 540)]) <= face_detectors.pool_limit()
    for boxes in got.values():
        np.testing.assert_allclose(boxes, expected, atol=1e-3)


def test_onnx_runtime_face_sessions_are_shared() -> None:
    model = str(asset("models/face_detection_yunet_2023mar.onnx"))
    a, b = face_detectors.YuNetDetector(model), face_detectors.YuNetDetector(model)
    assert a.session is b.session
