"""The default models Oversight runs when a config names none: their pinned checksums, licences and
provenance, and where the installed ``oversight-models`` package keeps them.

The weights are never downloaded: ``oversight models pack`` builds the package from files a city (or
our CI) already holds, refusing any whose sha256 is not pinned here, and a camera uses a packaged model
only when its bytes still match the pin, so a swapped or truncated file falls back (flagged degraded)
instead of running unknown weights under our name. A config that names a model file always wins.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Literal

Kind = Literal["detector", "faces"]
PACKAGE = "oversight-models"  # distribution name
MODULE = "oversight_models"
PACKAGE_VERSION = "1.0.0"  # bump with any change to the pins below
DISABLE_ENV = "OVERSIGHT_NO_PACKAGED_MODELS"  # "1": behave as if the package were not installed


@dataclass(frozen=True)
class Pinned:
    """One default model: the file name inside the package and what a reviewer needs to trust it."""

    kind: Kind
    file: str
    sha256: str
    size: int
    name: str
    licence: str
    licence_file: str
    source: str
    note: str


PINNED: tuple[Pinned, ...] = (
    Pinned(
        kind="detector",
        file="yolox_nano_416x416.onnx",
        sha256="695e750a5d5754bb5a8d5325643b59282191a7e7a564e435a415fd3c578eab14",
        size=3660092,
        name="YOLOX-Nano 416x416, COCO 80 classes (Megvii official weights, ONNX export)",
        licence="Apache-2.0",
        licence_file="YOLOX_LICENSE_Apache-2.0.txt",
        source="https://github.com/Kazuhito00/MOT-Tracking-by-Detection-Pipeline/blob/"
        "e50a76b8b430b778276e7fd04fd4cafd5d45eab2/Detector/yolox/model/yolox_nano_416x416.onnx",
        note="upstream Megvii-BaseDetection/YOLOX (Apache-2.0); "
        "git blob 212becc5e5789d4e934c38561f63eb4f55ed4e54",
    ),
    Pinned(
        kind="faces",
        file="face_detection_yunet_2023mar.onnx",
        sha256="8f2383e4dd3cfbb4553ea8718107fc0423210dc964f9f4280604804ed2552fa4",
        size=232589,
        name="YuNet 2023mar face detector (boxes and 5 landmarks; detection only, no recognition)",
        licence="Apache-2.0",
        licence_file="libfacedetection.train_LICENSE_Apache-2.0.txt",
        source="https://github.com/ShiqiYu/libfacedetection.train/blob/"
        "0047ac24afb1a50a0c6105001c89d1b5b805dbf1/onnx/yunet_s_640_640.onnx",
        note="byte-identical to opencv/opencv_zoo face_detection_yunet_2023mar.onnx (MIT there); "
        "git blob f9beb3044f3791affe1c2f0932af31927e2e4705",
    ),
)


def pinned(kind: Kind) -> Pinned:
    return next(p for p in PINNED if p.kind == kind)


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


@lru_cache(maxsize=8)
def _verified(path: str, size: int, mtime_ns: int, sha256: str) -> bool:
    """Hashed once per file state (a few ms for 4 MB), not once per camera."""
    return sha256_of(Path(path)) == sha256


def _package_dir() -> Path | None:
    if os.environ.get(DISABLE_ENV) == "1":
        return None
    spec = importlib.util.find_spec(MODULE)  # located, not imported: its files are all we read
    if spec is None or not spec.origin:
        return None
    return Path(spec.origin).parent


def packaged_model(kind: Kind) -> Path | None:
    """The installed package's file for ``kind`` when its bytes match the pin, else None."""
    root = _package_dir()
    if root is None:
        return None
    pin = pinned(kind)
    path = root / "weights" / pin.file
    try:
        st = path.stat()
    except OSError:
        return None
    if st.st_size != pin.size or not _verified(str(path), st.st_size, st.st_mtime_ns, pin.sha256):
        return None
    return path


@dataclass(frozen=True)
class Choice:
    """Which model a camera stage runs and where it came from (``config``, ``package``, ``builtin``)."""

    path: str | None
    source: Literal["config", "package", "builtin"]


def detector_choice(detector: str, model_path: str | None) -> tuple[str, Choice]:
    """The effective detector (``onnx``/``hog``/``none``) for a configured one and its model.

    ``auto`` (the default) and ``onnx`` take the config's model file, else the packaged YOLOX-nano;
    ``auto`` without either is the HOG fallback. ``onnx`` without a file and without the package
    stays ``onnx`` with no path (check-config and the detector factory say what is missing)."""
    if detector in ("hog", "none"):
        return detector, Choice(None, "builtin")
    if model_path:
        return "onnx", Choice(model_path, "config")
    found = packaged_model("detector")
    if found is not None:
        return "onnx", Choice(str(found), "package")
    return ("hog", Choice(None, "builtin")) if detector == "auto" else ("onnx", Choice(None, "config"))


def face_choice(face_model_path: str | None) -> Choice:
    """The configured face model, else the packaged YuNet, else the built-in Haar cascade."""
    if face_model_path:
        return Choice(face_model_path, "config")
    found = packaged_model("faces")
    return Choice(str(found), "package") if found is not None else Choice(None, "builtin")
