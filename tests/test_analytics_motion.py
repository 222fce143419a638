"""Motion gating on synthetic frames: a moving rectangle is motion, a still frame is not, and a
mask over the moving area suppresses it."""

from __future__ import annotations

import numpy as np

from oversight.analytics.motion import MotionDetector
from oversight.config.schema import MotionConfig

W, H = 640, 360


def background() -> np.ndarray:
    rng = np.random.default_rng(1)
    base = rng.integers(60, 120, size=(H // 8, W // 8, 3), dtype=np.uint8)  # smooth-ish texture
    return np.repeat(np.repeat(base, 8, axis=0), 8, axis=1)


def with_box(img: np.ndarray, x: int, y: int = 150, w: int = 60, h: int = 120) -> np.ndarray:
    out = img.copy()
    out[y : y + h, x : x + w] = 240
    return out


def run(det: MotionDetector, frames: list[np.ndarray]) -> list[bool]:
    return [det.update(f) for f in frames]


def test_still_frames_have_no_motion() -> None:
    bg = background()
    det = MotionDetector(MotionConfig(), W, H)
    assert run(det, [bg] * 20) == [False] * 20


def test_moving_rectangle_is_motion() -> None:
    bg = background()
    det = MotionDetector(MotionConfig(), W, H)
    frames = [bg] * 5 + [with_box(bg, 100 + 20 * i) for i in range(10)]
    result = run(det, frames)
    assert result[:5] == [False] * 5
    assert all(result[5:])


def test_small_change_under_min_area_is_ignored() -> None:
    bg = background()
    det = MotionDetector(MotionConfig(min_area=0.05), W, H)  # 5% of the frame
    frames = [bg] * 3 + [with_box(bg, 100 + 20 * i, w=30, h=40) for i in range(5)]  # ~0.5%
    assert not any(run(det, frames))


def test_mask_over_the_moving_area_suppresses_it() -> None:
    bg = background()
    mask = [(50.0, 100.0), (500.0, 100.0), (500.0, 320.0), (50.0, 320.0)]
    det = MotionDetector(MotionConfig(masks=[mask]), W, H)
    frames = [bg] * 3 + [with_box(bg, 100 + 20 * i) for i in range(10)]
    assert not any(run(det, frames))
    # the same motion outside the mask is still seen
    det2 = MotionDetector(MotionConfig(masks=[[(0.0, 0.0), (40.0, 0.0), (40.0, 40.0)]]), W, H)
    assert any(run(det2, frames))


def test_threshold_ignores_faint_changes() -> None:
    bg = background()
    faint = bg.copy()
    faint[100:300, 100:400] = np.clip(faint[100:300, 100:400].astype(np.int16) + 10, 0, 255).astype(np.uint8)
    det = MotionDetector(MotionConfig(threshold=25), W, H)
    assert run(det, [bg, bg, faint]) == [False, False, False]
    det2 = MotionDetector(MotionConfig(threshold=5), W, H)
    assert run(det2, [bg, bg, faint])[-1] is True
