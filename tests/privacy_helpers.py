"""Shared helpers for the privacy tests: a site config, users, logged-in API clients, faces footage."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import cv2
import numpy as np

from oversight.config.schema import SiteConfig
from oversight.store.db import Database

ASSETS = Path(__file__).resolve().parents[1].parent / "shared" / "assets"
YUNET = ASSETS / "models" / "face_detection_yunet_2023mar.onnx"
PASSWORD = "correct horse battery"


def site(tmp_path: Path, **red: Any) -> SiteConfig:
    cams = []
    for i, cid in enumerate(("cam1", "cam2")):
        cams.append(
            {
                "id": cid,
                "name": f"Camera {i + 1}",
                "purpose": "public safety on the square",
                "streams": {"record": f"rtsp://10.0.0.{i + 5}/stream"},
                "location": {"address": f"Main square {i + 1}", "lat": 52.0, "lon": 4.0 + i},
                "redaction": red,
            }
        )
    return SiteConfig.model_validate(
        {"site": {"name": "Test", "data_dir": str(tmp_path / "data")}, "cameras": cams}
    )


def make_users(db: Database, **users: str) -> None:
    from oversight.web.auth import create_user

    with db.session() as s:
        for name, role in users.items():
            create_user(s, name, PASSWORD, role)


def client(app: Any, username: str) -> Any:
    from fastapi.testclient import TestClient

    c = TestClient(app)
    r = c.post("/api/auth/login", json={"username": username, "password": PASSWORD})
    assert r.status_code == 200, r.text
    c.headers["X-CSRF-Token"] = r.json()["csrf"]
    return c


def face_image(n: int = 1) -> np.ndarray | None:
    p = ASSETS / "images" / f"ultraface_imgs_{n}.jpg"
    return cv2.imread(str(p)) if p.exists() else None


def sharpness(img: np.ndarray, box: Any) -> float:
    """Laplacian variance inside a box: high for a recognisable face, near zero once blurred."""
    x1, y1, x2, y2 = (int(v) for v in box[:4])
    roi = cv2.cvtColor(img[max(0, y1) : y2, max(0, x1) : x2], cv2.COLOR_BGR2GRAY)
    return float(cv2.Laplacian(roi, cv2.CV_64F).var()) if roi.size else 0.0


def synthetic_face_frame(w: int = 320, h: int = 240) -> tuple[np.ndarray, tuple[int, int, int, int]]:
    """A textured frame with a sharp checkerboard 'person' whose head box is returned (xyxy)."""
    rng = np.random.default_rng(1)
    img = (rng.integers(0, 255, (h, w, 3))).astype(np.uint8)
    img = cv2.GaussianBlur(img, (9, 9), 0)
    x1, y1, x2, y2 = 120, 40, 200, 230
    yy, xx = np.mgrid[y1:y2, x1:x2]
    img[y1:y2, x1:x2] = (((xx // 4 + yy // 4) % 2) * 255)[..., None].astype(np.uint8)
    return img, (x1, y1, x2, y2)


def panned_frames(img: np.ndarray, n: int, w: int = 480, h: int = 320, step: int = 6) -> list[np.ndarray]:
    """Moving footage from a still: a window panning across the photo (faces move every frame)."""
    H, W = img.shape[:2]
    scale = max(w / W, h / H) * 1.0
    if scale > 1:
        img = cv2.resize(img, (int(W * scale) + 1, int(H * scale) + 1))
        H, W = img.shape[:2]
    out = []
    for i in range(n):
        x = min(W - w, (i * step) % max(1, W - w + 1))
        y = min(H - h, (i * step // 2) % max(1, H - h + 1))
        out.append(np.ascontiguousarray(img[y : y + h, x : x + w]))
    return out


def write_mp4(path: Path, frames: list[np.ndarray], fps: int = 10) -> Path:
    import av

    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w") as out:
        s = out.add_stream("libx264", rate=fps)
        s.width, s.height = frames[0].shape[1], frames[0].shape[0]
        s.pix_fmt = "yuv420p"
        s.options = {"crf": "18", "preset": "ultrafast"}
        for f in frames:
            for pkt in s.encode(av.VideoFrame.from_ndarray(f, format="bgr24")):
                out.mux(pkt)
        for pkt in s.encode():
            out.mux(pkt)
    return path


def read_mp4(path: Path) -> list[np.ndarray]:
    import av

    with av.open(str(path)) as c:
        return [f.to_ndarray(format="bgr24") for f in c.decode(video=0)]


def reference_faces(img: np.ndarray) -> np.ndarray:
    """Faces found by YuNet on the raw picture (score 0.6), the reference the redaction must cover."""
    from oversight.privacy.face_detectors import YuNetDetector

    return YuNetDetector(str(YUNET), score=0.6).detect(img)


def fraction_hidden(raw: np.ndarray, out: np.ndarray, faces: np.ndarray, ratio: float = 0.3) -> float:
    """Share of reference faces whose detail (Laplacian variance) fell below ``ratio`` of the raw one."""
    if len(faces) == 0:
        return 1.0
    hidden = sum(1 for b in faces if sharpness(out, b) < ratio * max(sharpness(raw, b), 1e-6))
    return hidden / len(faces)
