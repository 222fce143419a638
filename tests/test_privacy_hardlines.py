"""Hard lines: no face recognition, no plate reading, anywhere. The checker is itself tested on a
planted import so this test cannot silently pass."""

from __future__ import annotations

from pathlib import Path

from oversight.privacy.hardlines import (
    FORBIDDEN,
    forbidden_distributions,
    forbidden_imports,
    forbidden_requirements,
)

ROOT = Path(__file__).resolve().parents[1]


def test_no_forbidden_imports_in_source() -> None:
    assert forbidden_imports(ROOT / "src") == []


def test_no_forbidden_dependencies_declared() -> None:
    assert forbidden_requirements(ROOT / "pyproject.toml") == []


def test_no_forbidden_distributions_installed() -> None:
    assert forbidden_distributions() == []


def test_checker_catches_planted_imports(tmp_path: Path) -> None:
    pkg = tmp_path / "src" / "pkg"
    pkg.mkdir(parents=True)
    (pkg / "ok.py").write_text(
        "import cv2\n# import face_recognition  (a comment is not an import)\ns = 'import insightface'\n"
    )
    assert forbidden_imports(tmp_path / "src") == []
    (pkg / "a.py").write_text("import os\nimport face_recognition\n")
    (pkg / "b.py").write_text("from insightface.app import FaceAnalysis\n")
    (pkg / "c.py").write_text(
        "def f():\n    import importlib\n    return importlib.import_module('easyocr')\n"
    )
    (pkg / "d.py").write_text("from fast_alpr import ALPR\nimport pytesseract as t\n")
    (pkg / "e.py").write_text("x = __import__('deepface')\n")
    found = {(Path(f).name, mod) for f, _, mod in forbidden_imports(tmp_path / "src")}
    assert found == {
        ("a.py", "face_recognition"),
        ("b.py", "insightface"),
        ("c.py", "easyocr"),
        ("d.py", "fast_alpr"),
        ("d.py", "pytesseract"),
        ("e.py", "deepface"),
    }


def test_checker_catches_planted_dependency(tmp_path: Path) -> None:
    p = tmp_path / "pyproject.toml"
    p.write_text(
        '[project]\nname="x"\ndependencies=["numpy>=1", "fast-alpr==0.1", "DeepFace"]\n'
        "[project.optional-dependencies]\nextra=[\"face_recognition; python_version>'3'\"]\n"
    )
    assert sorted(forbidden_requirements(p)) == ["deepface", "face-recognition", "fast-alpr"]


def test_list_covers_the_issue() -> None:
    for name in (
        "face_recognition",
        "insightface",
        "deepface",
        "facenet",
        "arcface",
        "easyocr",
        "openalpr",
        "fast_alpr",
        "paddleocr",
        "pytesseract",
        "dlib",
    ):
        assert name in FORBIDDEN
