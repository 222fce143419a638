"""TOTP second factor (RFC 6238, through pyotp) for the roles that can see or reveal footage.

Required for the roles in ``site.security.totp_roles``, and for anyone who has enrolled. The
first password login of such a user without a seed creates one and answers with it (and an
``otpauth://`` URI for an authenticator app); the next login with a correct code confirms it.
An admin can reset a seed (the user enrols again). Invariant: a code is accepted once — its time
step is remembered — so a code read over a shoulder or from a proxy log cannot be replayed.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import pyotp
from sqlalchemy.orm import Session

from oversight.config.schema import SecuritySettings
from oversight.store.base import utcnow
from oversight.web.models import UserTotp

ISSUER = "Oversight"
STEP_S = 30


@dataclass(frozen=True)
class Outcome:
    """``ok`` (no factor needed, or a good code), ``enrolled`` (a good first code confirmed the
    seed), ``enrol`` (here is a new seed), ``required`` (ask for the code) or ``wrong`` (a bad or
    replayed code)."""

    kind: str
    secret: str | None = None
    uri: str | None = None


def needed(sec: SecuritySettings, role: str, row: UserTotp | None) -> bool:
    return role in sec.totp_roles or (row is not None and row.confirmed_at is not None)


def accept(row: UserTotp, code: str, now: float | None = None) -> bool:
    """True for a code of the current step (or one step either side, for clock drift) that is
    newer than the last code accepted; remembers its step."""
    now = time.time() if now is None else now
    code = "".join(code.split())
    if not code.isdigit():
        return False
    totp = pyotp.TOTP(row.secret)
    step = int(now // STEP_S)
    for s in (step, step - 1, step + 1):
        if s > int(row.last_step or 0) and totp.at(s * STEP_S) == code:
            row.last_step = s
            return True
    return False


def second_factor(
    session: Session, sec: SecuritySettings, user_id: int, username: str, role: str, code: str | None
) -> Outcome:
    """Decide what a login with a correct password still needs; commits a new seed with the caller."""
    row = session.get(UserTotp, user_id)
    if not needed(sec, role, row):
        return Outcome("ok")
    if row is None:
        row = UserTotp(user_id=user_id, secret=pyotp.random_base32(), created_at=utcnow(), last_step=0)
        session.add(row)
        session.flush()
    if not code:
        if row.confirmed_at is not None:
            return Outcome("required")
        uri = pyotp.TOTP(row.secret).provisioning_uri(name=username, issuer_name=ISSUER)
        return Outcome("enrol", row.secret, uri)
    if not accept(row, code):
        return Outcome("wrong")
    if row.confirmed_at is None:
        row.confirmed_at = utcnow()
        return Outcome("enrolled")
    return Outcome("ok")


def reset(session: Session, user_id: int) -> bool:
    row = session.get(UserTotp, user_id)
    if row is None:
        return False
    session.delete(row)
    return True
