"""Pinned default models for Oversight, shipped with their licences, provenance and checksums.

Nothing is downloaded: the weights are inside this package. ``models.json`` (written when the wheel
is built) lists each model's file, sha256, size, licence and source; ``verify()`` re-hashes the files,
so an altered install is noticed before it runs.
"""

from __future__ import annotations

import hashlib
import json
from importlib.resources import files
from pathlib import Path
from typing import Any

__version__ = "1.0.0"

MANIFEST: dict[str, Any] = json.loads(files(__name__).joinpath("models.json").read_text("utf-8"))


def path(kind: str) -> Path:
    """The file of the model of ``kind`` ("detector" or "faces")."""
    entry = MANIFEST["models"][kind]
    return Path(str(files(__name__).joinpath("weights", entry["file"])))


def verify() -> dict[str, bool]:
    """Each model's kind and whether its bytes match the sha256 in the manifest."""
    out = {}
    for kind, entry in MANIFEST["models"].items():
        digest = hashlib.sha256(path(kind).read_bytes()).hexdigest()
        out[kind] = digest == entry["sha256"]
    return out
