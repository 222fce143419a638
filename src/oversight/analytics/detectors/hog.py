"""OpenCV's HOG + linear SVM people detector (Dalal-Triggs). Needs no model file, so it is the
offline default; it only finds upright people and is slower and weaker than a CNN.

The SVM window is 64x128 px, so people shorter than ~128 px are missed: frames under 720 px
high are upscaled (at most 2x) before detection and the boxes scaled back.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import cv2
import numpy as np

from oversight.analytics.types import Detections

TARGET_HEIGHT = 720.0


def hog_available() -> bool:
    return hasattr(cv2, "HOGDescriptor")


class HogDetector:
    name = "hog"

    def __init__(
        self, classes: Sequence[str] = ("person",), min_confidence: float = 0.4, upscale: float | None = None
    ):
        if not hog_available():
            raise RuntimeError(
                "this OpenCV build has no HOGDescriptor (OpenCV 5 moved it to contrib): "
                "install opencv-python-headless 4.x (see pyproject.toml)"
            )
        self.enabled = "person" in classes
        self.min_confidence = min_confidence
        self.upscale = upscale
        self.hog = cv2.HOGDescriptor()
        self.hog.setSVMDetector(np.asarray(cv2.HOGDescriptor.getDefaultPeopleDetector(), np.float32))
        self.inference_cpu_s = 0.0

    def detect(self, frame_bgr: np.ndarray) -> Detections:
        if not self.enabled:
            return Detections.empty()
        h = frame_bgr.shape[0]
        f = self.upscale if self.upscale is not None else min(2.0, max(1.0, TARGET_HEIGHT / h))
        img = (
            frame_bgr if f == 1.0 else cv2.resize(frame_bgr, None, fx=f, fy=f, interpolation=cv2.INTER_LINEAR)
        )
        t0 = time.process_time()
        rects, weights = self.hog.detectMultiScale(img, winStride=(8, 8), padding=(8, 8), scale=1.05)
        self.inference_cpu_s += time.process_time() - t0
        if len(rects) == 0:
            return Detections.empty()
        r = np.asarray(rects, np.float32).reshape(-1, 4) / f
        w = np.asarray(weights, np.float32).reshape(-1)
        conf = 1.0 / (1.0 + np.exp(-w))  # SVM margin -> 0..1 (margin 0 = 0.5)
        xyxy = np.stack([r[:, 0], r[:, 1], r[:, 0] + r[:, 2], r[:, 1] + r[:, 3]], axis=1)
        # HOG boxes include ~10% padding around the person; tighten so bottom-centre is the feet.
        pad_x, pad_y = (xyxy[:, 2] - xyxy[:, 0]) * 0.1, (xyxy[:, 3] - xyxy[:, 1]) * 0.05
        xyxy = xyxy + np.stack([pad_x, pad_y, -pad_x, -pad_y], axis=1)
        keep = conf >= self.min_confidence
        xyxy, conf = xyxy[keep], conf[keep]
        if len(conf) > 1:
            from oversight.analytics.detectors.nms import nms

            idx = nms(xyxy, conf, 0.45)
            xyxy, conf = xyxy[idx], conf[idx]
        return Detections(xyxy.astype(np.float32), conf.astype(np.float32), ("person",) * len(conf))
