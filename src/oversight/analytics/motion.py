"""Cheap motion detection that gates the object detector.

Works on a subsampled copy of the frame's green channel (a good stand-in for luma; every
``step``-th pixel, about ``MOTION_WIDTH`` wide) against a running-average background, in plain
NumPy. That is deliberate: OpenCV calls on small images wake OpenCV's worker threads every frame,
which cost more CPU than the work itself when a camera thread calls them a few times a second.
A pixel "moves" when it differs from the background by more than ``threshold``; the frame has
motion when the moving pixels outside the masks cover at least ``min_area`` of the frame. Mask
polygons are in detect-frame pixels, like the rules; a camera's privacy masks (normalised, every
PTZ preset's) are added to them by ``privacy_masks_px`` so analytics ignore private places too.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from oversight.config.schema import CameraConfig, MotionConfig

MOTION_WIDTH = 160
BACKGROUND_ALPHA = 0.05  # how fast the background absorbs changes (lighting drift, parked objects)


def privacy_masks_px(cam: CameraConfig, width: int, height: int) -> list[list[tuple[float, float]]]:
    """The camera's privacy masks as detect-frame polygons (all presets: fail closed)."""
    return [[(x * width, y * height) for x, y in m.polygon] for m in cam.masks]


def with_privacy_masks(cam: CameraConfig) -> MotionConfig:
    """The camera's motion settings with its privacy masks added to the motion masks."""
    extra = privacy_masks_px(cam, cam.detect.width, cam.detect.height)
    if not extra:
        return cam.motion
    return cam.motion.model_copy(update={"masks": [*cam.motion.masks, *extra]})


def outside_masks(cam: CameraConfig, width: int, height: int) -> np.ndarray | None:
    """Boolean (height, width), True where analytics may look; None when nothing is masked."""
    polys = privacy_masks_px(cam, width, height)
    if not polys:
        return None
    keep = np.full((height, width), 1, np.uint8)
    cv2.fillPoly(keep, [np.round(np.asarray(p)).astype(np.int32) for p in polys], 0)
    return keep.astype(bool)


class MotionDetector:
    def __init__(self, cfg: MotionConfig, width: int, height: int, work_width: int = MOTION_WIDTH):
        self.cfg = cfg
        self.width, self.height = width, height
        self.step = max(1, round(width / work_width))
        self.sw = -(-width // self.step)
        self.sh = -(-height // self.step)
        self._background: np.ndarray | None = None  # float32 running average
        self._diff = np.empty((self.sh, self.sw), np.float32)
        self._mask = self._build_mask(cfg.masks)  # True where motion counts
        kept = int(np.count_nonzero(self._mask)) if self._mask is not None else self.sw * self.sh
        self._any_kept = kept > 0
        self._min_pixels = max(1, round(cfg.min_area * self.sw * self.sh))
        self.last_fraction = 0.0
        # where the last frame moved (``sh`` x ``sw``, over the whole frame), or None before the
        # second frame: a new array each frame, never written after, so other threads may read it
        self.moving: np.ndarray | None = None

    def _build_mask(self, polygons: Sequence[Sequence[tuple[float, float]]]) -> np.ndarray | None:
        if not polygons:
            return None
        mask = np.full((self.sh, self.sw), 255, np.uint8)
        for poly in polygons:
            pts = np.round(np.asarray(poly, np.float64) / self.step).astype(np.int32)
            cv2.fillPoly(mask, [pts], 0)
        return mask.astype(bool)

    def sample(self, frame_bgr: np.ndarray) -> np.ndarray:
        """The subsampled green channel as float32 (a copy: the caller may reuse its frame buffer)."""
        return frame_bgr[:: self.step, :: self.step, 1].astype(np.float32)

    def update(self, frame_bgr: np.ndarray) -> bool:
        """Feed one frame; True when it moved against the background."""
        g = self.sample(frame_bgr)
        bg = self._background
        if bg is None or bg.shape != g.shape:
            self._background = g
            self.last_fraction = 0.0
            return False
        diff = self._diff
        np.subtract(g, bg, out=diff)
        np.abs(diff, out=diff)
        moving = diff > self.cfg.threshold
        if self._mask is not None:
            moving &= self._mask
        self.moving = moving
        changed = int(np.count_nonzero(moving))
        self.last_fraction = changed / float(self.sw * self.sh)
        # bg += alpha * (g - bg)
        np.subtract(g, bg, out=diff)
        diff *= BACKGROUND_ALPHA
        bg += diff
        return changed >= self._min_pixels and self._any_kept
