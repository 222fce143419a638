"""The hard lines as code: find any import of, or dependency on, face recognition or plate OCR.

Oversight detects (boxes) to count, alert and blur. It never identifies people or reads plates, so
these packages must never appear in the source, the declared dependencies or the environment.
Used by ``tests/test_privacy_hardlines.py``; the checker itself is tested on planted imports.
"""

from __future__ import annotations

import ast
import re
import tomllib
from importlib import metadata
from pathlib import Path

# top-level module names (imports) of face recognition / embeddings / biometrics and plate reading
FORBIDDEN = frozenset(
    {
        "face_recognition",
        "face_recognition_models",
        "insightface",
        "deepface",
        "facenet",
        "facenet_pytorch",
        "arcface",
        "dlib",
        "facexlib",
        "compreface",
        "retinaface_recognition",
        "mtcnn_recognition",
        "easyocr",
        "openalpr",
        "fast_alpr",
        "fastalpr",
        "paddleocr",
        "pytesseract",
        "tesserocr",
        "keras_ocr",
        "open_image_models",
        "hyperlpr",
        "hyperlpr3",
        "ultimate_alpr",
        "platerecognizer",
    }
)


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "_", name).lower()


FORBIDDEN_DISTS = frozenset(
    {_norm(n) for n in FORBIDDEN}
    | {"face_recognition", "fast_alpr", "facenet_pytorch", "deepface", "insightface", "arcface", "dlib"}
)


def _top(mod: str) -> str:
    return mod.split(".", 1)[0]


def forbidden_imports(root: Path) -> list[tuple[str, int, str]]:
    """(file, line, module) for every forbidden ``import``, ``from ... import``, ``__import__('x')``
    or ``importlib.import_module('x')`` in the Python files under ``root``."""
    found: list[tuple[str, int, str]] = []
    for path in sorted(Path(root).rglob("*.py")):
        try:
            tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        except (SyntaxError, UnicodeDecodeError):
            continue
        for node in ast.walk(tree):
            mods: list[str] = []
            if isinstance(node, ast.Import):
                mods = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                mods = [node.module]
            elif isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant):
                fn = node.func
                name = fn.attr if isinstance(fn, ast.Attribute) else fn.id if isinstance(fn, ast.Name) else ""
                if name in ("__import__", "import_module") and isinstance(node.args[0].value, str):
                    mods = [node.args[0].value]
            for m in mods:
                if _norm(_top(m)) in FORBIDDEN_DISTS:
                    found.append((str(path), getattr(node, "lineno", 0), _top(m)))
    return found


def _req_name(req: str) -> str:
    return _norm(re.split(r"[\s\[<>=!~;@(]", req.strip(), maxsplit=1)[0])


def forbidden_requirements(pyproject: Path) -> list[str]:
    """Forbidden names among the dependencies and optional dependencies of a pyproject.toml."""
    data = tomllib.loads(Path(pyproject).read_text(encoding="utf-8"))
    project = data.get("project", {})
    reqs = list(project.get("dependencies", []))
    for group in project.get("optional-dependencies", {}).values():
        reqs.extend(group)
    return sorted({_req_name(r).replace("_", "-") for r in reqs if _req_name(r) in FORBIDDEN_DISTS})


def forbidden_distributions() -> list[str]:
    """Installed distributions (this interpreter's environment) that are on the list."""
    out = set()
    for dist in metadata.distributions():
        name = dist.metadata["Name"] or ""
        if _norm(name) in FORBIDDEN_DISTS:
            out.add(name)
        top = (dist.read_text("top_level.txt") or "").split()
        out.update(f"{name} (provides {t})" for t in top if _norm(t) in FORBIDDEN_DISTS)
    return sorted(out)
