"""Which model each of a camera's stages runs, where it came from, and which are last-resort
fallbacks, stated in its status so that a degraded install is visible on the status API, the health
page and ``/metrics``, not discovered in court.

With nothing configured a camera runs the pinned models of the ``oversight-models`` package
(YOLOX-nano and YuNet, see ``oversight.config.models``) when it is installed and its files match
their checksums. Without it, OpenCV's HOG people detector (about 25x the CPU of YOLOX-nano per frame,
fewer people found) and OpenCV's Haar face cascade (about half the faces in a crowd left
recognisable) stand in. Both work offline; neither is good enough to run a city on. Decided from the
configuration and the installed package alone (a checksum, no model loaded).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from oversight.config.models import detector_choice, face_choice
from oversight.config.schema import CameraConfig

HOG_NOTE = (
    "person detector is the built-in HOG fallback (slow, misses people): install oversight-models "
    "(scripts/venv.sh builds it) or set detect.model_path"
)
HAAR_NOTE = (
    "face redaction uses the built-in Haar fallback (misses many faces, most in crowds): install "
    "oversight-models or set redaction.face_model_path"
)


def _name(path: str | None) -> str | None:
    return Path(path).name if path else None


def model_status(cam: CameraConfig) -> dict[str, Any]:
    """The detector and face detector in use, their model files and sources (``config``,
    ``package`` or ``builtin``), and the list of fallbacks (empty when none)."""
    d = cam.detect
    detector, det = detector_choice(d.detector, d.model_path) if d.enabled else ("none", None)
    faces = face_choice(cam.redaction.face_model_path) if cam.redaction.faces else None
    face_detector = "off" if faces is None else ("model" if faces.path else "haar")
    notes = []
    if detector == "hog":
        notes.append(HOG_NOTE)
    if face_detector == "haar":
        notes.append(HAAR_NOTE)
    return {
        "detector": detector,
        "detector_model": _name(det.path) if det else None,
        "detector_source": det.source if det and detector != "none" else None,
        "face_detector": face_detector,
        "face_model": _name(faces.path) if faces else None,
        "face_model_source": faces.source if faces else None,
        "degraded": notes,
        "degraded_models": len(notes),
    }


SOURCES = {"config": "configured", "package": "oversight-models", "builtin": "built-in fallback"}


def models_summary(cam: CameraConfig) -> str:
    """One line for ``check-config``: each stage's model and source, then any fallback notes."""
    st = model_status(cam)

    def one(kind: str, model: str | None, source: str | None) -> str:
        return "off" if kind in ("none", "off") else f"{model or kind} ({SOURCES.get(source or '', source)})"

    line = (
        f"objects: {one(st['detector'], st['detector_model'], st['detector_source'])}; "
        f"faces: {one(st['face_detector'], st['face_model'], st['face_model_source'])}"
    )
    return line + "".join(f"; DEGRADED: {note}" for note in st["degraded"])
