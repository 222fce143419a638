"""The oversight-models package: ``oversight models pack`` refuses unpinned files, builds a wheel whose
metadata carries checksums, licences and provenance, and a camera with no model configured runs the
installed package's YOLOX/YuNet (not degraded), falling back to HOG/Haar (degraded) when the package is
absent or altered. The wheel is really built (hatchling through pip) and pip-installed into a
temporary target; each camera check runs in a fresh interpreter with or without that target."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from conftest import ASSETS
from oversight.cli import app
from oversight.config.models import DISABLE_ENV, PACKAGE_VERSION, PINNED
from oversight.privacy.hardlines import forbidden_imports

SRC = Path(__file__).resolve().parents[1] / "src"
RECIPE = Path(__file__).resolve().parents[1] / "packaging" / "oversight-models"
needs_assets = pytest.mark.skipif(
    not all((ASSETS / "models" / p.file).is_file() for p in PINNED), reason="needs ../shared/assets/models"
)


def _fake_models(root: Path) -> Path:
    """Files with the pinned names but other bytes, and their licence texts."""
    (root / "models").mkdir(parents=True)
    (root / "licenses").mkdir()
    for p in PINNED:
        (root / "models" / p.file).write_bytes(b"not the pinned weights")
        (root / "licenses" / p.licence_file).write_text("licence")
    return root / "models"


def test_pack_refuses_a_file_whose_checksum_differs(tmp_path: Path) -> None:
    models = _fake_models(tmp_path)
    out = tmp_path / "dist"
    res = CliRunner().invoke(app, ["models", "pack", "--from", str(models), "--out", str(out)])
    assert res.exit_code == 1
    for p in PINNED:
        assert f"{p.file}: sha256 " in res.output and f"is not the pinned {p.sha256}" in res.output
    assert not list(out.glob("*.whl")) if out.exists() else True


def test_recipe_version_is_the_pinned_version() -> None:
    text = (RECIPE / "pyproject.toml").read_text()
    assert f'version = "{PACKAGE_VERSION}"' in text
    assert (
        f'__version__ = "{PACKAGE_VERSION}"'
        in (RECIPE / "src" / "oversight_models" / "__init__.py").read_text()
    )


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if not all((ASSETS / "models" / p.file).is_file() for p in PINNED):
        pytest.skip("needs ../shared/assets/models")
    out = tmp_path_factory.mktemp("dist")
    res = CliRunner().invoke(app, ["models", "pack", "--from", str(ASSETS / "models"), "--out", str(out)])
    assert res.exit_code == 0, res.output
    return Path(res.output.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def site(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = tmp_path_factory.mktemp("site")
    cmd = [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(target), str(wheel)]
    subprocess.run(cmd, check=True, timeout=120)
    return target


@needs_assets
def test_wheel_metadata_lists_checksums_licences_and_sources(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as z:
        names = z.namelist()
        meta = z.read(f"oversight_models-{PACKAGE_VERSION}.dist-info/METADATA").decode()
        manifest = json.loads(z.read("oversight_models/models.json"))
    assert "License-Expression: Apache-2.0" in meta
    for p in PINNED:
        assert p.sha256 in meta and p.file in meta and p.source in meta
        assert f"License-File: licenses/{p.licence_file}" in meta
        assert any(n.endswith(f"licenses/{p.licence_file}") for n in names)
        assert f"oversight_models/weights/{p.file}" in names
        assert manifest["models"][p.kind]["sha256"] == p.sha256
        assert manifest["models"][p.kind]["licence"] == p.licence
    # hard line: detection only; the wheel holds exactly the pinned files, no recognition model
    assert sorted(n for n in names if "/weights/" in n) == sorted(
        f"oversight_models/weights/{p.file}" for p in PINNED
    )


def test_recipe_is_detection_only() -> None:
    assert {p.kind for p in PINNED} <= {"detector", "faces"}
    assert forbidden_imports(RECIPE) == []
    assert not list(RECIPE.rglob("*.onnx"))  # weights are never committed


CHECK = """
import json
import oversight_models
from oversight.analytics.detectors import make_detector
from oversight.cameras.fallbacks import model_status
from oversight.config.schema import CameraConfig
from oversight.privacy.redaction import Redactor
cam = CameraConfig.model_validate({"id": "c", "purpose": "default models", "streams": {"record": "x.mp4"},
                                   "detect": DETECT})
st = model_status(cam)
st["made"] = type(make_detector(cam.detect)).__name__
st["face_made"] = type(Redactor(cam.redaction).detector).__name__
st["verify"] = oversight_models.verify()
print(json.dumps(st))
"""


def _camera(site: Path, env: dict[str, str] | None = None, detect: dict | None = None) -> dict[str, Any]:
    """model_status and the detectors built for a camera with ``detect``, in a fresh interpreter
    that finds oversight-models in ``site``."""
    full_env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(SRC), str(site)])}
    full_env.pop(DISABLE_ENV, None)
    full_env.update(env or {})
    code = CHECK.replace("DETECT", repr(detect or {}))
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=full_env, timeout=120
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@needs_assets
def test_a_camera_with_no_model_runs_the_packaged_models(site: Path) -> None:
    st = _camera(site)
    assert st["verify"] == {"detector": True, "faces": True}
    assert (st["detector"], st["detector_model"], st["detector_source"]) == (
        "onnx",
        "yolox_nano_416x416.onnx",
        "package",
    )
    assert (st["face_detector"], st["face_model"], st["face_model_source"]) == (
        "model",
        "face_detection_yunet_2023mar.onnx",
        "package",
    )
    assert st["degraded"] == [] and st["degraded_models"] == 0
    assert st["made"] == "OnnxDetector" and st["face_made"].startswith("YuNet")


@needs_assets
def test_a_configured_model_wins_over_the_package(site: Path) -> None:
    hog = _camera(site, detect={"detector": "hog"})
    assert (hog["detector"], hog["made"], hog["face_model_source"]) == ("hog", "HogDetector", "package")
    mine = ASSETS / "models" / "yolox_nano_416x416.onnx"
    st = _camera(site, detect={"model_path": str(mine)})
    assert (st["detector_source"], st["detector_model"]) == ("config", mine.name)


@needs_assets
def test_without_the_package_the_fallbacks_run_and_say_degraded(site: Path, tmp_path: Path) -> None:
    off = _camera(site, env={DISABLE_ENV: "1"})
    assert (off["detector"], off["detector_source"], off["made"]) == ("hog", "builtin", "HogDetector")
    assert off["face_detector"] == "haar" and off["face_model_source"] == "builtin"
    assert off["degraded_models"] == 2
    altered = tmp_path / "site"
    shutil.copytree(site, altered)
    weights = altered / "oversight_models" / "weights" / "yolox_nano_416x416.onnx"
    data = bytearray(weights.read_bytes())
    data[-1] ^= 0xFF  # same size, one byte changed
    weights.write_bytes(bytes(data))
    st = _camera(altered)
    assert st["verify"] == {"detector": False, "faces": True}
    assert (st["detector"], st["made"], st["degraded_models"]) == ("hog", "HogDetector", 1)
    assert st["face_model_source"] == "package"
