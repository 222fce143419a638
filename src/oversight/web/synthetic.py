"""A stand-in camera runtime that draws moving test frames: for the web bench and API tests,
where the cost of the web layer must be measured without real decoding in the same process."""

from __future__ import annotations

import threading
from datetime import datetime
from typing import Any

import cv2
import numpy as np

from oversight.config.schema import CameraConfig, SiteConfig
from oversight.store.base import utcnow


class SyntheticWorker:
    def __init__(self, cam: CameraConfig, fps: float = 10.0):
        self.cam = cam
        self.fps = fps
        self.analytics = None
        self._frame: tuple[np.ndarray, datetime] | None = None
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
        cv2.putText(img, f"{self.cam.id} #{self._n}", (10, 30), cv2.FONT_HERSHEY_SIMPLEX, 0.8, (0, 0, 0), 2)
        with self._lock:
            self._frame = (img, utcnow())

    def latest_frame(self) -> tuple[np.ndarray, datetime] | None:
        with self._lock:
            return self._frame

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

    def __init__(self, cfg: SiteConfig, fps: float = 10.0):
        self.cfg = cfg
        self.fps = fps
        self.workers: dict[str, SyntheticWorker] = {c.id: SyntheticWorker(c, fps) for c in cfg.cameras}
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
        worker = SyntheticWorker(cam, self.fps)
        worker.tick()
        self.workers[cam.id] = worker

    def remove_camera(self, camera_id: str) -> None:
        self.workers.pop(camera_id, None)

    def status(self) -> list[dict[str, Any]]:
        return [w.status() for w in self.workers.values()]
