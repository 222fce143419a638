"""COCO object detectors on ONNX Runtime: YOLOX (raw head, grid decode), YOLOv5 and YOLOv8 exports.

The output layout tells the family apart (no config needed):

* YOLOX: ``[1, A, 5+C]`` with A = sum over strides 8/16/32 of (H/s)*(W/s): raw ``tx, ty, tw, th``
  needing the grid decode, sigmoid-ed objectness and class scores. Input: raw 0-255 **BGR**,
  letterboxed at the **top-left** on a 114 canvas (see shared/assets/SOURCES.md).
* YOLOv5: ``[1, 3A, 5+C]`` (three anchors per cell), boxes already decoded to input pixels
  ``cx, cy, w, h``; objectness and class scores. Input: RGB / 255, letterbox centred on 114.
* YOLOv8: ``[1, 4+C, A]``, decoded ``cx, cy, w, h`` then class scores (no objectness).
  Input as YOLOv5.

Execution providers: ``providers`` from the config, else TensorRT, CUDA, CPU (those available).

One ONNX Runtime session per model is shared by every camera of the process (``shared_session``):
the weights and the graph are loaded once, so an added camera costs its own small buffers, not a
model. Each ``detect`` runs the model on the calling camera's analytics thread with ONE intra-op
thread, and at most one run per core is admitted at a time: cameras run in parallel across the
cores instead of every camera's session spreading each frame over all cores (1.67x the CPU for a
6 % latency gain, see shared/MEASUREMENTS.md) and oversubscribing the machine.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import cv2
import numpy as np

from oversight.analytics.detectors.coco import COCO_CLASSES
from oversight.analytics.detectors.nms import batched_nms
from oversight.analytics.types import Detections

Family = Literal["yolox", "yolov5", "yolov8"]
PREFERRED_PROVIDERS = ("TensorrtExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider")
STRIDES = (8, 16, 32)
NMS_IOU = 0.45


def pick_providers(requested: Sequence[str] | None) -> list[str]:
    import onnxruntime as ort

    available = ort.get_available_providers()
    if requested:
        missing = [p for p in requested if p not in available]
        if missing:
            raise ValueError(f"ONNX Runtime providers not available: {missing} (available: {available})")
        return list(requested)
    return [p for p in PREFERRED_PROVIDERS if p in available] or ["CPUExecutionProvider"]


def grid_cells(h: int, w: int) -> int:
    return sum((h // s) * (w // s) for s in STRIDES)


def detect_family(output_shape: Sequence[int], h: int, w: int) -> Family:
    _, d1, d2 = output_shape
    cells = grid_cells(h, w)
    if d1 < d2 and d2 == cells:
        return "yolov8"
    if d1 == cells:
        return "yolox"
    if d1 == 3 * cells:
        return "yolov5"
    raise ValueError(f"unrecognised detector output shape {list(output_shape)} for input {w}x{h}")


@dataclass
class Letterbox:
    ratio: float
    pad_x: float
    pad_y: float


def letterbox(frame_bgr: np.ndarray, h: int, w: int, centre: bool, out: np.ndarray) -> Letterbox:
    """Resize keeping the aspect into ``out`` (an HxWx3 uint8 canvas already filled with 114)."""
    fh, fw = frame_bgr.shape[:2]
    r = min(h / fh, w / fw)
    nh, nw = round(fh * r), round(fw * r)
    py = (h - nh) // 2 if centre else 0
    px = (w - nw) // 2 if centre else 0
    out[:] = 114
    out[py : py + nh, px : px + nw] = cv2.resize(frame_bgr, (nw, nh), interpolation=cv2.INTER_LINEAR)
    return Letterbox(r, float(px), float(py))


def yolox_grid(h: int, w: int) -> tuple[np.ndarray, np.ndarray]:
    """(A, 2) grid offsets and (A, 1) strides in YOLOX output order (stride 8, 16, 32; rows then cols)."""
    grids, strides = [], []
    for s in STRIDES:
        gy, gx = np.meshgrid(np.arange(h // s), np.arange(w // s), indexing="ij")
        grids.append(np.stack([gx.ravel(), gy.ravel()], axis=1))
        strides.append(np.full((gx.size, 1), s))
    return np.concatenate(grids).astype(np.float32), np.concatenate(strides).astype(np.float32)


def decode(
    raw: np.ndarray,
    family: Family,
    grid: np.ndarray | None,
    strides: np.ndarray | None,
    class_ids: np.ndarray,
    min_confidence: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Model output (batch 1) -> (boxes xyxy in input pixels, scores, COCO class ids) after NMS."""
    out = raw[0]
    grid_k, strides_k = grid, strides
    if family == "yolov8":
        out = out.T
        cls = out[:, 4:][:, class_ids]
        boxes_cxcywh = out[:, :4]
    else:
        # score = obj * cls <= obj: drop the (many) low-objectness anchors before touching classes
        cand = np.flatnonzero(out[:, 4] >= min_confidence)
        out = out[cand]
        if grid is not None and strides is not None:
            grid_k, strides_k = grid[cand], strides[cand]
        cls = out[:, 5:][:, class_ids] * out[:, 4:5]
        boxes_cxcywh = out[:, :4]
    if len(cls) == 0:
        return np.zeros((0, 4), np.float32), np.zeros((0,), np.float32), np.zeros((0,), np.int64)
    best = cls.argmax(axis=1)
    scores = cls[np.arange(len(cls)), best]
    keep = scores >= min_confidence
    if not keep.any():
        return np.zeros((0, 4), np.float32), np.zeros((0,), np.float32), np.zeros((0,), np.int64)
    b = boxes_cxcywh[keep].astype(np.float32)
    if family == "yolox":
        assert grid_k is not None and strides_k is not None
        g, s = grid_k[keep], strides_k[keep]
        cxcy = (b[:, :2] + g) * s
        wh = np.exp(b[:, 2:4]) * s
    else:
        cxcy, wh = b[:, :2], b[:, 2:4]
    xyxy = np.concatenate([cxcy - wh / 2, cxcy + wh / 2], axis=1)
    scores, cids = scores[keep], class_ids[best[keep]]
    idx = batched_nms(xyxy, scores, cids, NMS_IOU)
    return xyxy[idx], scores[idx], cids[idx]


