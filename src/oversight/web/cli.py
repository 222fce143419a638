"""``oversight users ...``: accounts and API tokens from the command line (the first admin, too)."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import typer
from sqlalchemy import select

from oversight.store.db import Database
from oversight.store.models import ROLES, User

users_app = typer.Typer(help="Manage accounts and API tokens.", no_args_is_help=True)

ConfigOpt = typer.Option(
    None, "--config", "-c", help="site config (its database is used)", envvar="OVERSIGHT_CONFIG"
)
DbOpt = typer.Option(
    None, "--db", help="database URL (overrides the config)", envvar="OVERSIGHT_DATABASE_URL"
)


def open_db(config: Path | None, db_url: str | None) -> Database:
    if not db_url:
        from oversight.config import ConfigError, load_config

        if config is None:
            raise typer.BadParameter("give --config PATH or --db URL")
        try:
            cfg = load_config(config)
        except ConfigError as exc:
            typer.echo(str(exc), err=True)
            raise typer.Exit(1) from None
        from oversight.service import database_url

        db_url = database_url(cfg)  # the same database `oversight serve` uses
    db = Database(db_url)
    db.migrate()
    return db


def _cli_principal() -> Any:
    """Who acts in the audit log when a command changes an account: the server's operator."""
    from oversight.web.auth import Principal

    return Principal(username="cli", role="admin", via="cli")


def _read_password(password_stdin: bool) -> str:
    env = os.environ.get("OVERSIGHT_PASSWORD")
    if env:
        return env
    if password_stdin or not sys.stdin.isatty():
        return sys.stdin.readline().rstrip("\n")
    value: str = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    return value


@users_app.command("add")
def add(
    username: str,
    role: str = typer.Option(..., "--role", "-r", help=f"one of {', '.join(ROLES)}"),
    password_stdin: bool = typer.Option(False, "--password-stdin", help="read the password from stdin"),
    config: Path | None = ConfigOpt,
    db_url: str | None = DbOpt,
) -> None:
    """Add an account. The password is prompted for (or read from stdin / $OVERSIGHT_PASSWORD)."""
    from oversight.web.auth import create_user

    password = _read_password(password_stdin)
    db = open_db(config, db_url)
    try:
        with db.session() as s:
            create_user(s, username, password, role)
    except ValueError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    typer.echo(f"added {username} ({role})")


@users_app.command("list")
def list_users(config: Path | None = ConfigOpt, db_url: str | None = DbOpt) -> None:
    """List accounts."""
    with open_db(config, db_url).session() as s:
        for u in s.scalars(select(User).order_by(User.username)):
            typer.echo(f"{u.username}\t{u.role}\t{'active' if u.active else 'disabled'}")


def _user(s: object, username: str) -> User:
    from sqlalchemy.orm import Session

    assert isinstance(s, Session)
    user = s.scalar(select(User).where(User.username == username))
    if user is None:
        typer.echo(f"error: no user '{username}'", err=True)
        raise typer.Exit(1)
    return user


@users_app.command("set-role")
def set_role(username: str, role: str, config: Path | None = ConfigOpt, db_url: str | None = DbOpt) -> None:
    """Change a role (the user's sessions end, and so do their reveals)."""
    from oversight.web.auth import revoke_sessions
    from oversight.web.revocation import end_rights

    if role not in ROLES:
        typer.echo(f"error: role must be one of {', '.join(ROLES)}", err=True)
        raise typer.Exit(1)
    with open_db(config, db_url).session() as s:
        user = _user(s, username)
        user.role = role
        revoke_sessions(s, user)
        end_rights(s, user, _cli_principal())
    typer.echo(f"{username} is now {role}")


@users_app.command("passwd")
def passwd(
    username: str,
    password_stdin: bool = typer.Option(False, "--password-stdin"),
    config: Path | None = ConfigOpt,
    db_url: str | None = DbOpt,
) -> None:
    """Set a new password (the user's sessions end)."""
    from oversight.web.auth import hash_password, revoke_sessions

    password = _read_password(password_stdin)
    try:
        hashed = hash_password(password)
    except ValueError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    with open_db(config, db_url).session() as s:
        user = _user(s, username)
        user.password_hash = hashed
        revoke_sessions(s, user)
    typer.echo(f"password of {username} changed")


@users_app.command("disable")
def disable(username: str, config: Path | None = ConfigOpt, db_url: str | None = DbOpt) -> None:
    """Disable an account, end its sessions, revoke its reveals (and its tokens, for an admin)."""
    from oversight.web.auth import revoke_sessions
    from oversight.web.revocation import end_rights

    with open_db(config, db_url).session() as s:
        user = _user(s, username)
        user.active = False
        revoke_sessions(s, user)
        end_rights(s, user, _cli_principal())
    typer.echo(f"{username} disabled")


@users_app.command("enable")
def enable(username: str, config: Path | None = ConfigOpt, db_url: str | None = DbOpt) -> None:
    with open_db(config, db_url).session() as s:
        _user(s, username).active = True
    typer.echo(f"{username} enabled")


@users_app.command("logout-all")
def logout_all(username: str, config: Path | None = ConfigOpt, db_url: str | None = DbOpt) -> None:
    """End every session of a user."""
    from oversight.web.auth import revoke_sessions

    with open_db(config, db_url).session() as s:
        revoke_sessions(s, _user(s, username))
    typer.echo(f"all sessions of {username} ended")


@users_app.command("token")
def token(
    name: str,
    role: str = typer.Option(..., "--role", "-r"),
    config: Path | None = ConfigOpt,
    db_url: str | None = DbOpt,
) -> None:
    """Create an API token for an integration; prints the secret once."""
    from oversight.web.auth import create_api_token

    try:
        with open_db(config, db_url).session() as s:
            _, secret = create_api_token(s, name, role, "cli")
    except ValueError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    typer.echo(secret)
