"""The privacy track: face regions computed once per camera frame, stored beside the recording.

Invariant: a recorded frame is shown only with regions computed for it (or for a neighbouring
sample close enough in time); a frame with none is blurred whole (fail closed). Raw footage stays
untouched; the track is a small append-only JSON-lines file per camera and hour
(``<data_dir>/privacy/<camera>/<YYYYMMDDHH>.jsonl``), one line per sample: wall time and boxes
normalised to the frame (so any resolution can apply them). Lines are flushed as written, so a
``kill -9`` loses at most the line being written, and a torn last line is skipped when read.

Why stored: playback and export used to run a face detector on every frame of every request; with
the track they only pixelate known boxes, and the detector runs once per frame at ingest.
"""

from __future__ import annotations

import json
import logging
import threading
from bisect import bisect_left
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import cv2
import numpy as np

log = logging.getLogger(__name__)

Box = tuple[float, float, float, float]  # x1, y1, x2, y2


@dataclass(frozen=True)
class Sample:
    ts: float  # wall time, seconds since the epoch
    boxes: tuple[Box, ...]  # normalised to the frame: 0..1


def _hour_file(root: Path, camera_id: str, ts: float) -> Path:
    return root / camera_id / f"{datetime.fromtimestamp(ts, UTC):%Y%m%d%H}.jsonl"


def merge_boxes(boxes: Iterable[Box], grow: float = 0.0) -> list[Box]:
    """Union overlapping boxes (after growing each by ``grow`` of its size) into one, repeatedly:
    many carried or duplicated detections of one face become a single region to pixelate."""
    out: list[list[float]] = []
    for x1, y1, x2, y2 in boxes:
        gx, gy = (x2 - x1) * grow, (y2 - y1) * grow
        out.append([x1 - gx, y1 - gy, x2 + gx, y2 + gy])
    merged = True
    while merged:
        merged = False
        keep: list[list[float]] = []
        for b in out:
            for k in keep:
                if b[0] <= k[2] and k[0] <= b[2] and b[1] <= k[3] and k[1] <= b[3]:
                    k[0], k[1], k[2], k[3] = (
                        min(k[0], b[0]),
                        min(k[1], b[1]),
                        max(k[2], b[2]),
                        max(k[3], b[3]),
                    )
                    merged = True
                    break
            else:
                keep.append(b)
        out = keep
    return [(b[0], b[1], b[2], b[3]) for b in out]


def _cell_means(roi: np.ndarray, cols: int, rows: int) -> np.ndarray:
    """The mean of each of ``rows`` x ``cols`` cells of a 2-D ``roi``, from a summed-area table: a
    few lookups per cell whatever its size (``cv2.resize``'s area mode spends ~5 ns a pixel at a
    non-integer ratio: 3 ms a frame on a crowd's region, most of the export's redaction cost)."""
    h, w = roi.shape
    xs = np.arange(cols + 1) * w // cols
    ys = np.arange(rows + 1) * h // rows
    s = cv2.integral(roi)[np.ix_(ys, xs)].astype(np.float64)
    sums = s[1:, 1:] - s[:-1, 1:] - s[1:, :-1] + s[:-1, :-1]
    return np.rint(sums / np.outer(np.diff(ys), np.diff(xs))).astype(roi.dtype)


SMALL_REGION = 64 * 64  # px: below this cv2.resize is the cheaper way to the cell means


