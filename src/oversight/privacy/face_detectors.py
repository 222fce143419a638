"""Face *detectors* (boxes only, never identity) used by the redactor.

Three back ends, chosen from the configured model path:

* YuNet (``face_detection_yunet_*.onnx``) through ONNX Runtime on overlapping 640x640 tiles of the
  (upscaled) frame, decoded as described in
  ``shared/assets/SOURCES.md`` (we decode ourselves because OpenCV 5's ``FaceDetectorYN``
  returned hundreds of spurious boxes on some frame sizes in our checks).
* UltraFace (``*RFB-320/640*.onnx``) through ONNX Runtime.
* OpenCV's Haar cascade as the offline fallback, so a fresh install redacts with no model file.

A detector returns an ``(N, 5)`` float array of ``x1, y1, x2, y2, score`` in frame pixels.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Protocol

import cv2
import numpy as np

from oversight.analytics.detectors.onnx import shared_session

log = logging.getLogger(__name__)

Boxes = np.ndarray  # (N, 5) float32: x1, y1, x2, y2, score


class FaceDetector(Protocol):
    name: str

    def detect(self, frame_bgr: np.ndarray) -> Boxes: ...


def _empty() -> Boxes:
    return np.zeros((0, 5), np.float32)


def nms(boxes: Boxes, iou: float) -> Boxes:
    if len(boxes) == 0:
        return boxes
    xywh = [[float(b[0]), float(b[1]), float(b[2] - b[0]), float(b[3] - b[1])] for b in boxes]
    keep = cv2.dnn.NMSBoxes(xywh, [float(s) for s in boxes[:, 4]], 0.0, iou)
    idx = np.array(keep, dtype=int).reshape(-1)
    return boxes[idx]


class YuNetDetector:
    """YuNet 2023mar: fixed 640x640 input, letterboxed top-left, anchor-free decode, NMS 0.3."""

    name = "yunet"
    SIZE = 640

    def __init__(self, model_path: str, score: float = 0.5, nms_iou: float = 0.3, threads: int | None = None):
        self.shared = shared_session(model_path, None, threads)
        self.session = self.shared.session
        self.input_name = self.session.get_inputs()[0].name
        self.outputs = [o.name for o in self.session.get_outputs()]
        self.score = score
        self.nms_iou = nms_iou
        self._grids: dict[int, tuple[np.ndarray, np.ndarray]] = {}

    def _grid(self, stride: int) -> tuple[np.ndarray, np.ndarray]:
        if stride not in self._grids:
            n = self.SIZE // stride
            idx = np.arange(n * n)
            self._grids[stride] = ((idx % n).astype(np.float32), (idx // n).astype(np.float32))
        return self._grids[stride]

    def detect(self, frame_bgr: np.ndarray) -> Boxes:
        h, w = frame_bgr.shape[:2]
        r = self.SIZE / max(h, w)
        nh, nw = max(1, round(h * r)), max(1, round(w * r))
        canvas = np.zeros((self.SIZE, self.SIZE, 3), np.uint8)
        canvas[:nh, :nw] = cv2.resize(frame_bgr, (nw, nh), interpolation=cv2.INTER_LINEAR)
        boxes = self.canvas_boxes(canvas)
        boxes[:, :4] /= r
        return nms(boxes, self.nms_iou)

    def canvas_boxes(self, canvas: np.ndarray) -> Boxes:
        """Faces on one ``SIZE`` x ``SIZE`` BGR canvas (uint8), in its pixels, before NMS."""
        blob = np.ascontiguousarray(canvas.transpose(2, 0, 1)[None], dtype=np.float32)
        with self.shared.gate:
            ran = self.session.run(self.outputs, {self.input_name: blob})
        out = dict(zip(self.outputs, ran, strict=True))
        found = []
        for s in (8, 16, 32):
            cls = np.clip(out[f"cls_{s}"][0, :, 0], 0, 1)
            obj = np.clip(out[f"obj_{s}"][0, :, 0], 0, 1)
            score = np.sqrt(cls * obj)
            sel = score >= self.score
            if not sel.any():
                continue
            bb = out[f"bbox_{s}"][0][sel]
            gx, gy = self._grid(s)
            cx = (gx[sel] + bb[:, 0]) * s
            cy = (gy[sel] + bb[:, 1]) * s
            bw = np.exp(bb[:, 2]) * s
            bh = np.exp(bb[:, 3]) * s
            found.append(np.stack([cx - bw / 2, cy - bh / 2, cx + bw / 2, cy + bh / 2, score[sel]], 1))
        return np.concatenate(found).astype(np.float32) if found else _empty()


SEAM_PX = 2  # a box this close to a tile's inner edge was cut by it


class YuNetTiledDetector:
    """YuNet through ONNX Runtime on the frame (upscaled) cut into overlapping 640x640 tiles, plus
    one pass over the whole frame for faces larger than the overlap; boxes merged by NMS. Given
    where faces may be (an interest mask), only those regions are searched, cut out, upscaled and
    packed side by side onto as few 640x640 searches as they fit.

    Why: the same pixels cost about a fifth of the CPU of OpenCV's ``FaceDetectorYN`` (10 ms
    against 51 ms a tile on one core), and the session is a few MB shared by every camera instead of
    about 240 MB of network blobs per input size; packing makes a sample of a busy street cost about
    two searches instead of nine. It is what makes the privacy stage affordable on every camera of a
    small box."""

    name = "yunet"
    OVERLAP = 128  # a face up to this many (upscaled) pixels lies whole in some tile
    MIN_PIECE = 96  # the smallest region searched (upscaled pixels): a face and its surroundings
    GAP = 8  # black pixels between pieces on a canvas: no face spans two pieces

    def __init__(self, model_path: str, score: float = 0.5, nms_iou: float = 0.3, upscale: float = 1.0):
        self.net = YuNetDetector(model_path, score, nms_iou, threads=1)
        self.nms_iou, self.upscale = nms_iou, upscale
        self.tiles_run = self.tiles_total = 0  # 640x640 searches run, and tiles of full scans

    @staticmethod
    def _starts(length: int, tile: int, overlap: int) -> list[int]:
        if length <= tile:
            return [0]
        n = -(-(length - overlap) // (tile - overlap))  # ceil: tiles needed along this side
        return [round(i * (length - tile) / (n - 1)) for i in range(n)]

    def detect(self, frame_bgr: np.ndarray, interest: np.ndarray | None = None) -> Boxes:
        """Faces in the frame. ``interest``: a coarse boolean mask over the whole frame (any
        resolution) of where faces may be; only its regions are searched, packed side by side into
        as few 640x640 searches as they fit. None: every tile."""
        h, w = frame_bgr.shape[:2]
        tile, over = int(self.net.SIZE / self.upscale), int(self.OVERLAP / self.upscale)
        ys, xs = self._starts(h, tile, over), self._starts(w, tile, over)
        self.tiles_total += len(ys) * len(xs)
        if interest is None:
            pieces, cut = [(x, y, min(tile, w), min(tile, h)) for y in ys for x in xs], True
        else:
            pieces, cut = self._pieces(interest, w, h, tile, over)
        # faces larger than the overlap, which a seam between tiles may cut: the whole frame at once,
        # when it was cut into tiles (every tile searched, or a region larger than a tile)
        large = cut and max(h, w) * self.upscale > self.net.SIZE
        found = [self.net.detect(frame_bgr)] if large else []
        for canvas, placed in self._packed(frame_bgr, pieces):
            self.tiles_run += 1
            found.extend(self._unpack(self.net.canvas_boxes(canvas), placed, w, h))
        return nms(np.concatenate(found), self.nms_iou) if found else _empty()

    def _pieces(self, interest: np.ndarray, w: int, h: int, tile: int, over: int) -> tuple[list[Piece], bool]:
        """The interest mask's regions as pieces of the frame to search, at least ``MIN_PIECE``
        (upscaled) a side; a region larger than a search is cut into overlapping tiles of its own
        (then the second value is True)."""
        mh, mw = interest.shape[:2]
        least = int(self.MIN_PIECE / self.upscale)
        n, _, stats, _ = cv2.connectedComponentsWithStats(interest.astype(np.uint8), connectivity=8)
        out: list[Piece] = []
        for cx, cy, cw, ch, _ in stats[1:n]:
            x1, x2 = _grown(cx * w / mw, (cx + cw) * w / mw, least, w)
            y1, y2 = _grown(cy * h / mh, (cy + ch) * h / mh, least, h)
            pw, ph = min(tile, x2 - x1), min(tile, y2 - y1)
            ys, xs = self._starts(y2 - y1, tile, over), self._starts(x2 - x1, tile, over)
            out.extend((x1 + x, y1 + y, pw, ph) for y in ys for x in xs)
        return out, len(out) > n - 1

    def _packed(
        self, frame_bgr: np.ndarray, pieces: list[Piece]
    ) -> Iterator[tuple[np.ndarray, list[Placed]]]:
        """Canvases with the pieces, upscaled, placed tallest first at the lowest free spot (a
        skyline) with black between them; each comes with where its pieces went:
        ``(piece, x, y, width, height)`` on it."""
        t, gap = self.net.SIZE, self.GAP
        sheets: list[tuple[np.ndarray, list[Placed]]] = []  # (skyline, placements) per canvas
        for p in sorted(pieces, key=lambda p: (-p[3], -p[2])):
            sw, sh = min(t, round(p[2] * self.upscale)), min(t, round(p[3] * self.upscale))
            spots = ((i, x) for i, (sky, _) in enumerate(sheets) if (x := _lowest(sky, sw, sh, t)) >= 0)
            i, x = next(spots, (len(sheets), 0))
            if i == len(sheets):  # fits on no canvas yet: a new one
                sheets.append((np.zeros(t, np.int32), []))
            sky, placed = sheets[i]
            y = int(sky[x : x + sw].max())
            np.maximum(
                sky[x : x + sw + gap], y + sh + gap, out=sky[x : x + sw + gap]
            )  # a taller neighbour stays
            placed.append((p, x, y, sw, sh))
        for _, placed in sheets:
            canvas = np.zeros((t, t, 3), np.uint8)
            for (x, y, pw, ph), cx, cy, sw, sh in placed:
                canvas[cy : cy + sh, cx : cx + sw] = cv2.resize(
                    frame_bgr[y : y + ph, x : x + pw], (sw, sh), interpolation=cv2.INTER_CUBIC
                )
            yield canvas, placed

    @staticmethod
    def _unpack(b: Boxes, placed: list[Placed], w: int, h: int) -> list[Boxes]:
        """One canvas's boxes back in frame pixels, each by the piece its centre lies in. A face cut
        by a piece's edge inside the frame ranks below whole ones: it lies whole in an overlapping
        piece (or, larger than the overlap, in the whole-frame pass), and NMS would otherwise keep
        the cut box over the whole one when it scores higher."""
        out = []
        mx, my = (b[:, 0] + b[:, 2]) / 2, (b[:, 1] + b[:, 3]) / 2
        for (x, y, pw, ph), cx, cy, sw, sh in placed:
            inside = (mx >= cx) & (mx < cx + sw) & (my >= cy) & (my < cy + sh)
            if not inside.any():
                continue
            p = b[inside].copy()
            p[:, [0, 2]] = np.clip(p[:, [0, 2]] - cx, 0, sw)
            p[:, [1, 3]] = np.clip(p[:, [1, 3]] - cy, 0, sh)
            cut = ((p[:, 0] <= SEAM_PX) & (x > 0)) | ((p[:, 1] <= SEAM_PX) & (y > 0))
            cut |= ((p[:, 2] >= sw - SEAM_PX) & (x + pw < w)) | ((p[:, 3] >= sh - SEAM_PX) & (y + ph < h))
            p[cut, 4] *= 0.5
            p[:, [0, 2]] = x + p[:, [0, 2]] * (pw / sw)
            p[:, [1, 3]] = y + p[:, [1, 3]] * (ph / sh)
            out.append(p)
        return out


Piece = tuple[int, int, int, int]  # x, y, width, height in frame pixels
Placed = tuple[Piece, int, int, int, int]  # the piece, and x, y, width, height on a canvas


def _lowest(sky: np.ndarray, width: int, height: int, limit: int) -> int:
    """Where on a canvas's skyline a piece ``width`` wide rests lowest: its x, or -1 where it would
    stick out over ``limit``."""
    tops = np.lib.stride_tricks.sliding_window_view(sky, width).max(axis=1)
    x = int(np.argmin(tops))
    return x if tops[x] + height <= limit else -1


def _grown(a: float, b: float, least: int, limit: int) -> tuple[int, int]:
    """``[a, b)`` in whole pixels, widened about its centre to at least ``least`` and kept inside
    ``[0, limit)``."""
    a, b = float(np.floor(a)), float(np.ceil(b))
    if b - a < least:
        c = (a + b) / 2
        a, b = c - least / 2, c + least / 2
    if a < 0:
        a, b = 0.0, b - a
    if b > limit:
        a, b = a - (b - limit), float(limit)
    return max(0, int(a)), min(limit, int(np.ceil(b)))


class YuNetCVDetector:
    """YuNet through OpenCV DNN at the frame's own resolution (times ``upscale``): the slow, strong
    reference of ``bench redaction``. Not for cameras: one native detector holds every blob of its
    input size (about 240 MB at 1920x1080) and costs about five times ``YuNetTiledDetector``'s CPU."""

    name = "yunet-opencv"

    def __init__(self, model_path: str, score: float = 0.5, nms_iou: float = 0.3, upscale: float = 1.0):
        self.model_path, self.score, self.nms_iou, self.upscale = model_path, score, nms_iou, upscale
        self._det: Any = None

    def detect(self, frame_bgr: np.ndarray) -> Boxes:
        img = frame_bgr
        if self.upscale != 1.0:
            img = cv2.resize(frame_bgr, None, fx=self.upscale, fy=self.upscale, interpolation=cv2.INTER_CUBIC)
        h, w = img.shape[:2]
        if self._det is None:
            self._det = cv2.FaceDetectorYN.create(self.model_path, "", (w, h), self.score, self.nms_iou, 5000)
        self._det.setInputSize((w, h))
        faces = self._det.detect(img)[1]
        if faces is None or len(faces) == 0:
            return _empty()
        f = np.asarray(faces, np.float32)
        out = np.stack([f[:, 0], f[:, 1], f[:, 0] + f[:, 2], f[:, 1] + f[:, 3], f[:, 14]], 1)
        out[:, :4] /= self.upscale
        return out


