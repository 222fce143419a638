"""The command line's one way to read a site config: every problem printed with its file and
line on stderr, then exit status 1; a command never runs on a config with a problem."""

from __future__ import annotations

from pathlib import Path

import typer

from oversight.config.loader import ConfigError, load_config
from oversight.config.schema import SiteConfig


def load_or_exit(path: Path, *, count: bool = False) -> SiteConfig:
    """``load_config(path)``, or the problems on stderr and ``typer.Exit(1)``; ``count`` adds a
    closing line with the number of problems (``check-config``)."""
    try:
        return load_config(path)
    except ConfigError as exc:
        for issue in exc.issues:
            typer.echo(str(issue), err=True)
        if count:
            typer.echo(f"{len(exc.issues)} problem(s) in {path}", err=True)
        raise typer.Exit(1) from None
