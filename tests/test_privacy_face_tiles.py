"""The privacy stage searches for faces only where they may be: tiles near motion, a tracked person
or the previous sample's faces, and every tile once a second. A face that never moves and belongs to
no detected person is still found within a second and followed from then on."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import cv2
import numpy as np

from conftest import asset
from oversight.config.schema import CameraConfig
from oversight.privacy.face_detectors import YuNetTiledDetector
from oversight.privacy.track import FaceTrackStage

MODEL = asset("models/face_detection_yunet_2023mar.onnx")


def crowd(photo: str = "ultraface_imgs_1.jpg") -> np.ndarray:
    return cv2.resize(cv2.imread(str(asset(f"images/{photo}"))), (1280, 720))


def test_tiles_outside_the_interest_mask_are_not_searched() -> None:
    det = YuNetTiledDetector(str(MODEL), upscale=1.5)
    img = crowd()
    everywhere = det.detect(img)
    left = np.zeros((9, 16), bool)
    left[:, :3] = True  # the left sixth of the frame
    det.tiles_run = det.tiles_total = 0
    some = det.detect(img, left)
    assert 0 < det.tiles_run < det.tiles_total
    assert 0 < len(some) < len(everywhere)


def test_a_still_face_is_found_within_a_second_and_then_followed(tmp_path: Path) -> None:
    cam = CameraConfig.model_validate(
        {
            "id": "cam0",
            "purpose": "tile gating test",
            "streams": {"record": "rtsp://127.0.0.1/none"},
            "detect": {"fps": 5},
            "redaction": {"face_model_path": str(MODEL)},
        }
    )
    still = np.zeros((9, 16), bool)  # the analytics sees no motion at all, and tracks nobody
    stage = FaceTrackStage.for_camera(cam, tmp_path, lambda: ([], (640, 360)), lambda: False, lambda: still)
    searched = stage.redactor.detector
    empty = np.full((720, 1280, 3), 90, np.uint8)
    img = crowd("ultraface_imgs_17.jpg")  # hundreds of small faces: only the tiles find them
    t0 = datetime.now(UTC)
    found, tiles = [], []
    for i in range(12):  # faces appear at sample 2, with no motion to point at them
        before = searched.tiles_run
        stage.process(empty if i < 2 else img, t0 + timedelta(seconds=i / 5))
        found.append(len(stage.recent()[-1].boxes))
        tiles.append(searched.tiles_run - before)
    assert found[:2] == [0, 0] and tiles[1] == 0  # nothing moved, nothing known: no tile searched
    first = next(i for i, n in enumerate(found) if n >= 0.9 * max(found))
    assert first <= 2 + 5  # all found within a second (5 samples) of appearing
    # then followed: the tiles of known faces are searched at every sample, not only once a second
    assert min(found[first:]) >= 0.9 * max(found)
    assert all(n > 0 for n in tiles[first:]), tiles
