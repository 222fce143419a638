"""Face *detectors* (boxes only, never identity) used by the redactor.

Three back ends, chosen from the configured model path:

* YuNet (``face_detection_yunet_*.onnx``) through ONNX Runtime, decoded as described in
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


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def pool_limit() -> int:
    """Native face detectors per input size: half the cores (the other half decode and run the
    person detector), so memory is bounded by the box, not by its number of cameras."""
    return max(1, _cores() // 2)


class YuNetPool:
    """The process's ``cv2.FaceDetectorYN`` objects for one model, input size and thresholds.

    A native detector holds its network and every intermediate blob for its input size (about
    240 MB at 1920x1080), and is not safe to call from two threads at once. So cameras borrow one:
    a new one is made only when all are busy, and never more than ``pool_limit()``."""

    def __init__(self, make: Any, limit: int):
        self.make, self.limit = make, max(1, limit)
        self.idle: list[Any] = []
        self.created = 0
        self._cond = threading.Condition()

    def run(self, img: np.ndarray) -> Any:
        with self._cond:
            while not self.idle and self.created >= self.limit:
                self._cond.wait()
            if self.idle:
                det = self.idle.pop()
            else:
                self.created += 1
                det = None
        try:
            if det is None:
                det = self.make()
            return det.detect(img)[1]
        finally:
            with self._cond:
                if det is None:
                    self.created -= 1  # creation failed: let another thread try
                else:
                    self.idle.append(det)
                self._cond.notify()


MAX_POOLS = 8
_YUNET_POOLS: dict[tuple[str, tuple[int, int], float, float], YuNetPool] = {}


def yunet_pool(model_path: str, size: tuple[int, int], score: float, nms_iou: float) -> YuNetPool:
    """The shared pool for this model, input size and thresholds, made on first use."""
    key = (os.path.realpath(model_path), size, score, nms_iou)
    with _SHARED_LOCK:
        pool = _YUNET_POOLS.get(key)
        if pool is None:
            if len(_YUNET_POOLS) >= MAX_POOLS:  # exports of odd sizes: drop pools nobody is using
                for k, p in list(_YUNET_POOLS.items()):
                    if len(p.idle) == p.created:
                        del _YUNET_POOLS[k]
            pool = _YUNET_POOLS[key] = YuNetPool(
                lambda: cv2.FaceDetectorYN.create(model_path, "", size, score, nms_iou, 5000), pool_limit()
            )
        return pool


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
        blob = canvas.transpose(2, 0, 1)[None]
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
        if not found:
            return _empty()
        boxes = np.concatenate(found).astype(np.float32)
        boxes[:, :4] /= r
        return nms(boxes, self.nms_iou)


class YuNetCVDetector:
    """YuNet through OpenCV DNN at the frame's own resolution (no downscaling to 640, so small faces
    in large frames are still found). The native detectors come from the process's shared
    ``YuNetPool`` for each input size, so cameras of one resolution share them."""

    name = "yunet"

    def __init__(self, model_path: str, score: float = 0.5, nms_iou: float = 0.3, upscale: float = 1.0):
        self.model_path, self.score, self.nms_iou, self.upscale = model_path, score, nms_iou, upscale
        # fail now, not on the first frame, if the model cannot load
        yunet_pool(model_path, (320, 320), score, nms_iou).run(np.zeros((320, 320, 3), np.uint8))

    def detect(self, frame_bgr: np.ndarray) -> Boxes:
        img = frame_bgr
        if self.upscale != 1.0:
            img = cv2.resize(frame_bgr, None, fx=self.upscale, fy=self.upscale, interpolation=cv2.INTER_CUBIC)
        h, w = img.shape[:2]
        faces = yunet_pool(self.model_path, (w, h), self.score, self.nms_iou).run(img)
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
        if hasattr(cv2, "FaceDetectorYN"):
            return YuNetCVDetector(str(p), score=score if score is not None else 0.5, upscale=upscale)
        return YuNetDetector(str(p), score=score if score is not None else 0.5, threads=threads)
    cascade = find_haar_cascade()
    if cascade is not None:
        return HaarDetector(cascade)
    log.error("no face model configured and no Haar cascade found: faces are only redacted via person tracks")
    return NoFaceDetector()
