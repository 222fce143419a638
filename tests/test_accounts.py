"""Account changes from the console follow the web's rules: audited, and never the last admin.

``oversight users …`` used to change roles and passwords with no audit entry and could demote or
disable the only admin; both go through ``web.accounts`` now, as the ``/api/users`` routes do.
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from oversight.cli import app
from oversight.permissions import permissions_of
from oversight.privacy import audit
from oversight.privacy.models import AuditEntry
from oversight.store.db import Database
from oversight.store.models import ROLES, User
from oversight.web import accounts, auth
from oversight.web.models import WebSession

PASSWORD = "correct horse battery"


def users(db_url: str, *args: str, stdin: str | None = None) -> Any:
    return CliRunner().invoke(app, ["users", *args, "--db", db_url], input=stdin)


def entries(db: Database, action: str) -> list[AuditEntry]:
    with db.session() as s:
        return list(s.scalars(select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.seq)))


def user(db: Database, name: str) -> User:
    with db.session() as s:
        found = s.scalar(select(User).where(User.username == name))
        assert found is not None
        return found


@pytest.fixture
def root(db: Database, db_url: str) -> str:
    r = users(db_url, "add", "root", "--role", "admin", "--password-stdin", stdin=PASSWORD + "\n")
    assert r.exit_code == 0, r.output
    return "root"


@pytest.mark.parametrize(
    "args",
    [("set-role", "root", "operator"), ("disable", "root")],
    ids=["demote", "disable"],
)
def test_the_cli_refuses_to_remove_the_last_admin(db, db_url, root, args):
    r = users(db_url, *args)
    assert r.exit_code == 1 and "last active admin" in r.output
    u = user(db, "root")
    assert (u.role, u.active) == ("admin", True)
    assert entries(db, "user.update") == []  # a refusal changes nothing, so nothing to audit


def test_cli_role_change_is_audited_and_ends_sessions(db, db_url, root):
    assert users(db_url, "add", "ada", "--role", "admin", stdin=PASSWORD + "\n").exit_code == 0
    with db.session() as s:
        auth.start_session(s, user(db, "root"), "127.0.0.1", "test")
    r = users(db_url, "set-role", "root", "operator")  # another admin is left: allowed
    assert r.exit_code == 0, r.output
    (entry,) = entries(db, "user.update")
    assert entry.actor.startswith("cli:") and entry.source == "cli" and entry.object_id == "root"
    assert entry.detail == {"role": {"from": "admin", "to": "operator"}, "ended": {"reveals": 0, "tokens": 0}}
    assert [e.object_id for e in entries(db, "user.create")] == ["root", "ada"]
    with db.session() as s:
        assert s.scalar(select(WebSession).where(WebSession.user_id == user(db, "root").id)) is None
    r = users(db_url, "disable", "ada")  # now ada is the last one
    assert r.exit_code == 1 and "last active admin" in r.output
    with db.session() as s:
        assert audit.verify(s).ok


def test_cli_password_reset_is_audited_without_the_password(db, db_url, root):
    before = user(db, "root").password_hash
    r = users(db_url, "passwd", "root", "--password-stdin", stdin="another long passphrase\n")
    assert r.exit_code == 0, r.output
    assert user(db, "root").password_hash != before
    (entry,) = entries(db, "user.update")
    assert entry.detail == {"password": "reset"} and "another" not in str(entry.detail)
    r = users(db_url, "passwd", "root", "--password-stdin", stdin="short\n")
    assert r.exit_code == 1 and "at least" in r.output
    assert len(entries(db, "user.update")) == 1


def test_cli_tokens_and_unknown_users_give_clear_errors(db, db_url, root):
    r = users(db_url, "token", "radio", "--role", "operator")
    assert r.exit_code == 0 and r.output.strip().startswith("ovt_")
    assert [e.detail for e in entries(db, "token.create")] == [{"name": "radio", "role": "operator"}]
    for args in (("set-role", "nobody", "viewer"), ("token", "x", "--role", "king")):
        r = users(db_url, *args)
        assert r.exit_code == 1 and r.output.startswith("error: "), r.output


def test_the_cli_prints_the_permission_table():
    r = CliRunner().invoke(app, ["users", "permissions"])
    assert r.exit_code == 0
    lines = dict(line.split("\t") for line in r.output.strip().splitlines())
    assert list(lines) == list(ROLES)
    assert all(lines[role].split() == permissions_of(role) for role in ROLES)


def test_routes_and_cli_share_the_last_admin_rule(db):
    """The rule counts accounts allowed ``users.manage``, active ones only."""
    by = accounts.Actor("test", "test")
    with db.session() as s:
        accounts.add_user(s, by, "a1", PASSWORD, "admin")
        accounts.add_user(s, by, "a2", PASSWORD, "admin")
        accounts.update_user(s, by, "a2", active=False)
        with pytest.raises(accounts.Conflict):
            accounts.update_user(s, by, "a1", role="supervisor")
        accounts.update_user(s, by, "a2", role="viewer")  # a disabled admin is no admin to keep
        assert accounts.managers_left(s) == 1
