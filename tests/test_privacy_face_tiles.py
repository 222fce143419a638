"""The privacy stage searches for faces only where they may be: tracked persons' heads, motion no
tracked person explains and the previous sample's faces, packed side by side into as few searches
as they fit, and every tile once a second. A face that never moves and belongs to no detected
person is still found within a second and followed from then on."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import cv2
import numpy as np

from conftest import asset
from oversight.analytics.types import Track
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


def test_packed_regions_find_what_a_full_search_finds_there() -> None:
    """Regions of interest are cut from the frame and packed onto shared 640x640 searches; each face
    comes back in frame pixels where a search of every tile put it."""
    det = YuNetTiledDetector(str(MODEL), upscale=1.5)
    img = crowd()
    everywhere = det.detect(img)
    clear = everywhere[everywhere[:, 4] >= 0.8]
    picked: list[np.ndarray] = []
    for b in clear:  # faces far apart: each region is its own piece
        if all(abs(b[0] - p[0]) > 200 or abs(b[1] - p[1]) > 200 for p in picked):
            picked.append(b)
    assert len(picked) >= 3
    mask = np.zeros((90, 160), bool)  # 8 px cells
    for x1, y1, x2, y2, _ in picked[:4]:
        w, h = x2 - x1, y2 - y1
        mask[int((y1 - h) // 8) : int((y2 + h) // 8) + 1, int((x1 - w) // 8) : int((x2 + w) // 8) + 1] = True
    det.tiles_run = det.tiles_total = 0
    some = det.detect(img, mask)
    assert det.tiles_run == 1 < det.tiles_total  # the regions share one search
    for face in picked[:4]:
        assert max(_iou(face, g) for g in some) >= 0.8, face
    assert len(some) < len(everywhere)


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    return float(inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter + 1e-9))


def test_a_tracked_person_is_searched_at_the_head_and_explains_its_motion(tmp_path: Path) -> None:
    """Between full scans, a tracked upright person's head is searched and the rest of its moving
    body is not; motion no tracked person explains (someone the detector missed) is searched."""
    moving = np.zeros((90, 160), bool)
    moving[20:60, 20:30] = True  # a walking person, tracked: 80-240 x 80-240 in 640x360
    moving[60:80, 120:130] = True  # motion nobody tracks
    person = Track(1, "person", (80.0, 80.0, 120.0, 240.0), 0.9)
    stage = FaceTrackStage.for_camera(
        camera(), tmp_path, lambda: ([person], (640, 360)), lambda: False, lambda: moving
    )
    stage._interest([person], (640, 360))  # the first sample is a full scan
    mask = stage._interest([person], (640, 360))
    assert mask is not None
    assert mask[22, 25]  # the head: the top of the box
    assert not mask[50, 25]  # legs: explained by the track, not searched
    assert mask[70, 125] and mask[70, 119]  # untracked motion, grown by about a head
    assert not mask[5, 80] and mask.mean() < 0.15  # still, empty background: not searched


def camera() -> CameraConfig:
    return CameraConfig.model_validate(
        {
            "id": "cam0",
            "purpose": "tile gating test",
            "streams": {"record": "rtsp://127.0.0.1/none"},
            "detect": {"fps": 5},
            "redaction": {"face_model_path": str(MODEL)},
        }
    )


def test_a_still_face_is_found_within_a_second_and_then_followed(tmp_path: Path) -> None:
    cam = camera()
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