class UltraFaceDetector:
    """UltraFace RFB-320/640: plain resize, RGB, (x-127)/128; boxes come decoded and normalised."""

    name = "ultraface"

    def __init__(self, model_path: str, score: float = 0.7, nms_iou: float = 0.3, threads: int | None = None):
        self.shared = shared_session(model_path, None, threads)
        self.session = self.shared.session
        inp = self.session.get_inputs()[0]
        self.input_name = inp.name
        self.in_h, self.in_w = int(inp.shape[2]), int(inp.shape[3])
        self.score = score
        self.nms_iou = nms_iou

    def detect(self, frame_bgr: np.ndarray) -> Boxes:
        h, w = frame_bgr.shape[:2]
        img = cv2.cvtColor(cv2.resize(frame_bgr, (self.in_w, self.in_h)), cv2.COLOR_BGR2RGB)
        blob = ((img.astype(np.float32) - 127.0) / 128.0).transpose(2, 0, 1)[None]
        with self.shared.gate:
            scores, boxes = self.session.run(None, {self.input_name: blob})
        sc = scores[0, :, 1]
        sel = sc >= self.score
        if not sel.any():
            return _empty()
        b = boxes[0][sel] * np.array([w, h, w, h], np.float32)
        return nms(np.concatenate([b, sc[sel, None]], 1).astype(np.float32), self.nms_iou)


