"""Pluggable object detectors. Each turns a BGR frame into ``Detections`` of wanted classes.

``make_detector(cfg)`` picks one by ``cfg.detector``: ``onnx`` (a YOLOX / YOLOv5 / YOLOv8 COCO model on
ONNX Runtime: ``model_path``, else the packaged YOLOX-nano), ``hog`` (OpenCV's built-in HOG people
detector, no model file), ``none``, or ``auto`` (the default: ``onnx`` when a model is configured or
packaged, else ``hog``; see ``oversight.config.models``).
"""

from __future__ import annotations

from typing import Protocol

import numpy as np

from oversight.analytics.types import Detections
from oversight.config.models import detector_choice
from oversight.config.schema import DetectConfig


class Detector(Protocol):
    name: str
    inference_cpu_s: float  # CPU seconds spent inside the model itself (benchmarks subtract it)

    def detect(self, frame_bgr: np.ndarray) -> Detections: ...


class NoDetector:
    """Motion only: never finds objects."""

    name = "none"

    def __init__(self) -> None:
        self.inference_cpu_s = 0.0

    def detect(self, frame_bgr: np.ndarray) -> Detections:
        return Detections.empty()


def make_detector(cfg: DetectConfig, low_confidence: float | None = None) -> Detector:
    """The detector named in ``cfg``. ``low_confidence`` lets the tracker see weak boxes too
    (ByteTrack's second association); defaults to ``cfg.min_confidence``."""
    low = cfg.min_confidence if low_confidence is None else low_confidence
    if cfg.detector == "none" or not cfg.enabled:
        return NoDetector()
    detector, model = detector_choice(cfg.detector, cfg.model_path)
    if detector == "hog":
        from oversight.analytics.detectors.hog import HogDetector

        return HogDetector(classes=cfg.classes, min_confidence=low)
    if detector == "onnx":
        from oversight.analytics.detectors.onnx import OnnxDetector

        if not model.path:
            raise ValueError("detect.detector 'onnx' needs detect.model_path (or oversight-models installed)")
        return OnnxDetector(model.path, classes=cfg.classes, min_confidence=low, providers=cfg.providers)
    raise ValueError(f"unknown detector {cfg.detector!r}")


__all__ = ["Detector", "NoDetector", "make_detector"]
