"""Message catalogues (gettext ``.po`` files read with Babel): where every user-facing string is translated.

Two domains under ``oversight/locale/<locale>/LC_MESSAGES/``: ``web`` holds the browser's strings
(served as JSON by ``/api/i18n/catalog``), ``server`` the reports', portal's and CLI's. The English
text is the msgid (gettext style), so a missing translation shows English, never a key. Regional
catalogues (``es_AR``, ``es_EC``) hold only what differs from ``es`` and fall back to it. The ``.po``
files are parsed at first use, so a fresh checkout needs no compile step. Placeholders are
``str.format`` names (``{count}``), the same in Python and in the browser's ``t()``.
"""

from __future__ import annotations

import copy
import gettext
import io
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

from babel import Locale, UnknownLocaleError
from babel.core import negotiate_locale
from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po, write_po
from babel.support import NullTranslations, Translations

LOCALE_DIR = Path(__file__).parent / "locale"
DOMAINS = ("web", "server")
LOCALES = ("en", "es", "es_AR", "es_EC")  # the catalogues shipped; the first is the source language
DEFAULT = "en"
# what the extractor looks for: t()/tn() in the browser, gettext()/ngettext()/N_() in Python
JS_KEYWORDS = {"t": None, "tn": (1, 2)}
PY_KEYWORDS = {"gettext": None, "ngettext": (1, 2), "N_": None, "_": None}


def N_(msgid: str) -> str:  # noqa: N802 - the gettext convention for "mark now, translate later"
    """Mark a string for extraction where it is defined; it is translated where it is shown."""
    return msgid


class Message:
    """A msgid and its parameters: English in logs and ``str()``, the reader's language where shown.

    Errors and alerts carry one so the text is translated for whoever reads it, not for whoever
    raised it (an alert raised on a camera thread is read in Spanish and in English).
    """

    __slots__ = ("msgid", "params")

    def __init__(self, msgid: str, params: dict[str, Any] | None = None) -> None:
        self.msgid, self.params = msgid, dict(params or {})

    def __str__(self) -> str:
        if not self.params:
            return self.msgid
        return self.msgid.format(
            **{k: str(v) if isinstance(v, Message) else v for k, v in self.params.items()}
        )

    def __repr__(self) -> str:
        return f"Message({self.msgid!r}, {self.params!r})"

    def translate(self, tr: Translator | None = None) -> str:
        """The text in ``tr``'s language (the ``use()`` block's without one)."""
        tr = tr or current()
        return tr.gettext(
            self.msgid,
            **{k: v.translate(tr) if isinstance(v, Message) else v for k, v in self.params.items()},
        )

    def jsonable(self) -> dict[str, Any]:
        """The machine form: msgid and parameters as JSON (a parameter that is itself a ``Message``,
        such as a class name to translate, as a nested ``{"msgid", "params"}``; others as text)."""
        return {"msgid": self.msgid, "params": {k: _jsonable(v) for k, v in self.params.items()}}

    @classmethod
    def from_json(cls, msgid: str, params: dict[str, Any] | None) -> Message:
        """The inverse of ``jsonable``: nested ``{"msgid", "params"}`` become ``Message`` again."""
        out = {}
        for k, v in (params or {}).items():
            nested = isinstance(v, dict) and isinstance(v.get("msgid"), str)
            out[k] = cls.from_json(v["msgid"], v.get("params")) if nested else v
        return cls(msgid, out)


def _jsonable(v: Any) -> Any:
    if isinstance(v, Message):
        return v.jsonable()
    return v if isinstance(v, str | int | float | bool | type(None)) else str(v)


class Term(Message):
    """A machine value from a fixed list (a status) shown as its word: the machine form keeps the value."""

    __slots__ = ("value",)

    def __init__(self, msgid: str, value: str) -> None:
        super().__init__(msgid)
        self.value = value

    def jsonable(self) -> dict[str, Any]:
        return {**super().jsonable(), "value": self.value}


def term(value: str, words: Mapping[str, str]) -> Message | str:
    """A machine value from a fixed list (a status, a state) as the word a reader reads, translated
    where the message is shown: ``words`` maps values to ``N_``-marked msgids; others stay as they are."""
    msgid = words.get(value)
    return Term(msgid, value) if msgid else value


class TextError(Exception):
    """An error whose message is a msgid (marked with ``N_``) and parameters, kept as ``.text``."""

    def __init__(self, msgid: str | Message, /, **params: Any) -> None:
        self.text = msgid if isinstance(msgid, Message) else Message(msgid, params)
        super().__init__(str(self.text))


class InvalidValue(TextError, ValueError):
    """A refused value with its text as a msgid: a pydantic validator raising it is answered in the
    requester's language (``web/errors.py``), a caller catching ``ValueError`` still catches it."""


def message_of(exc: BaseException) -> Message:
    """An error's text as a ``Message``: its own where it has one, else its English words."""
    text = getattr(exc, "text", None)
    return text if isinstance(text, Message) else Message(str(exc))