HAAR_DIRS = (
    os.environ.get("OVERSIGHT_HAAR_DIR", ""),
    str(Path(cv2.data.haarcascades)) if hasattr(cv2, "data") else "",
    "/usr/share/opencv4/haarcascades",
    "/usr/share/opencv/haarcascades",
    "/usr/local/share/opencv4/haarcascades",
)


def find_haar_cascade(name: str = "haarcascade_frontalface_default.xml") -> Path | None:
    for d in HAAR_DIRS:
        if d and (Path(d) / name).is_file():
            return Path(d) / name
    return None


class HaarDetector:
    """OpenCV's Viola-Jones frontal face cascade: weaker, but needs no model download."""

    name = "haar"

    def __init__(self, cascade: Path, min_size: int = 12):
        self.cascade = cv2.CascadeClassifier(str(cascade))
        if self.cascade.empty():
            raise RuntimeError(f"could not load Haar cascade {cascade}")
        self.min_size = min_size

    def detect(self, frame_bgr: np.ndarray) -> Boxes:
        gray = cv2.equalizeHist(cv2.cvtColor(frame_bgr, cv2.COLOR_BGR2GRAY))
        rects = self.cascade.detectMultiScale(gray, 1.1, 3, minSize=(self.min_size, self.min_size))
        if len(rects) == 0:
            return _empty()
        r = np.asarray(rects, np.float32)
        return np.stack(
            [r[:, 0], r[:, 1], r[:, 0] + r[:, 2], r[:, 1] + r[:, 3], np.ones(len(r), np.float32)], 1
        )


class NoFaceDetector:
    """Used only when no model and no cascade exist: tracks still give head regions."""

    name = "none"

    def detect(self, frame_bgr: np.ndarray) -> Boxes:
        return _empty()


DEFAULT_UPSCALE = 1.5  # YuNet on a 1.5x frame: >= 95% of faces >= 12 px covered per frame (bench redaction)


def make_face_detector(
    model_path: str | None,
    score: float | None = None,
    threads: int | None = None,
    upscale: float = DEFAULT_UPSCALE,
) -> FaceDetector:
    """The configured ONNX model, else the Haar cascade, else nothing (logged loudly)."""
    if model_path:
        p = Path(model_path)
        if not p.is_file():
            raise FileNotFoundError(f"redaction.face_model_path does not exist: {model_path}")
        lname = p.name.lower()
        if "ultraface" in lname or "rfb" in lname:
            return UltraFaceDetector(str(p), score=score if score is not None else 0.7, threads=threads)
        return YuNetTiledDetector(str(p), score=score if score is not None else 0.5, upscale=upscale)
    cascade = find_haar_cascade()
    if cascade is not None:
        return HaarDetector(cascade)
    log.error("no face model configured and no Haar cascade found: faces are only redacted via person tracks")
    return NoFaceDetector()
