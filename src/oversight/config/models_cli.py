"""``oversight models``: build the default-models wheel from checked files, and say which default
models this install would run (and why not, when it falls back)."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from oversight.config.modelpack import RECIPE, PackError, pack
from oversight.config.models import DISABLE_ENV, PACKAGE, PACKAGE_VERSION, PINNED, packaged_model

models_app = typer.Typer(help="The default models (the oversight-models package).", no_args_is_help=True)


@models_app.command("pack")
def pack_cmd(
    src: Path = typer.Option(
        ..., "--from", exists=True, file_okay=False, help="Folder with the model files."
    ),
    out: Path = typer.Option(Path("dist"), "--out", help="Where the wheel is written."),
    licenses: Path | None = typer.Option(
        None, "--licenses", exists=True, file_okay=False, help="Licence texts (default: FROM/../licenses)."
    ),
    recipe: Path = typer.Option(RECIPE, "--recipe", help="The package recipe (packaging/oversight-models)."),
) -> None:
    """Check each model file's sha256 against the pins and build the oversight-models wheel."""
    try:
        wheel = pack(src, out, licenses, recipe)
    except PackError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(1) from None
    typer.echo(str(wheel))


@models_app.command("show")
def show() -> None:
    """The pinned default models and whether this install has them, verified (JSON)."""
    rows = []
    for pin in PINNED:
        found = packaged_model(pin.kind)
        rows.append(
            {
                "kind": pin.kind,
                "file": pin.file,
                "sha256": pin.sha256,
                "licence": pin.licence,
                "installed": str(found) if found else None,
            }
        )
    note = (
        None
        if all(r["installed"] for r in rows)
        else (
            f"{PACKAGE} {PACKAGE_VERSION} not installed, altered, or disabled by {DISABLE_ENV}=1: "
            "cameras with no model configured run the HOG/Haar fallbacks (degraded)"
        )
    )
    typer.echo(
        json.dumps({"package": PACKAGE, "version": PACKAGE_VERSION, "models": rows, "note": note}, indent=2)
    )
