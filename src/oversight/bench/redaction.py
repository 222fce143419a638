"""``oversight bench redaction``: are faces covered in every frame, and what does it cost?

The clips we have show few faces, so moving test footage is built: group photos with many frontal
faces (``--faces``, default the ``ultraface_imgs_*.jpg`` assets) are pasted over the video's
frames and panned across them, changing photo every ``--switch`` frames.

Reference: the strongest detector available at a slow setting, YuNet on the frame upscaled
``--ref-scale`` times, run tile by tile at full model resolution with a low threshold. A reference
face counts as covered when the redacted regions (as blurred, margin included) cover at least
``COVER`` of its box. Cost: CPU time per frame of the redactor next to the decode floor (decode +
compositing) measured in the same run.
"""

from __future__ import annotations

import glob
import time
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from oversight.config.schema import RedactionConfig
from oversight.privacy.face_detectors import YuNetCVDetector, YuNetTiledDetector
from oversight.privacy.redaction import Redactor

COVER = 0.8
TARGET = 0.95
DEFAULT_FACES = str(
    Path(__file__).resolve().parents[3].parent / "shared" / "assets" / "images" / "ultraface_imgs_*.jpg"
)
DEFAULT_MODEL = (
    Path(__file__).resolve().parents[3].parent
    / "shared"
    / "assets"
    / "models"
    / "face_detection_yunet_2023mar.onnx"
)


def decode_frames(video: Path, n: int, width: int) -> list[np.ndarray]:
    import av

    out = []
    with av.open(str(video)) as c:
        for f in c.decode(video=0):
            img = f.to_ndarray(format="bgr24")
            h = int(round(img.shape[0] * width / img.shape[1] / 2) * 2)
            out.append(cv2.resize(img, (width, h), interpolation=cv2.INTER_AREA))
            if len(out) >= n:
                break
    if not out:
        raise ValueError(f"no frames decoded from {video}")
    return out


def compose(bg: np.ndarray, photo: np.ndarray, t: float, scale: float) -> np.ndarray:
    """Paste ``photo`` (scaled to ``scale`` of the frame width) at a position panning with t in [0, 1]."""
    h, w = bg.shape[:2]
    pw = int(w * scale)
    ph = min(h, int(photo.shape[0] * pw / photo.shape[1]))
    p = cv2.resize(photo, (pw, ph), interpolation=cv2.INTER_AREA)[:ph]
    x = int((w - pw) * t)
    y = int((h - ph) * (0.5 + 0.5 * np.sin(t * np.pi * 2)) if h > ph else 0)
    out = bg.copy()
    out[y : y + ph, x : x + pw] = p
    return out


class Reference:
    """The slow, strong setting: YuNet (OpenCV DNN) on the frame upscaled ``scale`` times, so faces
    too small for the production setting are still found."""

    def __init__(self, model: str, scale: float = 2.0, score: float = 0.6):
        self.det = YuNetCVDetector(model, score=score, upscale=scale)
        self.scale, self.score = scale, score

    def detect(self, frame: np.ndarray) -> np.ndarray:
        return self.det.detect(frame)


def _covered(
    box: np.ndarray, regions: list[tuple[float, float, float, float]], margin: float, w: int, h: int
) -> bool:
    x1, y1, x2, y2 = (float(v) for v in box[:4])
    area = max(1e-6, (x2 - x1) * (y2 - y1))
    mask_area = 0.0
    # union of region boxes intersected with the face box, on a small raster for exactness
    gx = np.linspace(x1, x2, 12)
    gy = np.linspace(y1, y2, 12)
    xx, yy = np.meshgrid(gx, gy)
    inside = np.zeros_like(xx, dtype=bool)
    for a, b, c, d in regions:
        mx, my = (c - a) * margin, (d - b) * margin
        a, b, c, d = max(0, a - mx), max(0, b - my), min(w, c + mx), min(h, d + my)
        inside |= (xx >= a) & (xx <= c) & (yy >= b) & (yy <= d)
    mask_area = inside.mean() * area
    return bool(mask_area / area >= COVER)


