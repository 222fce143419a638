"""The web layer's door to the privacy audit log: who (a ``Principal``) did what, from where."""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy.orm import Session

from oversight.privacy import audit as audit_log
from oversight.web.auth import Principal

log = logging.getLogger(__name__)


def audit(
    session: Session,
    who: Principal,
    action: str,
    object_type: str,
    object_id: Any,
    purpose: str | None = None,
    detail: dict[str, Any] | None = None,
) -> None:
    """Append an audit entry inside the caller's transaction."""
    audit_log.record(
        session,
        who.username,
        action,
        object_type,
        str(object_id),
        purpose=purpose,
        source=f"web {who.ip}" if who.ip else "web",
        detail=detail,
    )
