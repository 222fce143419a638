"""Write to the privacy audit log when the privacy package is installed (engineer D owns it)."""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy.orm import Session

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
    """Append an audit entry inside the caller's transaction; a no-op (logged) without the privacy package."""
    try:
        from oversight.privacy import audit as audit_log
    except ModuleNotFoundError as exc:
        if exc.name not in ("oversight.privacy.audit", "oversight.privacy"):
            raise
        log.info("audit (no privacy package): %s %s %s:%s", who.username, action, object_type, object_id)
        return
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
