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
import threading
from pathlib import Path
from typing import Any, Protocol

import cv2
import numpy as np

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


_ORT_SESSIONS: dict[tuple[str, int | None], Any] = {}
_SHARED_LOCK = threading.Lock()


def _ort_session(model_path: str, threads: int | None = None):
    """One session per model file and thread count in the process: every camera's redactor shares
    it (an ONNX Runtime ``Run`` is thread-safe), so a camera adds no model weights or arena."""
    import onnxruntime as ort

    key = (os.path.realpath(model_path), threads)
    with _SHARED_LOCK:
        session = _ORT_SESSIONS.get(key)
        if session is None:
            ort.set_default_logger_severity(3)
            opts = ort.SessionOptions()
            if threads:
                opts.intra_op_num_threads = threads
            session = ort.InferenceSession(model_path, sess_options=opts, providers=["CPUExecutionProvider"])
            _ORT_SESSIONS[key] = session
        return session


class YuNetDetector:
    """YuNet 2023mar: fixed 640x640 input, letterboxed top-left, anchor-free decode, NMS 0.3."""

    name = "yunet"
    SIZE = 640

    def __init__(self, model_path: str, score: float = 0.5, nms_iou: float = 0.3, threads: int | None = None):
        self.session = _ort_session(model_path, threads)
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
        canvas = np.zeros((self.SIZE, self.SIZE, 3), np.float32)
        canvas[:nh, :nw] = cv2.resize(frame_bgr, (nw, nh), interpolation=cv2.INTER_LINEAR)
        boxes = self.canvas_boxes(canvas)
        boxes[:, :4] /= r
        return nms(boxes, self.nms_iou)

    def canvas_boxes(self, canvas: np.ndarray) -> Boxes:
        """Faces on one ``SIZE`` x ``SIZE`` BGR canvas, in its pixels, before NMS."""
        blob = canvas.astype(np.float32, copy=False).transpose(2, 0, 1)[None]
        out = dict(zip(self.outputs, self.session.run(self.outputs, {self.input_name: blob}), strict=True))
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


def _touches(mask: np.ndarray, x1: float, y1: float, x2: float, y2: float) -> bool:
    """Whether any cell of ``mask`` (over the whole frame) lies in this normalised rectangle."""
    mh, mw = mask.shape[:2]
    a, b = int(x1 * mw), int(y1 * mh)
    return bool(mask[b : max(b + 1, int(np.ceil(y2 * mh))), a : max(a + 1, int(np.ceil(x2 * mw)))].any())


class YuNetTiledDetector:
    """YuNet through ONNX Runtime on the frame (upscaled) cut into overlapping 640x640 tiles, plus
    one pass over the whole frame for faces larger than the overlap; boxes merged by NMS.

    Why: the same pixels cost about a fifth of the CPU of OpenCV's ``FaceDetectorYN`` (10 ms
    against 51 ms a tile on one core), and the session is a few MB shared by every camera instead of
    about 240 MB of network blobs per input size. It is what makes the privacy stage affordable on
    every camera of a small box."""

    name = "yunet"
    OVERLAP = 128  # a face up to this many (upscaled) pixels lies whole in some tile

    def __init__(self, model_path: str, score: float = 0.5, nms_iou: float = 0.3, upscale: float = 1.0):
        self.net = YuNetDetector(model_path, score, nms_iou, threads=1)
        self.nms_iou, self.upscale = nms_iou, upscale
        self.tiles_run = self.tiles_total = 0  # tiles searched and tiles there were (interest masks)

    @staticmethod
    def _starts(length: int, tile: int, overlap: int) -> list[int]:
        if length <= tile:
            return [0]
        n = -(-(length - overlap) // (tile - overlap))  # ceil: tiles needed along this side
        return [round(i * (length - tile) / (n - 1)) for i in range(n)]

    def detect(self, frame_bgr: np.ndarray, interest: np.ndarray | None = None) -> Boxes:
        """Faces in the frame. ``interest``: a coarse boolean mask over the whole frame (any
        resolution) of where faces may be; tiles it does not touch are not searched (the pass over
        the whole frame, for large faces, always runs)."""
        img = frame_bgr
        if self.upscale != 1.0:
            img = cv2.resize(frame_bgr, None, fx=self.upscale, fy=self.upscale, interpolation=cv2.INTER_CUBIC)
        h, w = img.shape[:2]
        t = self.net.SIZE
        found = [self.net.detect(img)] if max(h, w) > t else []  # large faces, whole frame
        canvas = np.zeros((t, t, 3), np.float32)
        for y in self._starts(h, t, self.OVERLAP):
            for x in self._starts(w, t, self.OVERLAP):
                self.tiles_total += 1
                if interest is not None and not _touches(interest, x / w, y / h, (x + t) / w, (y + t) / h):
                    continue
                self.tiles_run += 1
                tile = img[y : y + t, x : x + t]
                canvas[:] = 0
                canvas[: tile.shape[0], : tile.shape[1]] = tile
                b = self.net.canvas_boxes(canvas)
                # a face cut by a seam between tiles ranks below whole ones: it lies whole in the
                # neighbouring tile (or, larger than the overlap, in the whole-frame pass), and NMS
                # would otherwise keep the cut box over the whole one when it scores higher
                cut = np.zeros(len(b), bool)
                if x > 0:
                    cut |= b[:, 0] <= SEAM_PX
                if y > 0:
                    cut |= b[:, 1] <= SEAM_PX
                if x + t < w:
                    cut |= b[:, 2] >= t - SEAM_PX
                if y + t < h:
                    cut |= b[:, 3] >= t - SEAM_PX
                b[cut, 4] *= 0.5
                b[:, [0, 2]] += x
                b[:, [1, 3]] += y
                found.append(b)
        boxes = nms(np.concatenate(found), self.nms_iou) if found else _empty()
        boxes[:, :4] /= self.upscale
        return boxes


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
        self.session = _ort_session(model_path, threads)
        inp = self.session.get_inputs()[0]
        self.input_name = inp.name
        self.in_h, self.in_w = int(inp.shape[2]), int(inp.shape[3])
        self.score = score
        self.nms_iou = nms_iou

    def detect(self, frame_bgr: np.ndarray) -> Boxes:
        h, w = frame_bgr.shape[:2]
        img = cv2.cvtColor(cv2.resize(frame_bgr, (self.in_w, self.in_h)), cv2.COLOR_BGR2RGB)
        blob = ((img.astype(np.float32) - 127.0) / 128.0).transpose(2, 0, 1)[None]
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
