"""Privacy masks: private places (windows, doors, a school yard) painted black on the way out.

Invariant: the egress gate calls ``apply_masks`` last on every picture it hands out, so a
``permanent`` mask is black at every exit whatever reveal the viewer holds, and a ``liftable`` mask
is black unless that picture is revealed. On a PTZ camera a mask applies at the preset it was drawn
for; while the camera reports being off every known preset the whole picture is black (the masks
cannot be placed, so nothing is shown). Recorded footage has no stored preset history yet, so it
gets every preset's masks at once (fail closed) and is never blackened whole.

The public portal and the PIA show masks as a schematic (``schematic_svg``): the polygons drawn on
a blank frame of the camera's aspect, never camera pixels.
"""

from __future__ import annotations

import hashlib
import html
import json
from collections.abc import Sequence
from typing import Any

import cv2
import numpy as np

from oversight.config.schema import CameraConfig, PrivacyMask


def current_preset(cam: CameraConfig, worker: Any = None) -> str | None:
    """Where the camera reports being: the worker's ``ptz_preset`` (set by PTZ control) when it has
    one, else the configured ``ptz.preset``."""
    reported = getattr(worker, "ptz_preset", None) if worker is not None else None
    if isinstance(reported, str):
        return reported
    return cam.ptz.preset if cam.ptz else None


def off_preset(cam: CameraConfig, worker: Any = None) -> bool:
    """True when a masked PTZ camera is not at any of its known presets (its masks cannot be placed)."""
    if cam.ptz is None or not cam.masks:
        return False
    return current_preset(cam, worker) not in set(cam.ptz.presets)


def active_masks(cam: CameraConfig, recorded: bool, worker: Any = None) -> list[PrivacyMask]:
    """The masks for a picture: all of them for recorded footage, the current preset's (and the
    preset-less ones) for live pictures."""
    if recorded or cam.ptz is None:
        return list(cam.masks)
    here = current_preset(cam, worker)
    return [m for m in cam.masks if m.preset is None or m.preset == here]


def _pixels(poly: Sequence[tuple[float, float]], w: int, h: int) -> np.ndarray:
    pts = np.asarray(poly, np.float64) * np.array([w, h], np.float64)
    return np.round(pts).astype(np.int32)


def fill(img: np.ndarray, masks: Sequence[PrivacyMask]) -> None:
    """Paint each mask's polygon black, in place."""
    h, w = img.shape[:2]
    if masks:
        cv2.fillPoly(img, [_pixels(m.polygon, w, h) for m in masks], (0, 0, 0))


def apply_masks(
    img: np.ndarray, cam: CameraConfig | None, revealed: bool, recorded: bool, worker: Any = None
) -> np.ndarray:
    """The picture with the camera's masks painted black: permanent ones always, liftable ones
    unless ``revealed``; all black when a live PTZ picture is off its presets. The input is never
    modified (a copy is returned when anything is painted)."""
    if cam is None or not cam.masks:
        return img
    if not recorded and off_preset(cam, worker):
        return np.zeros_like(img)
    masks = [m for m in active_masks(cam, recorded, worker) if m.kind == "permanent" or not revealed]
    if not masks:
        return img
    out = np.array(img, copy=True)
    fill(out, masks)
    return out


def has_permanent(cam: CameraConfig | None) -> bool:
    """True when no reveal can hand out this camera's original pixels (a permanent mask, or a PTZ
    camera with masks, whose preset history is unknown)."""
    return cam is not None and (
        any(m.kind == "permanent" for m in cam.masks) or (cam.ptz is not None and bool(cam.masks))
    )


def fingerprint(cam: CameraConfig | None) -> str:
    """Changes whenever what the masks paint changes (cache keys include it)."""
    if cam is None:
        return ""
    body = json.dumps(
        [[m.model_dump(mode="json") for m in cam.masks], cam.ptz.model_dump() if cam.ptz else None],
        sort_keys=True,
    )
    return hashlib.sha256(body.encode()).hexdigest()[:8]


def pixel_mask(cam: CameraConfig, width: int, height: int) -> np.ndarray:
    """Boolean (height, width): True inside any of the camera's masks (every preset)."""
    m = np.zeros((height, width), np.uint8)
    if cam.masks:
        cv2.fillPoly(m, [_pixels(p.polygon, width, height) for p in cam.masks], 1)
    return m.astype(bool)


def counts(cam: CameraConfig) -> dict[str, int]:
    """How many masks of each kind, and how many presets they are drawn for (published)."""
    return {
        "permanent": sum(m.kind == "permanent" for m in cam.masks),
        "liftable": sum(m.kind == "liftable" for m in cam.masks),
        "presets": len({m.preset for m in cam.masks if m.preset}),
    }


def aspect(cam: CameraConfig) -> tuple[int, int]:
    """The picture's aspect as (width, height), from the detect size (the configured geometry)."""
    return cam.detect.width, cam.detect.height


def schematic_svg(cam: CameraConfig, width: int = 240) -> str:
    """The masked view as a schematic: a blank frame of the camera's aspect with each mask's polygon
    drawn in black (permanent) or hatched grey (liftable). No camera pixels."""
    aw, ah = aspect(cam)
    height = max(1, round(width * ah / aw))
    e = html.escape
    shapes = []
    for m in cam.masks:
        pts = " ".join(f"{x * width:.1f},{y * height:.1f}" for x, y in m.polygon)
        fill_col = "#000" if m.kind == "permanent" else "#777"
        title = f"{m.kind}" + (f" (preset {m.preset})" if m.preset else "")
        shapes.append(f'<polygon points="{pts}" fill="{fill_col}"><title>{e(title)}</title></polygon>')
    label = f"{cam.id}: {len(cam.masks)} privacy mask(s)"
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="mask-schematic" width="{width}" '
        f'height="{height}" viewBox="0 0 {width} {height}" role="img" aria-label="{e(label)}">'
        f'<rect x="0" y="0" width="{width}" height="{height}" fill="#dfe3e8" stroke="#555"/>'
        + "".join(shapes)
        + "</svg>"
    )
