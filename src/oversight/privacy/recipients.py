"""Who received an evidence export: a fixed, published list of categories.

Why a closed list: the public portal and the transparency report count exports by recipient, and a
count is only honest over categories everyone reads the same way. The free-text recipient reference
(a case number, an authority's name) stays inside the record and the signed manifest for auditors;
it never reaches a public page. Exports made before categories existed read ``not_recorded``.
"""

from __future__ import annotations

from enum import StrEnum

from oversight.i18n import N_


class Recipient(StrEnum):
    """The categories an exporter picks from (web, API, CLI); a subject access request's answer is
    always ``data_subject``."""

    court = "court"
    prosecutor = "prosecutor"
    police = "police"
    defence = "defence"
    data_subject = "data_subject"
    public_body = "public_body"
    internal = "internal"


NOT_RECORDED = "not_recorded"  # exports made before migration 0013_recipients
CATEGORIES: tuple[str, ...] = tuple(r.value for r in Recipient)
COUNTED: tuple[str, ...] = (*CATEGORIES, NOT_RECORDED)  # the columns of every published count

LABELS: dict[str, str] = {
    "court": N_("Court or judge"),
    "prosecutor": N_("Prosecutor"),
    "police": N_("Police"),
    "defence": N_("Defence"),
    "data_subject": N_("The person filmed (access request)"),
    "public_body": N_("Other public body"),
    "internal": N_("Internal use"),
    NOT_RECORDED: N_("Not recorded (before categories)"),
}


def checked(value: str) -> str:
    """The category ``value`` names; ValueError naming the list otherwise."""
    if value not in CATEGORIES:
        raise ValueError(f"recipient must be one of: {', '.join(CATEGORIES)}")
    return value
