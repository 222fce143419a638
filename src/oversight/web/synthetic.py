"""A stand-in camera runtime that draws moving test frames: for the web bench and API tests,
where the cost of the web layer must be measured without real decoding in the same process.

With ``stamp``, each frame carries the wall-clock time it was made as a binary pixel code (see
``stamp_clock``/``read_clock``): a viewer that decodes what it received reads the glass-to-glass
latency off the picture itself. With ``privacy``, it also plays the privacy stage: a face-region
sample (one box, below the code) for every frame it samples at the camera's ``detect.fps``, as the
real stage does, so live redaction takes the stored-regions path and the live view waits for
samples as it does on a real camera (it shows frames at or between samples only)."""

from __future__ import annotations

import threading
from collections import deque
from datetime import datetime
from typing import Any

import cv2
import numpy as np

from oversight.cameras.frames import covered
from oversight.config.schema import CameraConfig, SiteConfig
from oversight.privacy.track import Sample
from oversight.store.base import utcnow

CLOCK_BITS = 48  # milliseconds since the epoch: enough until the year 10889
CLOCK_ROWS = 0.12  # the code's height, a fraction of the frame (survives scaling and H.264)


def stamp_clock(img: np.ndarray, t: float) -> None:
    """Write ``t`` (seconds since the epoch, to the millisecond) across the top of ``img``: a white
    start cell, then CLOCK_BITS cells, white for 1 and black for 0, then a black stop cell."""
    h, w = img.shape[:2]
    ms = round(t * 1000)
    cells = [1] + [(ms >> (CLOCK_BITS - 1 - i)) & 1 for i in range(CLOCK_BITS)] + [0]
    band = max(4, int(h * CLOCK_ROWS))
    for i, bit in enumerate(cells):
        x0, x1 = i * w // len(cells), (i + 1) * w // len(cells)
        img[:band, x0:x1] = 255 if bit else 0


def read_clock(img: np.ndarray) -> float | None:
    """The time ``stamp_clock`` wrote into a (possibly scaled, re-encoded) frame, or None."""
    h, w = img.shape[:2]
    n = CLOCK_BITS + 2
    band = max(4, int(h * CLOCK_ROWS))
    gray = img[:band, :].mean(axis=(0, 2)) if img.ndim == 3 else img[:band, :].mean(axis=0)
    cells = [float(gray[(2 * i + 1) * w // (2 * n)]) for i in range(n)]
    if cells[0] < 160 or cells[-1] > 96:
        return None
    ms = 0
    for v in cells[1:-1]:
        ms = (ms << 1) | (1 if v >= 128 else 0)
    return ms / 1000.0


class SyntheticWorker:
    def __init__(self, cam: CameraConfig, fps: float = 10.0, stamp: bool = False, privacy: bool = False):
        self.cam = cam
        self.fps = fps
        self.stamp = stamp
        self.privacy = privacy
        self._samples: deque[Any] = deque(maxlen=30)
        self._main: tuple[np.ndarray, datetime] | None = None
        self.analytics = None
        self._frame: tuple[np.ndarray, datetime] | None = None
        self._recent: deque[tuple[np.ndarray, datetime]] = deque(maxlen=max(2, round(fps * 1.5)))
        self._every = max(1, round(fps / float(cam.detect.fps)))  # frames per privacy sample
        self._n = 0
        self._lock = threading.Lock()
        w, h = cam.detect.width, cam.detect.height
        yy, xx = np.mgrid[0:h, 0:w]
        self._base = np.dstack(
            [(xx * 255 // max(1, w)), (yy * 255 // max(1, h)), np.full_like(xx, 90)]
        ).astype(np.uint8)

    def tick(self) -> None:
        self._n += 1
        img = self._base.copy()
        h, w = img.shape[:2]
        x = int((self._n * 7) % w)
        cv2.rectangle(img, (x, h // 3), (min(w - 1, x + w // 8), h // 3 + h // 4), (240, 240, 240), -1)
        cv2.putText(
            img, f"{self.cam.id} #{self._n}", (10, h - 20), cv2.FONT_HERSHEY_SIMPLEX, 0.8, (0, 0, 0), 2
        )
        now = utcnow()
        if self.stamp:
            stamp_clock(img, now.timestamp())
        img.flags.writeable = False
        with self._lock:
            self._frame = (img, now)
            self._recent.append(self._frame)
            if self.privacy and (self._n - 1) % self._every == 0:
                self._samples.append(Sample(now.timestamp(), ((0.4, 0.5, 0.55, 0.8),)))

    def privacy_samples(self) -> list[Any]:
        """The stand-in privacy stage's newest samples ([] unless ``privacy``)."""
        with self._lock:
            return list(self._samples)

    def latest_frame(
        self,
        max_wait: float = 0.0,
        not_after: datetime | None = None,
        main: bool = False,
        after: datetime | None = None,
    ) -> tuple[np.ndarray, datetime] | None:
        """The newest frame (detect size), or the one ``not_after``/``after`` pick as a camera's
        does (``cameras.frames.covered``); ``main``: the same picture at twice the size, as a
        camera's main stream would be."""
        with self._lock:
            got = self._frame if not_after is None else covered(self._recent, not_after, after)
        if not main or got is None:
            return got
        if self._main is None or self._main[1] != got[1]:
            h, w = got[0].shape[:2]
            big = cv2.resize(got[0], (w * 2, h * 2), interpolation=cv2.INTER_LINEAR)
            big.flags.writeable = False
            self._main = (big, got[1])
        return self._main

    def status(self) -> dict[str, Any]:
        return {
            "id": self.cam.id,
            "online": self._frame is not None,
            "fps": self.fps,
            "reconnects": 0,
            "last_frame_at": self._frame[1].isoformat() if self._frame else None,
            "error": None,
        }


class SyntheticRuntime:
    """Same surface as ``oversight.runtime.Runtime`` for what the web app reads."""

    def __init__(self, cfg: SiteConfig, fps: float = 10.0, stamp: bool = False, privacy: bool = False):
        self.cfg = cfg
        self.fps = fps
        self.stamp = stamp
        self.privacy = privacy
        self.workers: dict[str, SyntheticWorker] = {
            c.id: SyntheticWorker(c, fps, stamp, privacy) for c in cfg.cameras
        }
        self.applied: list[str] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        for w in self.workers.values():
            w.tick()
        self._thread = threading.Thread(target=self._run, name="synthetic-cameras", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        period = 1.0 / self.fps
        while not self._stop.wait(period):
            for w in list(self.workers.values()):
                w.tick()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)

    def apply_camera(self, cam: CameraConfig) -> None:
        self.applied.append(cam.id)
        worker = SyntheticWorker(cam, self.fps, self.stamp, self.privacy)
        worker.tick()
        self.workers[cam.id] = worker

    def remove_camera(self, camera_id: str) -> None:
        self.workers.pop(camera_id, None)

    def status(self) -> list[dict[str, Any]]:
        return [w.status() for w in self.workers.values()]