def normalize(tag: str | None) -> str | None:
    """``es-ar`` / ``es_AR`` / ``es`` -> the shipped catalogue that fits best, or None."""
    if not tag:
        return None
    try:
        loc = Locale.parse(tag.replace("-", "_"))
    except (ValueError, UnknownLocaleError):
        return None
    full = f"{loc.language}_{loc.territory}" if loc.territory else loc.language
    if full in LOCALES:
        return full
    return loc.language if loc.language in LOCALES else None


def negotiate(accept_language: str | None, preferred: str | None = None) -> str:
    """The user's stored preference if it is shipped, else the best match of Accept-Language, else English."""
    if normalize(preferred):
        return str(normalize(preferred))
    wanted: list[tuple[float, str]] = []
    for i, part in enumerate((accept_language or "").split(",")):
        tag, _, q = part.strip().partition(";q=")
        try:
            weight = float(q) if q else 1.0
        except ValueError:
            weight = 0.0
        if tag and tag != "*" and weight > 0:
            wanted.append((-weight + i * 1e-6, tag.replace("-", "_")))
    choice = negotiate_locale([t for _, t in sorted(wanted)], list(LOCALES), sep="_")
    return normalize(choice) or DEFAULT


def cli_locale() -> str:
    """The command line's language, from the environment the way gettext reads it."""
    for var in ("LANGUAGE", "LC_ALL", "LC_MESSAGES", "LANG"):
        value = os.environ.get(var, "").split(":")[0].split(".")[0]
        if value and value not in ("C", "POSIX"):
            return normalize(value) or DEFAULT
    return DEFAULT


def po_path(locale: str, domain: str) -> Path:
    return LOCALE_DIR / locale / "LC_MESSAGES" / f"{domain}.po"


def read_catalog(locale: str, domain: str) -> Catalog:
    path = po_path(locale, domain)
    if not path.exists():
        return Catalog(locale=locale, domain=domain)
    with path.open("rb") as f:
        return read_po(f, locale=locale, domain=domain)


def _compiled(locale: str, domain: str) -> NullTranslations:
    buf = io.BytesIO()
    write_mo(buf, read_catalog(locale, domain), use_fuzzy=False)
    buf.seek(0)
    return Translations(buf, domain=domain)


@lru_cache(maxsize=32)
def translations(locale: str, domain: str = "server") -> NullTranslations:
    """gettext translations for a shipped locale; regional ones fall back to their language."""
    loc = normalize(locale) or DEFAULT
    out = _compiled(loc, domain)
    if "_" in loc:
        out.add_fallback(_compiled(loc.split("_")[0], domain))
    return out


class Translator:
    """``gettext``/``ngettext`` bound to one locale, with ``str.format`` placeholders filled in."""

    def __init__(self, locale: str | None, domain: str = "server") -> None:
        self.locale = normalize(locale) or DEFAULT
        self._t = translations(self.locale, domain)

    @property
    def language(self) -> str:
        return self.locale.split("_")[0]

    def gettext(self, msgid: str, **values: Any) -> str:
        text = self._t.gettext(msgid)
        return text.format(**values) if values else text

    def ngettext(self, singular: str, plural: str, n: int, **values: Any) -> str:
        return self._t.ngettext(singular, plural, n).format(n=n, **values)


def catalog_json(locale: str) -> dict[str, Any]:
    """The browser's catalogue: msgid -> text, or for plurals msgid -> {CLDR category: text}.

    The browser's Intl.PluralRules picks the category.
    """
    loc = normalize(locale) or DEFAULT
    layers = [read_catalog(loc.split("_")[0], "web")]
    if "_" in loc:
        layers.append(read_catalog(loc, "web"))
    messages: dict[str, Any] = {}
    for cat in layers:
        for m in cat:
            if not m.id or not m.string or m.fuzzy:
                continue
            if isinstance(m.id, tuple):
                forms = list(m.string)
                if all(forms):
                    messages[m.id[0]] = forms_by_category(cat, forms)
            else:
                messages[str(m.id)] = m.string
    return {"locale": loc, "lang": loc.replace("_", "-"), "messages": messages}


# a number in each CLDR plural category for Spanish and English (and the other European languages)
CATEGORY_SAMPLES = (("zero", 0), ("one", 1), ("two", 2), ("few", 3), ("many", 1_000_000), ("other", 5))


def forms_by_category(cat: Catalog, forms: list[str]) -> dict[str, str]:
    """gettext plural forms keyed by CLDR category, found by running the catalogue's own Plural-Forms
    expression on a sample number of each category (Spanish has three forms: one, many, other)."""
    choose = gettext.c2py(cat.plural_expr)
    return {name: forms[min(choose(n), len(forms) - 1)] for name, n in CATEGORY_SAMPLES}


def write_catalog(catalog: Catalog, locale: str, domain: str) -> Path:
    path = po_path(locale, domain)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as f:
        write_po(f, catalog, width=100, sort_output=True, omit_header=False, include_lineno=False)
    translations.cache_clear()
    return path


