"""The `oversight` command line."""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from oversight.config import ConfigError, load_config

app = typer.Typer(help="Oversight: public-safety video with privacy enforced by the software.", no_args_is_help=True)


@app.command("check-config")
def check_config(path: Path) -> None:
    """Validate a site config; print every problem with file and line; exit 1 on any."""
    try:
        cfg = load_config(path)
    except ConfigError as exc:
        for issue in exc.issues:
            typer.echo(str(issue), err=True)
        typer.echo(f"{len(exc.issues)} problem(s) in {path}", err=True)
        raise typer.Exit(1) from None
    typer.echo(f"{path}: OK ({len(cfg.cameras)} camera(s))")


@app.command()
def version() -> None:
    """Print the version."""
    from oversight import __version__

    typer.echo(__version__)


def main() -> None:  # pragma: no cover - console entry
    app(prog_name="oversight")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
