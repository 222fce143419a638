"""Shared request parameter types, bounded so odd input gets a 422 and never a database error."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import Path

from oversight.i18n import N_
from oversight.web.errors import http_error

DbId = Annotated[int, Path(ge=1, le=2_147_483_647)]
CameraId = Annotated[str, Path(pattern=r"^[A-Za-z0-9_-]{1,64}$")]
EARLIEST = datetime(1970, 1, 2, tzinfo=UTC)
LATEST = datetime(9000, 1, 1, tzinfo=UTC)


def as_utc(value: datetime | None, name: str = "time") -> datetime | None:
    """Naive datetimes are taken as UTC (the API speaks UTC); out-of-range ones are a 422."""
    if value is None:
        return None
    value = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    if not EARLIEST <= value <= LATEST:
        raise http_error(422, N_("{name} is out of range"), name=name)
    return value
