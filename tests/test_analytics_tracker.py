"""ByteTrack on synthetic detections: stable ids, class separation, low-score continuation,
and the YOLO output decoders on synthetic tensors."""

from __future__ import annotations

import numpy as np

from oversight.analytics.detectors.nms import batched_nms
from oversight.analytics.detectors.onnx import decode, detect_family, yolox_grid
from oversight.analytics.tracker import ByteTracker
from oversight.analytics.types import Detections


def dets(boxes: list[tuple[float, float, float, float]], confs: list[float], labels: list[str]) -> Detections:
    return Detections(
        np.asarray(boxes, np.float32).reshape(-1, 4), np.asarray(confs, np.float32), tuple(labels)
    )


def test_two_walkers_keep_their_ids() -> None:
    tr = ByteTracker(high_threshold=0.5)
    history = []
    for i in range(30):
        a = (10 + 5 * i, 100, 40 + 5 * i, 180)
        b = (400 - 5 * i, 120, 430 - 5 * i, 200)
        tracks = tr.update(dets([a, b], [0.9, 0.8], ["person", "person"]))
        history.append({t.track_id: t.box[0] for t in tracks})
    assert all(len(h) == 2 for h in history)
    ids = set(history[0])
    assert all(set(h) == ids for h in history)
    left_id = min(history[0], key=lambda k: history[0][k])
    assert history[-1][left_id] > history[0][left_id]  # the id followed the box moving right


def test_new_object_gets_confirmed_on_second_hit_with_new_id() -> None:
    tr = ByteTracker(high_threshold=0.5)
    tr.update(dets([(0, 0, 20, 60)], [0.9], ["person"]))
    assert [t.track_id for t in tr.tracks()] == [1]
    assert [
        t.track_id for t in tr.update(dets([(0, 0, 20, 60), (200, 0, 220, 60)], [0.9, 0.9], ["person"] * 2))
    ] == [1]
    ids = sorted(
        t.track_id for t in tr.update(dets([(0, 0, 20, 60), (202, 0, 222, 60)], [0.9, 0.9], ["person"] * 2))
    )
    assert ids == [1, 2]


def test_weak_detection_continues_a_track_but_never_starts_one() -> None:
    tr = ByteTracker(high_threshold=0.5, low_threshold=0.1)
    tr.update(dets([(0, 0, 20, 60)], [0.9], ["person"]))
    assert [t.track_id for t in tr.update(dets([(2, 0, 22, 60)], [0.2], ["person"]))] == [1]
    fresh = ByteTracker(high_threshold=0.5)
    assert fresh.update(dets([(0, 0, 20, 60)], [0.3], ["person"])) == []


def test_classes_never_swap_tracks() -> None:
    tr = ByteTracker(high_threshold=0.5)
    tr.update(dets([(0, 0, 20, 60)], [0.9], ["person"]))
    tracks = tr.update(dets([(0, 0, 20, 60)], [0.9], ["car"]))
    assert all(t.label != "car" for t in tracks)  # the car is a new tentative track, not person #1


def test_lost_track_is_recovered_with_same_id_then_forgotten() -> None:
    tr = ByteTracker(high_threshold=0.5, max_lost=3)
    for i in range(3):
        tr.update(dets([(10 * i, 0, 10 * i + 20, 60)], [0.9], ["person"]))
    assert tr.update(Detections.empty()) == []
    assert [t.track_id for t in tr.update(dets([(40, 0, 60, 60)], [0.9], ["person"]))] == [1]
    for _ in range(5):
        tr.update(Detections.empty())
    assert not tr.alive


def test_yolox_family_and_grid_decode() -> None:
    h = w = 128
    grid, strides = yolox_grid(h, w)
    n = len(grid)
    assert detect_family((1, n, 85), h, w) == "yolox"
    assert detect_family((1, 3 * n, 85), h, w) == "yolov5"
    assert detect_family((1, 84, n), h, w) == "yolov8"
    raw = np.zeros((1, n, 85), np.float32)
    # anchor at stride 16, cell (gx=2, gy=1): after the 16*16 stride-8 cells, row 1 of 8, col 2
    i = 256 + 1 * 8 + 2
    raw[0, i, :5] = [0.5, 0.5, np.log(2.0), np.log(4.0), 0.9]
    raw[0, i, 5 + 0] = 0.8  # person
    boxes, scores, cids = decode(raw, "yolox", grid, strides, np.asarray([0, 2]), 0.3)
    assert cids.tolist() == [0]
    assert np.isclose(scores[0], 0.72)
    cx, cy, bw, bh = (2.5 * 16, 1.5 * 16, 2 * 16, 4 * 16)
    assert np.allclose(boxes[0], [cx - bw / 2, cy - bh / 2, cx + bw / 2, cy + bh / 2])


def test_yolov8_decode_and_classwise_nms() -> None:
    n = 10
    raw = np.zeros((1, 84, n), np.float32)
    raw[0, :4, 0] = [50, 50, 20, 40]
    raw[0, 4 + 0, 0] = 0.9  # person
    raw[0, :4, 1] = [51, 50, 20, 40]
    raw[0, 4 + 0, 1] = 0.8  # duplicate person: suppressed
    raw[0, :4, 2] = [51, 50, 20, 40]
    raw[0, 4 + 2, 2] = 0.7  # a car on the same spot survives class-wise NMS
    boxes, scores, cids = decode(raw, "yolov8", None, None, np.asarray([0, 2]), 0.3)
    assert sorted(cids.tolist()) == [0, 2]
    assert np.allclose(boxes[cids == 0][0], [40, 30, 60, 70])
    keep = batched_nms(
        np.asarray([[0, 0, 10, 10], [1, 0, 11, 10]], np.float32),
        np.asarray([0.9, 0.8]),
        np.asarray([0, 0]),
        0.45,
    )
    assert keep.tolist() == [0]
