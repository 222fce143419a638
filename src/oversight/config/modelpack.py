"""Builds the ``oversight-models`` wheel from model files a city already holds: the one way weights
enter a package under our name, so every file is checked against its pinned sha256 first.

The recipe (``packaging/oversight-models``) is copied to a scratch folder, the weights, licence texts,
``models.json`` and ``PROVENANCE.md`` (the wheel's long description, so provenance and checksums sit in
its METADATA) are added, and ``pip wheel`` builds it with the recipe's backend (hatchling).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from oversight.config.models import PACKAGE_VERSION, PINNED, Pinned, sha256_of

RECIPE = Path(__file__).resolve().parents[3] / "packaging" / "oversight-models"  # in a source checkout


class PackError(Exception):
    """A file is missing or is not the pinned model: nothing was built."""


def check_files(src: Path, licenses: Path) -> list[str]:
    """Every problem with the files in ``src`` and ``licenses`` (empty when all match the pins)."""
    problems = []
    for pin in PINNED:
        f = src / pin.file
        if not f.is_file():
            problems.append(f"{f}: missing ({pin.kind} model {pin.name})")
            continue
        digest = sha256_of(f)
        if digest != pin.sha256:
            problems.append(f"{f}: sha256 {digest} is not the pinned {pin.sha256}; refusing to package it")
        if not (licenses / pin.licence_file).is_file():
            problems.append(f"{licenses / pin.licence_file}: licence text missing ({pin.licence})")
    return problems


def manifest() -> dict:
    models = {
        p.kind: {
            "file": p.file,
            "sha256": p.sha256,
            "size": p.size,
            "name": p.name,
            "licence": p.licence,
            "licence_file": p.licence_file,
            "source": p.source,
            "note": p.note,
        }
        for p in PINNED
    }
    return {"package": "oversight-models", "version": PACKAGE_VERSION, "models": models}


def _provenance(pins: tuple[Pinned, ...]) -> str:
    rows = "\n".join(
        f"| {p.kind} | `{p.file}` | {p.size} | `{p.sha256}` | {p.licence} (`{p.licence_file}`) |"
        for p in pins
    )
    sources = "\n".join(f"- `{p.file}`: {p.name}. Source: {p.source} ({p.note})." for p in pins)
    return (
        f"# oversight-models {PACKAGE_VERSION}\n\nThe default models of Oversight, loaded from this package "
        "with no download. Detection only: no recognition model is, or may be, in this package.\n\n"
        "| kind | file | bytes | sha256 | licence |\n| --- | --- | ---: | --- | --- |\n"
        f"{rows}\n\n## Provenance\n\n{sources}\n\nLicence texts: the wheel's `licenses/` folder.\n"
    )


def stage(src: Path, licenses: Path, into: Path, recipe: Path = RECIPE) -> Path:
    """The recipe with the checked weights and licences added, ready for a build backend."""
    problems = check_files(src, licenses)
    if problems:
        raise PackError("\n".join(problems))
    if not (recipe / "pyproject.toml").is_file():
        raise PackError(
            f"{recipe}: no oversight-models recipe here (run from a source checkout or pass --recipe)"
        )
    root = into / "oversight-models"
    shutil.copytree(recipe, root, ignore=shutil.ignore_patterns("__pycache__", "dist", "*.onnx"))
    pkg = root / "src" / "oversight_models"
    (pkg / "weights").mkdir(exist_ok=True)
    (root / "licenses").mkdir(exist_ok=True)
    for pin in PINNED:
        shutil.copyfile(src / pin.file, pkg / "weights" / pin.file)
        shutil.copyfile(licenses / pin.licence_file, root / "licenses" / pin.licence_file)
    (pkg / "models.json").write_text(json.dumps(manifest(), indent=2) + "\n", "utf-8")
    (root / "PROVENANCE.md").write_text(_provenance(PINNED), "utf-8")
    return root


def pack(src: Path, out: Path, licenses: Path | None = None, recipe: Path = RECIPE) -> Path:
    """Checks the files, builds the wheel into ``out`` and returns its path."""
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="oversight-models-") as tmp:
        root = stage(src, licenses or src.parent / "licenses", Path(tmp), recipe)
        cmd = [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(out), str(root)]
        done = subprocess.run(cmd, capture_output=True, text=True)
        if done.returncode != 0:
            raise PackError(f"building the wheel failed:\n{done.stderr.strip() or done.stdout.strip()}")
    wheel = out / f"oversight_models-{PACKAGE_VERSION}-py3-none-any.whl"
    if not wheel.is_file():
        raise PackError(f"the build wrote no {wheel.name} into {out}")
    return wheel