# ------------------------------------------------------------------ extraction

PACKAGE = Path(__file__).parent
METHODS = {
    "web": [("web/static/**.js", "javascript")],
    "server": [("**.py", "python")],
}


def extract_template(domain: str) -> Catalog:
    """Every msgid the code of a domain uses, with where it is used (Babel's JS and Python extractors)."""
    from babel.messages.extract import extract_from_dir

    keywords = JS_KEYWORDS if domain == "web" else PY_KEYWORDS
    template = Catalog(domain=domain, project="Oversight", msgid_bugs_address="")
    options = {pattern: {"parse_template_string": "true"} for pattern, _ in METHODS["web"]}
    for filename, lineno, message, comments, _ctx in extract_from_dir(
        str(PACKAGE), METHODS[domain], options_map=options, keywords=keywords, strip_comment_tags=True
    ):
        if filename.endswith("i18n.py"):
            continue
        template.add(message, None, [(filename, lineno)], auto_comments=comments)
    return template


def merge(template: Catalog, locale: str, domain: str) -> Catalog:
    """The locale's catalogue updated to the template: new msgids untranslated, gone ones dropped.

    English (the source) translates each msgid to itself; regional catalogues keep only their
    differences from the language's catalogue.
    """
    cat = read_catalog(locale, domain)
    created = cat.creation_date  # kept, so a re-extraction changes only what changed
    cat.update(copy.deepcopy(template), no_fuzzy_matching=True)  # update() adopts the template's messages
    cat.creation_date = created
    cat.obsolete.clear()
    cat.project, cat.version, cat.fuzzy = "Oversight", "", False
    cat.copyright_holder, cat.msgid_bugs_address, cat.last_translator = "Oversight contributors", "", ""
    cat.language_team = ""
    if locale == DEFAULT:
        for m in cat:
            if m.id:
                m.string = tuple(m.id) if isinstance(m.id, tuple) else m.id
    if "_" in locale:
        for m in list(cat):
            if m.id and not any(_forms(m)):
                cat.delete(m.id)
    return cat


def _forms(m: Any) -> list[str]:
    if isinstance(m.string, tuple | list):
        return [str(x or "") for x in m.string] or [""]
    return [m.string or ""]


def untranslated(cat: Catalog) -> list[str]:
    """msgids with an empty (or fuzzy) translation."""
    out = []
    for m in cat:
        if not m.id:
            continue
        if m.fuzzy or not all(_forms(m)):
            out.append(m.id[0] if isinstance(m.id, tuple) else str(m.id))
    return out


def extract() -> dict[str, list[str]]:
    """Re-extract every domain and update every shipped catalogue; returns what still lacks a translation."""
    missing: dict[str, list[str]] = {}
    for domain in DOMAINS:
        template = extract_template(domain)
        for locale in LOCALES:
            cat = merge(template, locale, domain)
            write_catalog(cat, locale, domain)
            if "_" not in locale:
                missing[f"{locale}/{domain}"] = untranslated(cat)
    return missing


# ------------------------------------------------------------------ the language of the work at hand

_active: ContextVar[Translator | None] = ContextVar("oversight_translator", default=None)


@contextmanager
def use(locale: str | None, domain: str = "server") -> Iterator[Translator]:
    """Within the block, ``_()`` and ``ngettext()`` answer in ``locale`` (per thread and task)."""
    tr = Translator(locale, domain)
    token = _active.set(tr)
    try:
        yield tr
    finally:
        _active.reset(token)


def activate(locale: str | None) -> Translator:
    """The language of everything this thread does from now on (the command line's, from $LANG)."""
    tr = Translator(locale)
    _active.set(tr)
    return tr


def current() -> Translator:
    return _active.get() or Translator(DEFAULT)


def _(msgid: str, **values: Any) -> str:
    """Translate into the language of the ``use()`` block (English outside one)."""
    return current().gettext(msgid, **values)


def ngettext(singular: str, plural: str, n: int, **values: Any) -> str:
    return current().ngettext(singular, plural, n, **values)


def format_datetime(dt: datetime, tz: str = "UTC", time: bool = True) -> str:
    """A moment in the site's time zone, written the way the current language writes dates
    ("30 nov 2026 07:05"); hours always 00-23, as a monitoring centre reads them."""
    from babel.dates import format_skeleton, format_time, get_timezone

    zone, loc = get_timezone(tz), current().locale
    day = format_skeleton("yMMMd", dt, tzinfo=zone, locale=loc)
    return f"{day} {format_time(dt, 'HH:mm', tzinfo=zone, locale=loc)}" if time else day


def format_decimal(number: float, digits: int = 0) -> str:
    from babel.numbers import format_decimal as fmt

    return fmt(
        round(number, digits), format=f"#,##0.{'0' * digits}" if digits else "#,##0", locale=current().locale
    )
