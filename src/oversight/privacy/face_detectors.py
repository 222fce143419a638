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
from pathlib import Path
from typing import Protocol

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


def _ort_session(model_path: str, threads: int | None = None):
    import onnxruntime as ort

    ort.set_default_logger_severity(3)
    opts = ort.SessionOptions()
    if threads:
        opts.intra_op_num_threads = threads
    return ort.InferenceSession(model_path, sess_options=opts, providers=["CPUExecutionProvider"])


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
    in large frames are still found). One ``cv2.FaceDetectorYN`` per input size."""

    name = "yunet"

    def __init__(self, model_path: str, score: float = 0.5, nms_iou: float = 0.3, upscale: float = 1.0):
        self.model_path, self.score, self.nms_iou, self.upscale = model_path, score, nms_iou, upscale
        self._by_size: dict[tuple[int, int], object] = {}
        self._make((320, 320))  # fail now, not on the first frame, if the model cannot load

    def _make(self, size: tuple[int, int]):
        det = self._by_size.get(size)
        if det is None:
            det = cv2.FaceDetectorYN.create(self.model_path, "", size, self.score, self.nms_iou, 5000)
            if len(self._by_size) > 8:
                self._by_size.clear()
            self._by_size[size] = det
        return det

    def detect(self, frame_bgr: np.ndarray) -> Boxes:
        img = frame_bgr
        if self.upscale != 1.0:
            img = cv2.resize(frame_bgr, None, fx=self.upscale, fy=self.upscale, interpolation=cv2.INTER_CUBIC)
        h, w = img.shape[:2]
        _, faces = self._make((w, h)).detect(img)
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