@dataclass
class SharedSession:
    """One loaded model and the gate that admits at most ``slots`` concurrent runs."""

    session: Any  # onnxruntime.InferenceSession: Run is thread-safe
    gate: threading.BoundedSemaphore
    threads: int  # intra-op threads per run
    slots: int
    users: int = 0


_SESSIONS: dict[tuple[str, tuple[str, ...], int], SharedSession] = {}
_SESSIONS_LOCK = threading.Lock()


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def shared_session(
    model_path: str, providers: Sequence[str] | None, threads: int | None = None
) -> SharedSession:
    """The process's session for this model file and providers, created on first use.

    ``threads`` intra-op threads per run (default 1); concurrent runs are limited so that
    runs x threads stays within the cores this process may use."""
    import onnxruntime as ort

    chosen = tuple(pick_providers(providers))
    per_run = max(1, threads or 1)
    key = (os.path.realpath(model_path), chosen, per_run)
    with _SESSIONS_LOCK:
        shared = _SESSIONS.get(key)
        if shared is None:
            opts = ort.SessionOptions()
            # No busy-waiting between runs: idle ORT threads spinning after each frame burn CPU that
            # a many-camera server needs (and that no latency gain justifies at a few fps per camera).
            opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
            opts.add_session_config_entry("session.inter_op.allow_spinning", "0")
            opts.intra_op_num_threads = per_run
            opts.inter_op_num_threads = 1
            session = ort.InferenceSession(model_path, sess_options=opts, providers=list(chosen))
            slots = max(1, _cores() // per_run)
            shared = _SESSIONS[key] = SharedSession(
                session, threading.BoundedSemaphore(slots), per_run, slots
            )
        shared.users += 1
        return shared


class OnnxDetector:
    """One camera's view of a shared model: its own classes, threshold and input buffer."""

    name = "onnx"

    def __init__(
        self,
        model_path: str,
        classes: Sequence[str] = ("person",),
        min_confidence: float = 0.4,
        providers: Sequence[str] | None = None,
        threads: int | None = None,
    ):
        unknown = [c for c in classes if c not in COCO_CLASSES]
        if unknown:
            raise ValueError(f"classes not in COCO: {unknown}")
        self.shared = shared_session(model_path, providers, threads)
        self.session = self.shared.session
        inp = self.session.get_inputs()[0]
        self.input_name = inp.name
        shape = inp.shape
        self.h = shape[2] if isinstance(shape[2], int) else 640
        self.w = shape[3] if isinstance(shape[3], int) else 640
        out_shape = self.session.get_outputs()[0].shape
        if not all(isinstance(d, int) for d in out_shape[1:]):
            out_shape = self.session.run(
                None, {self.input_name: np.zeros((1, 3, self.h, self.w), np.float32)}
            )[0].shape
        self.family: Family = detect_family(out_shape, self.h, self.w)
        self.class_ids = np.asarray([COCO_CLASSES.index(c) for c in classes], np.int64)
        self.min_confidence = min_confidence
        self.grid: np.ndarray | None = None
        self.strides: np.ndarray | None = None
        if self.family == "yolox":
            self.grid, self.strides = yolox_grid(self.h, self.w)
        self._blob = np.zeros((1, 3, self.h, self.w), np.float32)
        self._geometry: dict[tuple[int, int], tuple[Letterbox, int, int, int, int]] = {}
        self.inference_cpu_s = 0.0
        self.providers = self.session.get_providers()

    def preprocess(self, frame_bgr: np.ndarray) -> tuple[np.ndarray, Letterbox]:
        """Letterbox into the reused input blob. The padding never changes for a given frame size,
        so only the picture area is resized and converted each frame."""
        yolox = self.family == "yolox"
        fh, fw = frame_bgr.shape[:2]
        geom = self._geometry.get((fh, fw))
        if geom is None:
            r = min(self.h / fh, self.w / fw)
            nh, nw = round(fh * r), round(fw * r)
            py, px = (0, 0) if yolox else ((self.h - nh) // 2, (self.w - nw) // 2)
            geom = self._geometry[(fh, fw)] = (Letterbox(r, float(px), float(py)), nh, nw, py, px)
            self._blob[:] = 114.0 if yolox else 114.0 / 255.0
        lb, nh, nw, py, px = geom
        img = cv2.resize(frame_bgr, (nw, nh), interpolation=cv2.INTER_LINEAR)
        order = (0, 1, 2) if yolox else (2, 1, 0)  # YOLOX takes BGR, YOLOv5/v8 RGB
        for dst, channel in zip(order, cv2.split(img), strict=True):
            area = self._blob[0, dst, py : py + nh, px : px + nw]
            area[...] = channel
            if not yolox:
                area *= 1.0 / 255.0
        return self._blob, lb

    def detect(self, frame_bgr: np.ndarray) -> Detections:
        blob, lb = self.preprocess(frame_bgr)
        # one intra-op thread runs on this thread: its CPU clock is the model's cost alone
        clock = time.thread_time if self.shared.threads == 1 else time.process_time
        with self.shared.gate:
            t0 = clock()
            raw = self.session.run(None, {self.input_name: blob})[0]
            self.inference_cpu_s += clock() - t0
        xyxy, scores, cids = decode(
            raw, self.family, self.grid, self.strides, self.class_ids, self.min_confidence
        )
        if len(scores) == 0:
            return Detections.empty()
        xyxy = (xyxy - np.asarray([lb.pad_x, lb.pad_y, lb.pad_x, lb.pad_y], np.float32)) / lb.ratio
        fh, fw = frame_bgr.shape[:2]
        np.clip(xyxy, 0, [fw, fh, fw, fh], out=xyxy)
        labels = tuple(COCO_CLASSES[int(c)] for c in cids)
        return Detections(xyxy.astype(np.float32), scores.astype(np.float32), labels)
