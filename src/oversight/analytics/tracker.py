"""ByteTrack multi-object tracking (Zhang et al. 2022), written out here in NumPy/SciPy.

Why not ``supervision.ByteTrack``: supervision 0.26+ removed it in favour of the separate
``trackers`` package, which depends on the GUI ``opencv-python`` wheel and would clash with the
headless OpenCV the server uses. The algorithm is small: a constant-velocity Kalman filter per
track in (cx, cy, aspect, height) and two rounds of IoU matching, first with confident
detections, then with weak ones (which keeps people through partial occlusion). Classes never
match across (a person box cannot continue a car track). Track ids are handed out only when a
track is confirmed, so ids count real objects.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy.optimize import linear_sum_assignment

from oversight.analytics.types import Detections, Track

STD_POS = 1.0 / 20
STD_VEL = 1.0 / 160
_F = np.eye(8)
_F[:4, 4:] = np.eye(4)
_I8 = np.arange(8)
_I4 = np.arange(4)
_Q_H = np.array([STD_POS, STD_POS, 0, STD_POS, STD_VEL, STD_VEL, 0, STD_VEL])  # process noise, x height
_Q_C = np.array([0, 0, 1e-2, 0, 0, 0, 1e-5, 0])  # process noise, constant (aspect ratio)
_R_H = np.array([STD_POS, STD_POS, 0, STD_POS])  # measurement noise, x height
_R_C = np.array([0, 0, 1e-1, 0])


def _xyah(boxes: np.ndarray) -> np.ndarray:
    """(N, 4) xyxy -> (N, 4) centre x, centre y, aspect w/h, height."""
    w, h = boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]
    return np.stack([boxes[:, 0] + w / 2, boxes[:, 1] + h / 2, w / np.maximum(h, 1e-6), h], axis=1).astype(
        np.float64
    )


class _KalmanTrack:
    def __init__(self, box: np.ndarray, score: float, label: str, frame: int):
        m = _xyah(box[None])[0]
        h = m[3]
        self.mean = np.concatenate([m, np.zeros(4)])
        std = np.array(
            [
                2 * STD_POS * h,
                2 * STD_POS * h,
                1e-2,
                2 * STD_POS * h,
                10 * STD_VEL * h,
                10 * STD_VEL * h,
                1e-5,
                10 * STD_VEL * h,
            ]
        )
        self.cov = np.diag(std**2)
        self.score, self.label = score, label
        self.track_id = 0  # 0 until confirmed
        self.confirmed = False
        self.lost = False
        self.hits = 1
        self.last_frame = frame

    @property
    def xyxy(self) -> np.ndarray:
        cx, cy, a, h = self.mean[:4]
        w = a * h
        return np.array([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2])


def _boxes(tracks: Sequence[_KalmanTrack]) -> np.ndarray:
    """(N, 4) xyxy of the tracks' current states."""
    m = np.array([t.mean[:4] for t in tracks])
    w = m[:, 2] * m[:, 3]
    return np.stack([m[:, 0] - w / 2, m[:, 1] - m[:, 3] / 2, m[:, 0] + w / 2, m[:, 1] + m[:, 3] / 2], axis=1)


def _predict(tracks: Sequence[_KalmanTrack]) -> None:
    """Constant-velocity prediction of every track in one batch (a few NumPy calls for N tracks)."""
    if not tracks:
        return
    m = np.array([t.mean for t in tracks])
    c = np.array([t.cov for t in tracks])
    lost = np.array([t.lost for t in tracks])
    m[lost, 7] = 0.0  # a lost track keeps its size
    q = (_Q_H[None] * m[:, 3:4] + _Q_C[None]) ** 2
    m = m @ _F.T
    c = _F @ c @ _F.T
    c[:, _I8, _I8] += q
    for i, t in enumerate(tracks):
        t.mean, t.cov = m[i], c[i]


def _correct(tracks: Sequence[_KalmanTrack], boxes: np.ndarray) -> None:
    """Kalman update of ``tracks[i]`` with measurement ``boxes[i]``, batched."""
    if not tracks:
        return
    m = np.array([t.mean for t in tracks])
    c = np.array([t.cov for t in tracks])
    r = (_R_H[None] * m[:, 3:4] + _R_C[None]) ** 2
    s = c[:, :4, :4].copy()
    s[:, _I4, _I4] += r
    k = c[:, :, :4] @ np.linalg.inv(s)  # (N, 8, 4) Kalman gain
    innovation = _xyah(boxes) - m[:, :4]
    m = m + (k @ innovation[:, :, None])[:, :, 0]
    c = c - k @ s @ k.transpose(0, 2, 1)
    for i, t in enumerate(tracks):
        t.mean, t.cov = m[i], c[i]


def iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    if len(a) == 0 or len(b) == 0:
        return np.zeros((len(a), len(b)))
    x1 = np.maximum(a[:, None, 0], b[None, :, 0])
    y1 = np.maximum(a[:, None, 1], b[None, :, 1])
    x2 = np.minimum(a[:, None, 2], b[None, :, 2])
    y2 = np.minimum(a[:, None, 3], b[None, :, 3])
    inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    return inter / np.maximum(area_a[:, None] + area_b[None, :] - inter, 1e-9)


