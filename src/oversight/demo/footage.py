"""Footage the demo generates when the machine has none: walking figures on a street scene.

The figures have human proportions so OpenCV's HOG people detector finds them; the scene has
walkers crossing (line crossing, zone intrusion), one who lingers (dwell) and a group that
gathers (crowd), so every rule type fires without any real video.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import av
import cv2
import numpy as np

WIDTH, HEIGHT, FPS = 640, 360, 10


@dataclass
class Walker:
    start_x: float
    feet_y: float
    speed: float  # px per frame; 0 = standing
    height: int
    colour: tuple[int, int, int]
    enter: int  # first frame visible
    stop_at: float | None = None  # x where the walker lingers
    linger: int = 0  # frames spent there

    def x_at(self, frame: int) -> float | None:
        t: float = frame - self.enter
        if t < 0:
            return None
        if self.stop_at is not None:
            reach = abs(self.stop_at - self.start_x) / max(abs(self.speed), 1e-6)
            if t >= reach:
                t = t - min(self.linger, t - reach)
        x = self.start_x + self.speed * t
        return x if -60 < x < WIDTH + 60 else None


def _background(seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    bg = np.zeros((HEIGHT, WIDTH, 3), np.uint8)
    ramp = np.linspace(90, 150, HEIGHT, dtype=np.float32)[:, None]
    bg[:] = np.repeat(ramp, WIDTH, axis=1)[:, :, None].astype(np.uint8)
    cv2.rectangle(bg, (0, 220), (WIDTH, HEIGHT), (110, 115, 120), -1)
    for x in range(0, WIDTH, 80):  # kerb stones give the detector some background texture
        cv2.line(bg, (x, 220), (x + 40, HEIGHT), (100, 104, 108), 2)
    return cv2.add(bg, rng.integers(0, 14, (HEIGHT, WIDTH, 3), dtype=np.uint8))


def _draw_person(
    img: np.ndarray, x: float, feet_y: float, h: int, phase: float, colour: tuple[int, int, int]
) -> None:
    cx, top = int(x), int(feet_y - h)
    head = int(h * 0.13)
    cv2.ellipse(img, (cx, top + head // 2 + 2), (int(head * 0.42), head // 2), 0, 0, 360, (60, 70, 90), -1)
    tw = int(h * 0.26)
    cv2.rectangle(img, (cx - tw // 2, top + head), (cx + tw // 2, top + int(h * 0.55)), colour, -1)
    swing = math.sin(phase) * h * 0.12
    arm = max(2, int(h * 0.06))
    cv2.line(
        img, (cx - tw // 2, top + head + 4), (int(cx - tw // 2 - swing / 2), top + int(h * 0.5)), colour, arm
    )
    cv2.line(
        img, (cx + tw // 2, top + head + 4), (int(cx + tw // 2 + swing / 2), top + int(h * 0.5)), colour, arm
    )
    leg, hip = max(3, int(h * 0.09)), top + int(h * 0.55)
    cv2.line(img, (cx - tw // 4, hip), (int(cx - tw // 4 + swing), int(feet_y)), (40, 40, 50), leg)
    cv2.line(img, (cx + tw // 4, hip), (int(cx + tw // 4 - swing), int(feet_y)), (40, 40, 50), leg)


def scene(seed: int) -> list[Walker]:
    rng = np.random.default_rng(seed)
    colours = [(30, 60, 160), (150, 60, 40), (40, 120, 60), (120, 40, 120), (20, 110, 150)]
    walkers = [
        Walker(-40, 300, 4.0, 150, colours[0], 0),
        Walker(WIDTH + 40, 285, -3.2, 135, colours[1], 40),
        Walker(-40, 310, 2.5, 160, colours[2], 90, stop_at=320, linger=120),  # dwells mid-frame
    ]
    for i in range(4):  # a small crowd gathers near the right
        walkers.append(
            Walker(
                WIDTH + 40 + i * 30,
                290 + i * 6,
                -3.0,
                140,
                colours[(i + 3) % 5],
                200 + i * 8,
                stop_at=480 - i * 45,
                linger=60,
            )
        )
    for w in walkers:
        w.enter += int(rng.integers(0, 10))
    return walkers


def generate(path: Path, seconds: float = 36.0, seed: int = 0) -> Path:
    """Write an H.264 MP4 of the scene (browser-playable, keyframe every second)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".part.mp4")
    bg, walkers = _background(seed), scene(seed)
    with av.open(str(tmp), "w") as out:
        stream = out.add_stream("libx264", rate=FPS)
        stream.width, stream.height, stream.pix_fmt = WIDTH, HEIGHT, "yuv420p"
        stream.options = {"g": str(FPS), "preset": "veryfast", "crf": "26", "tune": "zerolatency"}
        for n in range(int(seconds * FPS)):
            img = bg.copy()
            for w in sorted(walkers, key=lambda w: w.feet_y):
                x = w.x_at(n)
                if x is not None:
                    _draw_person(img, x, w.feet_y, w.height, n * 0.5, w.colour)
            frame = av.VideoFrame.from_ndarray(img, format="bgr24")
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    tmp.replace(path)
    return path
