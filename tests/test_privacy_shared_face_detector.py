"""The face detector is shared by the cameras of a process: three cameras' privacy stages load the
YuNet model into one ONNX Runtime session (not a native detector each, 240 MB apiece at 720p x 1.5),
and cameras detecting at once find the same faces as a detector of their own. The tiles cover the
frame: a face on a tile seam, or larger than a tile, is still found."""

from __future__ import annotations

import os
import threading
from datetime import UTC, datetime
from pathlib import Path

import cv2
import numpy as np
import onnxruntime as ort
import pytest

from conftest import asset
from oversight.analytics.detectors import onnx
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


def photo(size: tuple[int, int] = (640, 360)) -> np.ndarray:
    img = cv2.imread(str(asset("images/ultraface_imgs_1.jpg")))
    return cv2.resize(img, size)


def test_three_cameras_share_one_face_session(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(onnx, "_SESSIONS", {})
    made: list[str] = []
    real = ort.InferenceSession

    def counting(path: str, *args: object, **kw: object) -> object:
        made.append(path)
        return real(path, *args, **kw)

    monkeypatch.setattr(ort, "InferenceSession", counting)
    model = asset("models/face_detection_yunet_2023mar.onnx")
    stages = [privacy_stage(camera(i, model), None, tmp_path) for i in range(3)]
    img = photo()
    for stage in stages:
        stage.process(img, datetime.now(UTC))
    assert len(made) == 1  # one session for three cameras
    assert all(s.recent()[-1].boxes for s in stages)  # and every camera found the faces


def test_cameras_at_once_agree_with_a_detector_of_their_own(tmp_path: Path) -> None:
    model = asset("models/face_detection_yunet_2023mar.onnx")
    stages = [privacy_stage(camera(i, model), None, tmp_path) for i in range(4)]
    img = photo((1280, 720))
    own = face_detectors.YuNetTiledDetector(str(model), upscale=face_detectors.DEFAULT_UPSCALE)
    expected = own.detect(img)
    got: dict[int, np.ndarray] = {}

    def run(i: int) -> None:
        for _ in range(3):
            got[i] = stages[i].redactor.detector.detect(img)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert sorted(got) == [0, 1, 2, 3]
    assert len(expected) > 10
    for boxes in got.values():
        np.testing.assert_allclose(boxes, expected, atol=1e-3)


def test_cameras_at_once_run_the_face_model_at_most_once_per_core(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Each run at once holds its own working memory in ONNX Runtime's arena (about 17 MB for YuNet
    at 640x640), which keeps it: ungated, the arena grew by that much per camera."""
    model = asset("models/face_detection_yunet_2023mar.onnx")
    stages = [privacy_stage(camera(i, model), None, tmp_path) for i in range(6)]
    shared = stages[0].redactor.detector.net.shared
    assert all(s.redactor.detector.net.shared is shared for s in stages)
    assert shared.slots <= (os.cpu_count() or 1)
    monkeypatch.setattr(shared, "gate", threading.BoundedSemaphore(2))  # two cores, on any machine
    running, most = [0], [0]
    lock = threading.Lock()
    real = shared.session

    class Counting:  # the real session, counting the runs inside it at once
        def __getattr__(self, name: str) -> object:
            return getattr(real, name)

        def run(self, *args: object) -> object:
            with lock:
                running[0] += 1
                most[0] = max(most[0], running[0])
            try:
                return real.run(*args)
            finally:
                with lock:
                    running[0] -= 1

    for s in stages:
        s.redactor.detector.net.session = Counting()
    img = photo((1280, 720))
    threads = [threading.Thread(target=s.redactor.detector.detect, args=(img,)) for s in stages]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert 1 <= most[0] <= 2


def test_tiles_find_faces_on_their_seams_and_larger_than_the_overlap() -> None:
    """The tiled detector finds what one pass over the whole (upscaled) frame finds: a crowd whose
    faces straddle the seams between tiles, and a face larger than a tile."""
    model = str(asset("models/face_detection_yunet_2023mar.onnx"))
    tiled = face_detectors.YuNetTiledDetector(model, upscale=1.5)
    whole = face_detectors.YuNetCVDetector(model, upscale=1.5)
    crowd = photo((1280, 720))
    portrait = cv2.imread(str(asset("images/ultraface_imgs_2.jpg")))
    x1, y1, x2, y2 = (int(v) for v in max(whole.detect(portrait), key=lambda b: b[2] - b[0])[:4])
    pad = (x2 - x1) // 2
    face = portrait[max(0, y1 - pad) : y2 + pad, max(0, x1 - pad) : x2 + pad]
    face = cv2.resize(face, (700, 700))
    straddling = np.full((720, 1280, 3), 128, np.uint8)
    straddling[10:710, 100:800] = face  # 1050 px upscaled: larger than a tile (640)
    # a crowd's faces are found whole (a box cut by a seam overlaps the whole one by about 0.6);
    # the face larger than a tile only by the coarse whole-frame pass
    for frame, aligned in ((crowd, 0.8), (straddling, 0.5)):
        ref, got = whole.detect(frame), tiled.detect(frame)
        assert len(ref)
        matched = sum(1 for r in ref if max((_iou(r, g) for g in got), default=0.0) >= aligned)
        assert matched >= 0.97 * len(ref), (matched, len(ref))


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    return float(inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter + 1e-9))