def run(
    video: Path,
    frames: int = 60,
    width: int = 960,
    faces_glob: str = DEFAULT_FACES,
    model: str | None = None,
    switch: int = 20,
    scale: float = 0.6,
    ref_scale: float = 2.0,
    min_face: float = 12.0,
    upscale: float = 1.5,
) -> dict[str, Any]:
    photos = [img for p in sorted(glob.glob(faces_glob)) if (img := cv2.imread(p)) is not None]
    if not photos:
        raise FileNotFoundError(f"no face photos match {faces_glob}")
    model = model or (str(DEFAULT_MODEL) if DEFAULT_MODEL.exists() else None)
    if model is None:
        raise FileNotFoundError("no YuNet model for the reference; pass --model")

    t0 = time.process_time()
    bgs = decode_frames(video, frames, width)
    decode_s = time.process_time() - t0
    n = len(bgs)
    t0 = time.process_time()
    composed = [
        compose(bgs[i], photos[(i // switch) % len(photos)], (i % switch) / max(1, switch - 1), scale)
        for i in range(n)
    ]
    compose_s = time.process_time() - t0

    ref = Reference(model, scale=ref_scale)
    refs = [ref.detect(f) for f in composed]

    cfg = RedactionConfig(face_model_path=model)
    redactor = Redactor(cfg, detector=YuNetTiledDetector(model, score=0.5, upscale=upscale))
    per_frame, all_faces, red_s = [], [0, 0], 0.0
    small: dict[str, list[int]] = {}
    for f, r in zip(composed, refs, strict=True):
        t0 = time.process_time()
        redactor.redact(f)
        red_s += time.process_time() - t0
        h, w = f.shape[:2]
        cov = [_covered(b, redactor.last_regions, redactor.margin, w, h) for b in r]
        heights = [float(b[3] - b[1]) for b in r]
        big = [c for c, hh in zip(cov, heights, strict=True) if hh >= min_face]
        per_frame.append((sum(big), len(big)))
        all_faces[0] += sum(cov)
        all_faces[1] += len(cov)
        for c, hh in zip(cov, heights, strict=True):
            bucket = (
                "<8px"
                if hh < 8
                else "8-12px"
                if hh < 12
                else "12-16px"
                if hh < 16
                else "16-24px"
                if hh < 24
                else ">=24px"
            )
            small.setdefault(bucket, [0, 0])
            small[bucket][0] += int(c)
            small[bucket][1] += 1
    recalls = [h / t for h, t in per_frame if t]
    total_ref = sum(t for _, t in per_frame)
    total_hit = sum(h for h, _ in per_frame)
    floor_ms = (decode_s + compose_s) / n * 1000
    red_ms = red_s / n * 1000
    return {
        "video": str(video),
        "frames": n,
        "frame_size": [int(composed[0].shape[1]), int(composed[0].shape[0])],
        "photos": len(photos),
        "redactor": {
            "detector": redactor.detector_name,
            "model": Path(model).name,
            "upscale": upscale,
            "carry_frames": redactor.carry_frames,
        },
        "reference": {
            "detector": "yunet (OpenCV DNN) on upscaled frame",
            "upscale": ref_scale,
            "score": ref.score,
            "faces": all_faces[1],
            f"faces_at_least_{min_face:g}px": total_ref,
        },
        "recall_all_sizes": round(all_faces[0] / all_faces[1], 4) if all_faces[1] else None,
        "recall_by_face_height": {
            k: {"faces": v[1], "recall": round(v[0] / v[1], 4)} for k, v in sorted(small.items())
        },
        "recall": {
            "min_face_px": min_face,
            "overall": round(total_hit / total_ref, 4) if total_ref else None,
            "min_frame": round(min(recalls), 4) if recalls else None,
            "mean_frame": round(float(np.mean(recalls)), 4) if recalls else None,
            "frames_meeting_target": sum(1 for x in recalls if x >= TARGET),
            "frames_with_faces": len(recalls),
            "target": TARGET,
            "cover_fraction": COVER,
        },
        "cpu_ms_per_frame": {
            "decode_floor": round(floor_ms, 2),
            "redaction": round(red_ms, 2),
            "redaction_over_floor": round(red_ms / floor_ms, 2) if floor_ms else None,
        },
        "meets_target": bool(recalls) and bool(min(recalls) >= TARGET),
    }
