"""TOTP second factor (RFC 6238, through pyotp) for the roles that can see or reveal footage.

Required for the roles in ``site.security.totp_roles``, and for anyone who has enrolled. The
first password login of such a user without a seed creates one and answers with it (and an
``otpauth://`` URI for an authenticator app); the next login with a correct code confirms it.
An admin can reset a seed (the user enrols again). Invariants: a code is accepted once — its time
step is remembered — so a code read over a shoulder or from a proxy log cannot be replayed; and a
seed is stored encrypted (XSalsa20-Poly1305, key derived from the installation key that stays on
the server's disk), so a copy of the database alone does not give away anyone's second factor.
"""

from __future__ import annotations

import base64
import time
from dataclasses import dataclass
from pathlib import Path

import pyotp
from nacl.encoding import RawEncoder
from nacl.hash import blake2b
from nacl.secret import SecretBox
from sqlalchemy.orm import Session

from oversight.config.schema import SecuritySettings
from oversight.store.base import utcnow
from oversight.web.models import UserTotp

ISSUER = "Oversight"
STEP_S = 30
SEALED = "nacl:"


def seed_box(data_dir: str | Path) -> SecretBox:
    """The key that encrypts TOTP seeds, derived from (not equal to) the installation key."""
    from oversight.privacy.keys import load_or_create_signing_key

    seed = bytes(load_or_create_signing_key(data_dir))
    return SecretBox(blake2b(seed, key=b"oversight-totp-seed", digest_size=32, encoder=RawEncoder))


def _seal(box: SecretBox, secret: str) -> str:
    return SEALED + base64.b64encode(bytes(box.encrypt(secret.encode()))).decode()


def _unseal(box: SecretBox, stored: str) -> str:
    if not stored.startswith(SEALED):
        return stored
    return box.decrypt(base64.b64decode(stored[len(SEALED) :])).decode()


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


def accept(row: UserTotp, secret: str, code: str, now: float | None = None) -> bool:
    """True for a code of the current step (or one step either side, for clock drift) that is
    newer than the last code accepted; remembers its step."""
    now = time.time() if now is None else now
    code = "".join(code.split())
    if not code.isdigit():
        return False
    totp = pyotp.TOTP(secret)
    step = int(now // STEP_S)
    for s in (step, step - 1, step + 1):
        if s > int(row.last_step or 0) and totp.at(s * STEP_S) == code:
            row.last_step = s
            return True
    return False


def second_factor(
    session: Session,
    sec: SecuritySettings,
    box: SecretBox,
    user_id: int,
    username: str,
    role: str,
    code: str | None,
) -> Outcome:
    """Decide what a login with a correct password still needs; commits a new seed with the caller."""
    row = session.get(UserTotp, user_id)
    if not needed(sec, role, row):
        return Outcome("ok")
    if row is None:
        new = pyotp.random_base32()
        row = UserTotp(user_id=user_id, secret=_seal(box, new), created_at=utcnow(), last_step=0)
        session.add(row)
        session.flush()
    secret = _unseal(box, row.secret)
    if not code:
        if row.confirmed_at is not None:
            return Outcome("required")
        uri = pyotp.TOTP(secret).provisioning_uri(name=username, issuer_name=ISSUER)
        return Outcome("enrol", secret, uri)
    if not accept(row, secret, code):
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
