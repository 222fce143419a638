"""Errors the service raises; the API maps ``status_code`` straight onto the HTTP answer."""

from __future__ import annotations

from typing import Any

from oversight.i18n import Message, TextError


class IncidentError(TextError):
    """``message`` is the English text; ``text`` the msgid and parameters the API translates."""

    status_code = 400

    def __init__(self, message: str | Message, /, **params: Any):
        super().__init__(message, **params)
        self.message = str(self.text)


class InvalidInput(IncidentError):
    """Bad input (unknown type, off-map location, skipped step). Nothing was changed."""

    status_code = 422


class NotFound(IncidentError):
    status_code = 404


class Conflict(IncidentError):
    """The world changed under the request (the unit was just dispatched elsewhere)."""

    status_code = 409
