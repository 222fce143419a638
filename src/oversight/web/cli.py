"""``oversight users ...``: accounts and API tokens from the command line (the first admin, too).

Every change goes through ``web.accounts``, as the web routes' do: it is audited (actor
``cli:<login name>``, source ``cli``) and refused when it would leave no active admin.
"""

from __future__ import annotations

import getpass
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import typer
from sqlalchemy.orm import Session

from oversight.i18n import _
from oversight.permissions import permissions_of
from oversight.store.db import Database
from oversight.store.models import ROLES
from oversight.web import accounts

users_app = typer.Typer(help="Manage accounts and API tokens.", no_args_is_help=True)

ConfigOpt = typer.Option(
    None, "--config", "-c", help="site config (its database is used)", envvar="OVERSIGHT_CONFIG"
)
DbOpt = typer.Option(
    None, "--db", help="database URL (overrides the config)", envvar="OVERSIGHT_DATABASE_URL"
)


def open_db(config: Path | None, db_url: str | None) -> Database:
    if not db_url:
        from oversight.config.cli import load_or_exit
        from oversight.config.schema import database_url

        if config is None:
            raise typer.BadParameter("give --config PATH or --db URL")
        db_url = database_url(load_or_exit(config))  # the same database `oversight serve` uses
    db = Database(db_url)
    db.migrate()
    return db


def console() -> accounts.Actor:
    """The person at this console, as the audit log names them."""
    try:
        who = getpass.getuser()
    except Exception:  # no login name (a container without a passwd entry)
        who = str(os.getuid())
    return accounts.Actor(f"cli:{who}", "cli")


@contextmanager
def _change(config: Path | None, db_url: str | None) -> Iterator[Session]:
    """One audited change; a refusal prints ``error: ...`` and exits 1 with nothing written."""
    try:
        with open_db(config, db_url).session() as s:
            yield s
    except accounts.AccountError as exc:
        typer.echo(_("error: {problem}", problem=exc), err=True)
        raise typer.Exit(1) from None


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
    password = _read_password(password_stdin)
    with _change(config, db_url) as s:
        accounts.add_user(s, console(), username, password, role)
    typer.echo(_("added {user} ({role})", user=username, role=role))


@users_app.command("list")
def list_users(config: Path | None = ConfigOpt, db_url: str | None = DbOpt) -> None:
    """List accounts."""
    with open_db(config, db_url).session() as s:
        for u in accounts.list_users(s):
            groups = ",".join(u.camera_groups or []) or "-"
            typer.echo(f"{u.username}\t{u.role}\t{_('active') if u.active else _('disabled')}\t{groups}")


@users_app.command("permissions")
def permissions(role: str | None = typer.Argument(None, help="one role; default: every role")) -> None:
    """What each role may do, from the permission table the web app enforces."""
    if role is not None and role not in ROLES:
        typer.echo(_("error: role must be one of {roles}", roles=", ".join(ROLES)), err=True)
        raise typer.Exit(1)
    for r in [role] if role else ROLES:
        typer.echo(f"{r}\t{' '.join(permissions_of(r))}")


@users_app.command("set-role")
def set_role(username: str, role: str, config: Path | None = ConfigOpt, db_url: str | None = DbOpt) -> None:
    """Change a role (the user's sessions end, and so do their reveals)."""
    with _change(config, db_url) as s:
        accounts.update_user(s, console(), username, role=role)
    typer.echo(_("{user} is now {role}", user=username, role=role))


@users_app.command("groups")
def groups(
    username: str,
    group: list[str] = typer.Argument(
        None, help="camera group ids (site.camera_groups); none: take all away"
    ),
    config: Path = typer.Option(..., "--config", "-c", help="site config: its camera groups and database"),
) -> None:
    """Grant exactly these camera groups to an account (audited; the console needs no second admin)."""
    from oversight.config.cli import load_or_exit

    known = {g.id for g in load_or_exit(config).camera_groups}
    with _change(config, None) as s:
        accounts.set_camera_groups(s, console(), username, list(group or []), known)
    typer.echo(f"{username}: camera groups {', '.join(sorted(set(group or []))) or 'none'}")


@users_app.command("passwd")
def passwd(
    username: str,
    password_stdin: bool = typer.Option(False, "--password-stdin"),
    config: Path | None = ConfigOpt,
    db_url: str | None = DbOpt,
) -> None:
    """Set a new password (the user's sessions end)."""
    password = _read_password(password_stdin)
    with _change(config, db_url) as s:
        accounts.update_user(s, console(), username, password=password)
    typer.echo(_("password of {user} changed", user=username))


@users_app.command("disable")
def disable(username: str, config: Path | None = ConfigOpt, db_url: str | None = DbOpt) -> None:
    """Disable an account, end its sessions, revoke its reveals (and its tokens, for an admin)."""
    with _change(config, db_url) as s:
        accounts.update_user(s, console(), username, active=False)
    typer.echo(_("{user} disabled", user=username))


@users_app.command("enable")
def enable(username: str, config: Path | None = ConfigOpt, db_url: str | None = DbOpt) -> None:
    with _change(config, db_url) as s:
        accounts.update_user(s, console(), username, active=True)
    typer.echo(_("{user} enabled", user=username))


@users_app.command("logout-all")
def logout_all(username: str, config: Path | None = ConfigOpt, db_url: str | None = DbOpt) -> None:
    """End every session of a user."""
    with _change(config, db_url) as s:
        accounts.logout_everywhere(s, console(), username)
    typer.echo(_("all sessions of {user} ended", user=username))


@users_app.command("token")
def token(
    name: str,
    role: str = typer.Option(..., "--role", "-r"),
    config: Path | None = ConfigOpt,
    db_url: str | None = DbOpt,
) -> None:
    """Create an API token for an integration; prints the secret once."""
    with _change(config, db_url) as s:
        _, secret = accounts.create_token(s, console(), name, role)
    typer.echo(secret)
