"""Errors the service raises; the API maps ``status_code`` straight onto the HTTP answer."""

from __future__ import annotations


class IncidentError(Exception):
    status_code = 400

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class InvalidInput(IncidentError):
    """Bad input (unknown type, off-map location, skipped step). Nothing was changed."""

    status_code = 422


class NotFound(IncidentError):
    status_code = 404


class Conflict(IncidentError):
    """The world changed under the request (the unit was just dispatched elsewhere)."""

    status_code = 409
