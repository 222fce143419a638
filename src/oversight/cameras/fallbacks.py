"""Which of a camera's models are last-resort fallbacks, stated in its status so that a degraded
install is visible on the status API, the health page and ``/metrics``, not discovered in court.

No package on PyPI ships a permissively licensed COCO person detector or a face detector that fits
(see docs/analytics.md, "Models"), so a config without model files gets OpenCV's HOG people
detector (about 25x the CPU of YOLOX-nano per frame, fewer people found) and OpenCV's Haar face
cascade (about half the faces in a crowd left recognisable). Both work offline; neither is good
enough to run a city on. Decided from the configuration alone, so no model is loaded to know.
"""

from __future__ import annotations

from typing import Any

from oversight.config.schema import CameraConfig

HOG_NOTE = (
    "person detector is the built-in HOG fallback (slow, misses people): set detect.detector: onnx "
    "and detect.model_path"
)
HAAR_NOTE = (
    "face redaction uses the built-in Haar fallback (misses many faces, most in crowds): set "
    "redaction.face_model_path"
)


def model_status(cam: CameraConfig) -> dict[str, Any]:
    """The detector in use, the face detector in use and the list of fallbacks (empty when none)."""
    d = cam.detect
    detector = d.detector if d.enabled else "none"
    faces = cam.redaction.faces
    face_detector = ("model" if cam.redaction.face_model_path else "haar") if faces else "off"
    notes = []
    if detector == "hog":
        notes.append(HOG_NOTE)
    if face_detector == "haar":
        notes.append(HAAR_NOTE)
    return {
        "detector": detector,
        "face_detector": face_detector,
        "degraded": notes,
        "degraded_models": len(notes),
    }