def _match(
    tracks: Sequence[_KalmanTrack], boxes: np.ndarray, labels: Sequence[str], max_cost: float
) -> tuple[list[tuple[int, int]], list[int], list[int]]:
    """Hungarian matching on 1 - IoU; returns (pairs, unmatched track idx, unmatched det idx)."""
    if not tracks or len(boxes) == 0:
        return [], list(range(len(tracks))), list(range(len(boxes)))
    cost = 1.0 - iou_matrix(_boxes(tracks), boxes)
    if len({t.label for t in tracks} | set(labels)) > 1:
        same = np.array([[t.label == lab for lab in labels] for t in tracks])
        cost[~same] = 1.0
    rows, cols = linear_sum_assignment(cost)
    pairs = [(int(r), int(c)) for r, c in zip(rows, cols, strict=True) if cost[r, c] <= max_cost]
    mt, md = {p[0] for p in pairs}, {p[1] for p in pairs}
    return (
        pairs,
        [i for i in range(len(tracks)) if i not in mt],
        [j for j in range(len(boxes)) if j not in md],
    )


class ByteTracker:
    """``update(detections)`` once per detector run; returns the confirmed, currently seen tracks."""

    def __init__(
        self,
        high_threshold: float = 0.4,
        low_threshold: float = 0.1,
        max_lost: int = 30,
        match_cost: float = 0.8,
    ):
        self.high, self.low = high_threshold, low_threshold
        self.max_lost = max_lost
        self.match_cost = match_cost
        self.frame = 0
        self.next_id = 1
        self.active: list[_KalmanTrack] = []  # tracked now (confirmed or tentative)
        self.lost: list[_KalmanTrack] = []

    @property
    def alive(self) -> bool:
        return bool(self.active or self.lost)

    def reset(self) -> None:
        self.active, self.lost = [], []

    def update(self, dets: Detections) -> list[Track]:
        self.frame += 1
        f = self.frame
        scores = dets.confidence
        hi = np.flatnonzero(scores >= self.high)
        lo = np.flatnonzero((scores >= self.low) & (scores < self.high))
        confirmed = [t for t in self.active if t.confirmed]
        tentative = [t for t in self.active if not t.confirmed]
        pool = confirmed + self.lost
        _predict(pool)
        kept: list[_KalmanTrack] = []

        def apply(tracks: list[_KalmanTrack], pairs: list[tuple[int, int]], idx: np.ndarray) -> None:
            """Correct matched tracks with detections ``idx[j]`` for each (track i, j) pair."""
            if not pairs:
                return
            matched = [tracks[i] for i, _ in pairs]
            rows = np.asarray([idx[j] for _, j in pairs])
            _correct(matched, dets.xyxy[rows])
            for t, row in zip(matched, rows, strict=True):
                t.score, t.label, t.last_frame = float(scores[row]), dets.labels[row], f
                t.lost = False
                t.hits += 1
            kept.extend(matched)

        # 1) confident detections against every confirmed or lost track
        hb, hl = dets.xyxy[hi], [dets.labels[i] for i in hi]
        pairs, um_t, um_d = _match(pool, hb, hl, self.match_cost)
        apply(pool, pairs, hi)
        # 2) weak detections against the confirmed tracks still unmatched (not the lost ones)
        rest = [pool[i] for i in um_t if not pool[i].lost]
        still_lost = [pool[i] for i in um_t if pool[i].lost]
        pairs2, um_t2, _ = _match(rest, dets.xyxy[lo], [dets.labels[i] for i in lo], 0.5)
        apply(rest, pairs2, lo)
        newly_lost = [rest[i] for i in um_t2]
        # 3) tentative tracks need a second confident hit to be confirmed
        hi2 = hi[um_d]
        pairs3, _, um_d3 = _match(tentative, dets.xyxy[hi2], [dets.labels[i] for i in hi2], 0.7)
        apply(tentative, pairs3, hi2)
        for ti, _ in pairs3:
            tentative[ti].confirmed, tentative[ti].track_id = True, self.next_id
            self.next_id += 1
        # 4) new tentative tracks from confident detections nobody claimed
        for di in um_d3:
            j = hi2[di]
            t = _KalmanTrack(dets.xyxy[j], float(scores[j]), dets.labels[j], f)
            if f == 1:  # the very first frame has no history to confirm against
                t.confirmed, t.track_id = True, self.next_id
                self.next_id += 1
            kept.append(t)
        for t in newly_lost:
            t.lost = True
        self.active = kept
        self.lost = [t for t in newly_lost + still_lost if f - t.last_frame <= self.max_lost]
        return self.tracks()

    def tracks(self) -> list[Track]:
        shown = [t for t in self.active if t.confirmed]
        if not shown:
            return []
        boxes = _boxes(shown).tolist()
        return [
            Track(t.track_id, t.label, (b[0], b[1], b[2], b[3]), t.score)
            for t, b in zip(shown, boxes, strict=True)
        ]
