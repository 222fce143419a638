"""API errors in the requester's language: one body shape for every 4xx/5xx the API answers.

A route raises ``http_error(404, N_("no camera '{camera_id}'"), camera_id=cid)`` (or
``service_error(exc)`` for an error a service raised with a ``Message``). The exception handlers in
``app.py`` answer ``{"detail": text, "message": text, "msgid": ..., "params": {...}}``: ``detail`` is
kept for older clients, ``message`` is what the browser shows, and ``msgid``/``params`` are the
stable machine form (the English text with its placeholders), the same whatever the language.
The language is the logged-in user's preference, else Accept-Language, else English. A test reads
the routes and fails on an ``HTTPException`` whose detail is a bare literal.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fastapi import HTTPException, Request

from oversight import i18n
from oversight.i18n import N_, Message, message_of

# pydantic's error types -> our msgid; the parameters are the error's ``ctx`` (pydantic's docs,
# "Customizing error messages"). Types not listed keep pydantic's English words.
VALIDATION_MESSAGES: dict[str, str] = {
    "missing": N_("this field is required"),
    "extra_forbidden": N_("this field is not allowed"),
    "string_type": N_("must be text"),
    "string_too_short": N_("must have at least {min_length} characters"),
    "string_too_long": N_("must have at most {max_length} characters"),
    "string_pattern_mismatch": N_("has a form that is not allowed"),
    "int_type": N_("must be a whole number"),
    "int_parsing": N_("must be a whole number"),
    "int_from_float": N_("must be a whole number"),
    "float_type": N_("must be a number"),
    "float_parsing": N_("must be a number"),
    "bool_type": N_("must be true or false"),
    "bool_parsing": N_("must be true or false"),
    "greater_than": N_("must be greater than {gt}"),
    "greater_than_equal": N_("must be at least {ge}"),
    "less_than": N_("must be less than {lt}"),
    "less_than_equal": N_("must be at most {le}"),
    "too_short": N_("must have at least {min_length} items"),
    "too_long": N_("must have at most {max_length} items"),
    "list_type": N_("must be a list"),
    "dict_type": N_("must be an object"),
    "model_attributes_type": N_("must be an object"),
    "literal_error": N_("must be one of {expected}"),
    "enum": N_("must be one of {expected}"),
    "datetime_type": N_("must be a date and time"),
    "datetime_parsing": N_("must be a date and time (ISO 8601)"),
    "datetime_from_date_parsing": N_("must be a date and time (ISO 8601)"),
    "date_parsing": N_("must be a date (YYYY-MM-DD)"),
    "json_invalid": N_("the request body is not valid JSON"),
    "url_parsing": N_("must be a URL"),
    "uuid_parsing": N_("must be a UUID"),
}

# Starlette's own details (an unknown path, a wrong method), looked up as msgids when answered
STARLETTE_DETAILS = (N_("Not Found"), N_("Method Not Allowed"), N_("Request failed"))


class ApiError(HTTPException):
    """An HTTPException whose detail is a ``Message``, translated when the answer is written."""

    def __init__(self, status: int, text: Message, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(status, str(text), dict(headers) if headers else None)
        self.text = text


def http_error(
    status: int, msgid: str, /, *, headers: Mapping[str, str] | None = None, **params: Any
) -> ApiError:
    """The error to raise from a route: ``msgid`` marked with ``N_`` and its ``{placeholders}``."""
    return ApiError(status, Message(msgid, params), headers)


def service_error(exc: BaseException, status: int | None = None) -> ApiError:
    """An error a service raised (``i18n.TextError`` and kin), answered with its status and text."""
    code = status or getattr(exc, "status", None) or getattr(exc, "status_code", None) or 400
    return ApiError(int(code), message_of(exc))


def request_translator(request: Request) -> i18n.Translator:
    """The requester's language: the user's stored preference (when the request was authenticated
    far enough to know the user), else Accept-Language."""
    from oversight.web.routes.i18n import request_locale

    principal = getattr(request.state, "principal", None)
    try:
        locale = request_locale(request, principal)
    except Exception:  # noqa: BLE001 - the database may be why we are failing; fall back to the header
        locale = i18n.negotiate(request.headers.get("accept-language"))
    return i18n.Translator(locale)


def error_body(tr: i18n.Translator, detail: Any) -> dict[str, Any]:
    """The body of an error answer: a ``Message`` translated, a plain string looked up as a msgid
    (FastAPI's own "Not Found"), and a structured detail (the log-in's second factor) kept."""
    if isinstance(detail, Message):
        text = detail.translate(tr)
        return {"detail": text, "message": text, **detail.jsonable()}
    if isinstance(detail, str):
        text = tr.gettext(detail)
        return {"detail": text, "message": text, "msgid": detail, "params": {}}
    message = detail.get("message") if isinstance(detail, dict) else None
    return {
        "detail": detail,
        "message": message if isinstance(message, str) else tr.gettext(N_("Request failed")),
    }


def validation_body(tr: i18n.Translator, errors: list[Any]) -> dict[str, Any]:
    """A 422 for a body or query pydantic refused: each issue's ``msg`` in the requester's language,
    ``message`` one line naming the fields."""
    issues = []
    for e in errors:
        kind = str(e.get("type", ""))
        ctx = {k: _ctx_value(v) for k, v in (e.get("ctx") or {}).items()}
        msg = _issue_text(tr, kind, ctx, e)
        loc = [str(p) for p in e.get("loc", ())]
        issues.append({"loc": loc, "msg": msg, "type": kind})
    named = [(_field(i["loc"]), str(i["msg"])) for i in issues]
    fields = "; ".join(f"{name}: {msg}" if name else msg for name, msg in named)
    message = tr.gettext(N_("Check the fields: {fields}"), fields=fields)
    return {"detail": issues, "message": message, "msgid": "validation", "params": {}}


def _issue_text(tr: i18n.Translator, kind: str, ctx: dict[str, Any], e: Any) -> str:
    """One issue in words: our msgid for pydantic's type, a validator's own ``InvalidValue``
    translated, else pydantic's English."""
    text = getattr((e.get("ctx") or {}).get("error"), "text", None)
    if kind == "value_error" and isinstance(text, Message):
        return text.translate(tr)
    msgid = VALIDATION_MESSAGES.get(kind)
    try:
        return tr.gettext(msgid, **ctx) if msgid else str(e.get("msg", ""))
    except (KeyError, IndexError):
        return str(e.get("msg", ""))


def _field(loc: Any) -> str:
    named = [p for p in loc if p not in ("body", "query", "path", "header") and not p.isdigit()]
    return ".".join(named)


def _ctx_value(v: Any) -> Any:
    return v if isinstance(v, str | int | float | bool) else str(v)
