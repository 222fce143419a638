"""Redaction on the way out: every pixel that leaves the system passes through ``Redactor.redact``.

Raw footage on disk is evidence and is never modified; redaction is applied to copies.

Why tracks matter: a face detector misses faces that turn, blur or shrink for a frame or two.
So besides the detector's boxes we (1) carry the last face boxes for ``carry_frames`` frames and
(2) always cover the head area (top ``head_fraction`` of the box) of every tracked person that
analytics reports, so a person stays redacted between detector hits.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from oversight.analytics.detectors.onnx import shared_session
from oversight.config.models import face_choice
from oversight.config.schema import RedactionConfig
from oversight.privacy.face_detectors import FaceDetector, YuNetTiledDetector, make_face_detector
from oversight.privacy.track import pairs

log = logging.getLogger(__name__)

Box = tuple[float, float, float, float]


def _track_box(t: Any) -> tuple[str, Box] | None:
    """(label, xyxy) from a Track dataclass, a dict or a (label, box) tuple."""
    if isinstance(t, dict):
        label, box = t.get("label", "person"), t.get("box")
    elif isinstance(t, tuple) and len(t) == 2:
        label, box = t
    else:
        label, box = getattr(t, "label", "person"), getattr(t, "box", None)
    if box is None or len(box) != 4:
        return None
    return str(label), (float(box[0]), float(box[1]), float(box[2]), float(box[3]))


class PlateDetector:
    """Licence plate *localisation* only (never reading). Expects an ONNX model whose first output
    is ``(1, N, 5)`` rows of normalised ``x1, y1, x2, y2, score`` at a fixed input size."""

    def __init__(self, model_path: str, score: float = 0.5):
        if not Path(model_path).is_file():
            raise FileNotFoundError(f"redaction.plate_model_path does not exist: {model_path}")
        self.shared = shared_session(model_path, None)
        self.session = self.shared.session
        inp = self.session.get_inputs()[0]
        self.input_name = inp.name
        self.in_h, self.in_w = int(inp.shape[2]), int(inp.shape[3])
        self.score = score

    def detect(self, frame_bgr: np.ndarray) -> list[Box]:
        h, w = frame_bgr.shape[:2]
        blob = cv2.resize(frame_bgr, (self.in_w, self.in_h)).astype(np.float32).transpose(2, 0, 1)[None]
        with self.shared.gate:
            rows = np.asarray(self.session.run(None, {self.input_name: blob})[0]).reshape(-1, 5)
        rows = rows[rows[:, 4] >= self.score]
        return [(r[0] * w, r[1] * h, r[2] * w, r[3] * h) for r in rows]


class Redactor:
    """Blurs or pixelates faces (and optionally whole persons, plates) in a copy of a frame.

    One instance per stream keeps the carry-over state; it is thread-safe (a lock per call).
    """

    def __init__(
        self,
        cfg: RedactionConfig | None = None,
        detector: FaceDetector | None = None,
        carry_frames: int = 5,
        head_fraction: float = 0.25,
        margin: float = 0.2,
    ):
        self.cfg = cfg or RedactionConfig()
        self.detector: FaceDetector | None = None
        if self.cfg.faces:
            # face_model_path, else the packaged YuNet (oversight-models), else the Haar fallback
            self.detector = detector or make_face_detector(face_choice(self.cfg.face_model_path).path)
        self.plates: PlateDetector | None = None
        if self.cfg.plates and self.cfg.plate_model_path:
            self.plates = PlateDetector(self.cfg.plate_model_path)
        elif self.cfg.plates:
            log.warning("redaction.plates is on but no plate_model_path is configured: plates not redacted")
        self.carry_frames = carry_frames
        self.head_fraction = head_fraction
        self.margin = margin
        self._carried: list[tuple[Box, int]] = []  # (box, frames left)
        self._lock = threading.Lock()
        self.last_regions: list[Box] = []

    @property
    def detector_name(self) -> str:
        return self.detector.name if self.detector else "off"

    def regions(
        self,
        frame_bgr: np.ndarray,
        tracks: Iterable[Any] | None = None,
        tracks_size: tuple[int, int] | None = None,
        interest: np.ndarray | None = None,
    ) -> list[Box]:
        """Every box that must be hidden in this frame (pixels of ``frame_bgr``). ``interest``: where
        faces may be (see ``FaceTrackStage``), for a detector that can search part of a frame."""
        h, w = frame_bgr.shape[:2]
        sx = sy = 1.0
        if tracks_size:
            sx, sy = w / tracks_size[0], h / tracks_size[1]
        out: list[Box] = []
        if self.detector is not None:
            found = (
                self.detector.detect(frame_bgr, interest)
                if interest is not None and isinstance(self.detector, YuNetTiledDetector)
                else self.detector.detect(frame_bgr)
            )
            faces: list[Box] = [(float(b[0]), float(b[1]), float(b[2]), float(b[3])) for b in found]
            # a carried box the face was found again near is superseded by the fresh one: carrying it
            # too would smear the region over both places (boxes trailing beside moving people)
            found_again = {i for i, _ in pairs([b for b, _ in self._carried], faces)}
            self._carried = [
                (b, n - 1) for i, (b, n) in enumerate(self._carried) if n - 1 > 0 and i not in found_again
            ]
            self._carried.extend((b, self.carry_frames + 1) for b in faces)
            out.extend(b for b, _ in self._carried)
        for t in tracks or ():
            tb = _track_box(t)
            if tb is None or tb[0] != "person":
                continue
            x1, y1, x2, y2 = tb[1][0] * sx, tb[1][1] * sy, tb[1][2] * sx, tb[1][3] * sy
            if self.cfg.persons:
                out.append((x1, y1, x2, y2))
            elif self.cfg.faces:
                out.append((x1, y1, x2, y1 + (y2 - y1) * self.head_fraction))
        if self.plates is not None:
            out.extend(self.plates.detect(frame_bgr))
        return out

    def redact(
        self,
        frame_bgr: np.ndarray,
        tracks: Iterable[Any] | None = None,
        tracks_size: tuple[int, int] | None = None,
    ) -> np.ndarray:
        """A redacted copy; the input array is never modified."""
        out = frame_bgr.copy()
        with self._lock:
            regions = self.regions(frame_bgr, tracks, tracks_size)
        self.last_regions = regions
        apply_regions(out, regions, self.cfg.style, self.margin)
        return out


def apply_regions(img: np.ndarray, regions: Sequence[Box], style: str = "blur", margin: float = 0.2) -> None:
    """Blur/pixelate each region in place, grown by ``margin`` so hair and chin go too."""
    h, w = img.shape[:2]
    for x1, y1, x2, y2 in regions:
        mx, my = (x2 - x1) * margin, (y2 - y1) * margin
        a, b = max(0, int(x1 - mx)), max(0, int(y1 - my))
        c, d = min(w, int(np.ceil(x2 + mx))), min(h, int(np.ceil(y2 + my)))
        if c - a < 2 or d - b < 2:
            continue
        roi = img[b:d, a:c]
        if style == "pixelate":
            small = cv2.resize(
                roi, (max(1, (c - a) // 12), max(1, (d - b) // 12)), interpolation=cv2.INTER_AREA
            )
            img[b:d, a:c] = cv2.resize(small, (c - a, d - b), interpolation=cv2.INTER_NEAREST)
        else:
            k = max(3, (max(c - a, d - b) // 2) | 1)
            # blur a heavily downscaled copy: strong, cheap, and no recoverable detail
            small = cv2.resize(
                roi, (max(1, (c - a) // 6), max(1, (d - b) // 6)), interpolation=cv2.INTER_AREA
            )
            small = cv2.GaussianBlur(small, (max(3, (k // 6) | 1), max(3, (k // 6) | 1)), 0)
            img[b:d, a:c] = cv2.GaussianBlur(cv2.resize(small, (c - a, d - b)), (k, k), 0)


def h264_encoder_available() -> bool:
    import av

    return "libx264" in av.codecs_available or "h264" in av.codecs_available