def pixelate(img: np.ndarray, regions: Sequence[Box], block: int = 10, most: int = 6) -> None:
    """Hide each region (pixel coordinates) in place: a downscale to cells of ``block`` pixels (at
    most ``most`` cells a side, so a large face is no more recognisable than a small one) and a
    smooth upscale. It costs the same whatever the region's size (a large Gaussian kernel does
    not), and leaves no block edges (which a sharpness check reads as detail: blocky cells,
    tried, left 17 % of the coverage test's faces as sharp; this upscale 0.1 %)."""
    h, w = img.shape[:2]
    for x1, y1, x2, y2 in regions:
        a, b = max(0, int(x1)), max(0, int(y1))
        c, d = min(w, int(np.ceil(x2))), min(h, int(np.ceil(y2)))
        if c - a < 2 or d - b < 2:
            continue
        cells = (max(1, min(most, (c - a) // block)), max(1, min(most, (d - b) // block)))
        roi = img[b:d, a:c]
        if roi.ndim == 2 and roi.size >= SMALL_REGION:  # a plane's large region: the cheap means
            small = _cell_means(roi, *cells)
        else:
            small = cv2.resize(roi, cells, interpolation=cv2.INTER_AREA)
        roi[:] = cv2.resize(small, (c - a, d - b), interpolation=cv2.INTER_LINEAR).reshape(roi.shape)


def i420_planes(yuv: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Views of the Y, U and V planes of a contiguous planar 4:2:0 frame of even size."""
    h, w = yuv.shape[0] * 2 // 3, yuv.shape[1]
    q = h // 4
    return yuv[:h], yuv[h : h + q].reshape(h // 2, w // 2), yuv[h + q : h + 2 * q].reshape(h // 2, w // 2)


def blur_whole(img: np.ndarray) -> np.ndarray:
    """Fail closed: shapes and motion stay visible, nobody can be recognised."""
    h, w = img.shape[:2]
    small = cv2.resize(img, (max(1, w // 24), max(1, h // 24)), interpolation=cv2.INTER_AREA)
    return cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)


class TrackWriter:
    """Appends one camera's samples to its hour files. Used by one thread (the privacy stage)."""

    def __init__(self, root: Path, camera_id: str):
        self.root, self.camera_id = Path(root), camera_id
        self._path: Path | None = None
        self._fh: Any = None
        self.samples = 0

    def append(self, ts: float, boxes: Sequence[Box], size: tuple[int, int]) -> None:
        w, h = size
        norm = [
            [round(b[0] / w, 4), round(b[1] / h, 4), round(b[2] / w, 4), round(b[3] / h, 4)] for b in boxes
        ]
        path = _hour_file(self.root, self.camera_id, ts)
        if path != self._path:
            self.close()
            path.parent.mkdir(parents=True, exist_ok=True)
            self._fh, self._path = open(path, "a", encoding="utf-8"), path  # noqa: SIM115
        self._fh.write(json.dumps({"t": round(ts, 3), "b": norm}, separators=(",", ":")) + "\n")
        self._fh.flush()
        self.samples += 1

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh, self._path = None, None


def read_track(root: Path, camera_id: str, start: float, end: float) -> list[Sample]:
    """Samples of a camera with start <= t <= end, in time order (torn lines skipped)."""
    out: list[Sample] = []
    hour = datetime.fromtimestamp(start, UTC).replace(minute=0, second=0, microsecond=0)
    while hour.timestamp() <= end:
        path = _hour_file(Path(root), camera_id, hour.timestamp())
        if path.is_file():
            for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
                try:
                    row = json.loads(line)
                    t = float(row["t"])
                    boxes = tuple((float(b[0]), float(b[1]), float(b[2]), float(b[3])) for b in row["b"])
                except (ValueError, KeyError, TypeError, IndexError):
                    continue  # a line torn by a crash
                if start <= t <= end:
                    out.append(Sample(t, boxes))
        hour += timedelta(hours=1)
    out.sort(key=lambda s: s.ts)
    return out


def prune(root: Path, camera_id: str, before: float) -> int:
    """Delete a camera's hour files that end before ``before`` (no footage left to redact with
    them: retention deleted it); returns how many went."""
    n = 0
    for path in (Path(root) / camera_id).glob("*.jsonl"):
        try:
            hour = datetime.strptime(path.stem, "%Y%m%d%H").replace(tzinfo=UTC)
        except ValueError:
            continue
        if (hour + timedelta(hours=1)).timestamp() <= before:
            path.unlink(missing_ok=True)
            n += 1
    return n


def _centre_in(b: Box, area: Box) -> bool:
    cx, cy = (b[0] + b[2]) / 2, (b[1] + b[3]) / 2
    return area[0] <= cx <= area[2] and area[1] <= cy <= area[3]


PROPOSALS = 200  # candidate motions tried at most
MATCH_REACH = 0.75  # one face in consecutive samples: centres apart by under this share of its size


def iou(a: Box, b: Box) -> float:
    w, h = min(a[2], b[2]) - max(a[0], b[0]), min(a[3], b[3]) - max(a[1], b[1])
    inter = max(0.0, w) * max(0.0, h)
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def _apart(a: Box, b: Box) -> float:
    """Distance of the centres in units of the larger side of ``a``."""
    size = max(a[2] - a[0], a[3] - a[1], 1e-9)
    return float(np.hypot((a[0] + a[2] - b[0] - b[2]) / 2, (a[1] + a[3] - b[1] - b[3]) / 2) / size)


def _common_motion(ca: np.ndarray, cb: np.ndarray, size: np.ndarray, near: np.ndarray) -> np.ndarray:
    """The displacement most region pairs agree on (a camera pan, a crowd walking): the candidate
    displacement (of a pair closer than 3 sizes) that the most other candidates match within a
    quarter size; zero when nothing agrees better."""
    d = cb[None, :, :] - ca[:, None, :]
    idx = np.argwhere(near)
    if len(idx) == 0:
        return np.zeros(2)
    vec = d[idx[:, 0], idx[:, 1]]
    tol = 0.25 * size[idx[:, 0]]
    cand = np.arange(len(vec))[:: max(1, len(vec) // PROPOSALS)]  # bounded work in a large crowd
    gap2 = np.square(vec[cand, None, 0] - vec[None, :, 0]) + np.square(vec[cand, None, 1] - vec[None, :, 1])
    agree = (gap2 < np.square(tol[cand])[:, None]).sum(axis=1)  # squared: no square root per pair
    best = cand[agree == agree.max()]
    pick = best[np.argmin(np.hypot(vec[best, 0], vec[best, 1]))]  # a tie: the smaller motion
    return np.asarray(vec[pick])


Match = tuple[list[tuple[int, int]], tuple[float, float]]  # index pairs, the shared motion


def pairs(a: Sequence[Box], b: Sequence[Box], reach: float = MATCH_REACH) -> list[tuple[int, int]]:
    return match(a, b, reach)[0]


def match(a: Sequence[Box], b: Sequence[Box], reach: float = MATCH_REACH) -> Match:
    """One-to-one matches between two sets of regions, and the motion most of them share: after
    taking that motion out, nearest first, each within ``reach`` of its size (a face in a panned
    crowd is matched with its own next place, not the neighbour that moved into its old one)."""
    if not a or not b:
        return [], (0.0, 0.0)
    A, B = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    ca, cb = (A[:, :2] + A[:, 2:]) / 2, (B[:, :2] + B[:, 2:]) / 2
    sa, sb = np.max(A[:, 2:] - A[:, :2], axis=1), np.max(B[:, 2:] - B[:, :2], axis=1)
    size = (sa[:, None] + sb[None, :]) / 2
    alike = (np.maximum(sa[:, None], sb[None, :]) <= 2 * np.minimum(sa[:, None], sb[None, :])) & (size > 0)
    dx, dy = cb[None, :, 0] - ca[:, None, 0], cb[None, :, 1] - ca[:, None, 1]
    raw = np.hypot(dx, dy)
    v = _common_motion(ca, cb, np.maximum(sa, 1e-9), alike & (raw <= 3 * size))
    cost = np.hypot(dx - v[0], dy - v[1]) / np.maximum(size, 1e-9)
    cost[~alike] = np.inf
    left: set[int] = set()
    right: set[int] = set()
    out = []
    for flat in np.argsort(cost, axis=None):
        i, j = divmod(int(flat), len(b))
        if cost[i, j] > reach:
            break
        if i not in left and j not in right:
            left.add(i)
            right.add(j)
            out.append((i, j))
    return out, (float(v[0]), float(v[1]))


def moved(a: Sample, b: Sample, ts: float, keep_left: bool = True, found: Match | None = None) -> list[Box]:
    """Regions at ``ts`` from an earlier sample ``a`` and a later ``b``: matched regions moved
    linearly (beyond ``b``: extrapolated); a region of one sample only moved with the motion the
    others share (a face entering a panned view), and ``a``'s only when ``keep_left`` (after
    ``b``, a region ``b`` no longer has is gone)."""
    f = (ts - a.ts) / (b.ts - a.ts) if b.ts > a.ts else 1.0
    matches, (vx, vy) = match(a.boxes, b.boxes) if found is None else found
    out: list[Box] = [
        (
            p[0] + (q[0] - p[0]) * f,
            p[1] + (q[1] - p[1]) * f,
            p[2] + (q[2] - p[2]) * f,
            p[3] + (q[3] - p[3]) * f,
        )
        for p, q in ((a.boxes[i], b.boxes[j]) for i, j in matches)
    ]
    # a match further apart than its size may be two people (one leaving, one arriving): their
    # own places stay covered as well
    far = [(i, j) for i, j in matches if _apart(a.boxes[i], b.boxes[j]) > 1.0]
    out.extend(b.boxes[j] for _, j in far)
    if keep_left:
        out.extend(a.boxes[i] for i, _ in far)
    matched_a = {i for i, _ in matches}
    matched_b = {j for _, j in matches}
    if keep_left:
        dx, dy = vx * f, vy * f
        out.extend(
            (x[0] + dx, x[1] + dy, x[2] + dx, x[3] + dy) for i, x in enumerate(a.boxes) if i not in matched_a
        )
    dx, dy = vx * (f - 1), vy * (f - 1)
    out.extend(
        (y[0] + dx, y[1] + dy, y[2] + dx, y[3] + dy) for j, y in enumerate(b.boxes) if j not in matched_b
    )
    return out


def _distinct(boxes: Iterable[Box]) -> list[Box]:
    """The regions without exact repeats (rounded to 0.1 px)."""
    seen: dict[tuple[float, ...], Box] = {}
    for b in boxes:
        seen.setdefault(tuple(round(float(v), 1) for v in b), tuple(float(v) for v in b))  # type: ignore[arg-type]
    return list(seen.values())


class TrackView:
    """Regions for any frame time from stored samples: the union of the samples around it (the
    person is somewhere between them), or None when no sample is within ``tolerance`` seconds."""

    def __init__(self, samples: Sequence[Sample], tolerance: float):
        self.samples = list(samples)
        self.times = [s.ts for s in self.samples]
        self.tolerance = tolerance
        self._matches: dict[int, Match] = {}  # samples i-1 and i: their matches, found once

    def _moved(self, i: int, ts: float, keep_left: bool) -> list[Box]:
        a, b = self.samples[i - 1], self.samples[i]
        if i not in self._matches:
            self._matches[i] = match(a.boxes, b.boxes)
        return moved(a, b, ts, keep_left, self._matches[i])

    def boxes(self, ts: float) -> list[Box] | None:
        """The regions at ``ts``. Between two samples a region seen in both moves linearly from one
        place to the other, so it stays on the face instead of spanning both places; just after the
        newest sample it goes on at the speed it had. A region seen in one sample only stays where
        that sample saw it (a face arriving or leaving, or moving too fast to match, stays covered)."""
        i = bisect_left(self.times, ts)
        near = [s for s in self.samples[max(0, i - 1) : i + 1] if abs(s.ts - ts) <= self.tolerance]
        if not near:
            return None
        if len(near) == 2:
            return self._moved(i, ts, keep_left=True)
        one = near[0]
        if one.ts < ts and i >= 2 and one.ts - self.times[i - 2] <= 2 * self.tolerance:
            return self._moved(i - 1, ts, keep_left=False)  # after the newest sample: on at its speed
        return list(one.boxes)

    def apply_i420(
        self, yuv: np.ndarray, ts: float, margin: float = 0.25, inplace: bool = False
    ) -> np.ndarray:
        """``apply`` on a planar YUV 4:2:0 frame (``(h * 3 / 2, w)``, as decoded and as encoded):
        the same regions hidden in the luma and both chroma planes, with no colour conversion.
        ``inplace``: into ``yuv`` itself (a frame the caller owns), saving a copy per frame."""
        found = self.boxes(ts)
        out = yuv if inplace else yuv.copy()
        y, u, v = i420_planes(out)
        if found is None:
            for plane in (y, u, v):
                plane[:] = blur_whole(plane)
            return out
        h, w = y.shape
        regions = merge_boxes([(b[0] * w, b[1] * h, b[2] * w, b[3] * h) for b in found], grow=margin)
        pixelate(y, regions)
        ch, cw = u.shape
        for x1, y1, x2, y2 in regions:  # colour: one mean per region (cheaper than pixelating it)
            a, b = max(0, int(x1 / 2)), max(0, int(y1 / 2))
            c, d = min(cw, int(np.ceil(x2 / 2))), min(ch, int(np.ceil(y2 / 2)))
            if c > a and d > b:
                u[b:d, a:c] = int(cv2.mean(u[b:d, a:c])[0])
                v[b:d, a:c] = int(cv2.mean(v[b:d, a:c])[0])
        return out

    def apply(self, img: np.ndarray, ts: float, margin: float = 0.25, keep: Box | None = None) -> np.ndarray:
        """A redacted copy of a frame taken at ``ts``: stored regions pixelated, or blurred whole.
        ``keep`` (a subject access request's marked person, normalised) is left unredacted: the
        regions whose centre lies in it are skipped, every other region is redacted as always."""
        found = self.boxes(ts)
        if found is None:
            return blur_whole(img)
        h, w = img.shape[:2]
        px = [
            (b[0] * w, b[1] * h, b[2] * w, b[3] * h) for b in found if keep is None or not _centre_in(b, keep)
        ]
        out = img.copy()
        if keep is None:
            pixelate(out, merge_boxes(px, grow=margin))
        else:  # each region on its own: a union of neighbours' regions must not swallow the subject
            pixelate(out, [merge_boxes([b], grow=margin)[0] for b in px])
        return out


def _norm_box(track: Any, size: tuple[int, int]) -> Box | None:
    """A tracked object's box normalised to the frame."""
    box = getattr(track, "box", None)
    if box is None:
        return None
    return (box[0] / size[0], box[1] / size[1], box[2] / size[0], box[3] / size[1])


def _head(box: Box, size: tuple[int, int]) -> Box:
    """Where a tracked person's face can be: an upright person's head (the top quarter of the box,
    grown by a quarter of its width each way for the time since it was tracked), else the whole box
    grown by a quarter (a person sitting or lying)."""
    x1, y1, x2, y2 = box
    w, h = x2 - x1, y2 - y1
    if h * size[1] >= 1.5 * w * size[0]:
        return (x1 - w / 4, y1 - h / 8, x2 + w / 4, y1 + h / 4)
    return (x1 - w / 4, y1 - h / 4, x2 + w / 4, y2 + h / 4)


def _cells(x1: float, y1: float, x2: float, y2: float, mw: int, mh: int) -> tuple[slice, slice]:
    """The cells of an ``mh`` x ``mw`` mask over the frame that a normalised box touches."""
    a, b = max(0, int(x1 * mw)), max(0, int(y1 * mh))
    return slice(b, max(b, int(np.ceil(y2 * mh)) + 1)), slice(a, max(a, int(np.ceil(x2 * mw)) + 1))


class FaceTrackStage:
    """The camera pipeline's privacy stage: runs the redactor's region finder (face detector plus
    the heads of tracked persons) once per sampled frame and appends the result to the track.

    ``process`` is called on the sampler's privacy thread with a read-only full-size frame.

    Sharing what analytics knows keeps it cheap: while the analytics sees no motion and tracks
    nobody, and the previous sample had no face, the frame gets an empty sample without running
    the face detector (a still scene with a face in it keeps being searched). Otherwise a detector
    that searches in tiles searches only those near motion, a tracked person or a face of the
    previous sample, and every tile at least every ``FULL_SCAN_S`` (a face that neither moves nor
    belongs to a detected person is found by then, and is then followed from sample to sample).
    """

    FULL_SCAN_S = 1.0

    event_active = False

    def __init__(
        self, cam: Any, root: Path, redactor: Any, tracks: Any = None, quiet: Any = None, moving: Any = None
    ):
        self.cam = cam
        self.redactor = redactor
        self.writer = TrackWriter(root, cam.id)
        self.tracks = tracks  # callable -> (tracks, (width, height)) of the analytics, or None
        self.fps = float(cam.detect.fps)
        self.quiet = quiet  # callable -> True while analytics sees no motion and no tracks
        self.moving = moving  # callable -> the analytics' motion mask over the frame, or None
        self.skipped = 0  # samples written without running the detector (a quiet scene)
        self._until_full = 0  # samples until every tile is searched again
        self._lock = threading.Lock()
        self._recent: deque[Sample] = deque(maxlen=64)  # for the live view: no file read per frame

    @classmethod
    def for_camera(
        cls, cam: Any, root: Path, tracks: Any = None, quiet: Any = None, moving: Any = None
    ) -> FaceTrackStage:
        """The stage with the camera's configured region finder (``redaction.Redactor.regions``)."""
        from oversight.privacy.redaction import Redactor

        return cls(cam, root, Redactor(cam.redaction), tracks, quiet, moving)

    def process(self, frame_bgr: np.ndarray, ts: datetime) -> None:
        tracks, size = self.tracks() if self.tracks is not None else (None, None)
        h, w = frame_bgr.shape[:2]
        with self._lock:
            had_faces = bool(self._recent and self._recent[-1].boxes)
        if self.quiet is not None and not had_faces and self.quiet():
            boxes: list[Box] = []
            self.skipped += 1
        else:
            # each region as found (merged only when pixelated): a region per face can follow it
            interest = self._interest(tracks, size)
            boxes = _distinct(self.redactor.regions(frame_bgr, tracks, size, interest))
        self.writer.append(ts.timestamp(), boxes, (w, h))
        norm = tuple((b[0] / w, b[1] / h, b[2] / w, b[3] / h) for b in boxes)
        with self._lock:
            self._recent.append(Sample(ts.timestamp(), norm))

    def _interest(self, tracks: Any, size: tuple[int, int] | None) -> np.ndarray | None:
        """Where faces may be in this sample: a coarse mask over the frame of tracked persons' heads
        (``_head``), the analytics' motion that no tracked person explains (a person the detector
        missed, a vehicle's occupants; grown by about a head) and the previous sample's faces
        (grown by a face); None, meaning everywhere, every ``FULL_SCAN_S`` or with no motion mask."""
        moving = self.moving() if self.moving is not None else None
        if moving is None or self._until_full <= 0:
            self._until_full = max(1, round(self.FULL_SCAN_S * self.fps)) - 1
            return None
        self._until_full -= 1
        mh, mw = moving.shape
        persons = [
            b
            for t in tracks or ()
            if size and getattr(t, "label", "") == "person" and (b := _norm_box(t, size))
        ]
        moved = moving.astype(np.uint8)
        for box in persons:  # motion a tracked person explains: the head stands for it
            moved[_cells(*box, mw, mh)] = 0
        k = max(3, mw // 40) | 1  # about a head beside the moving pixels
        mask = cv2.dilate(moved, np.ones((k, k), np.uint8))
        regions = [_head(b, size) for b in persons] if size else []
        with self._lock:
            last = self._recent[-1].boxes if self._recent else ()
        for x1, y1, x2, y2 in last:  # the previous sample's faces, grown by a face each way
            gx, gy = x2 - x1, y2 - y1
            regions.append((x1 - gx, y1 - gy, x2 + gx, y2 + gy))
        for region in regions:
            mask[_cells(*region, mw, mh)] = 1
        return mask.astype(bool)

    def recent(self) -> list[Sample]:
        """The newest samples, oldest first (read by web threads: a copy of immutable samples)."""
        with self._lock:
            return list(self._recent)

    def close(self) -> None:
        self.writer.close()
