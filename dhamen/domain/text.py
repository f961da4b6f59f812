"""Small text helpers shared by the domain modules."""

from __future__ import annotations

import functools
import unicodedata
from datetime import date
from zoneinfo import ZoneInfo

# The calendar of the users (dates and times shown, "today", the day roll-ups): Tunisia's.
# Timestamps are stored in UTC.
TUNIS = ZoneInfo("Africa/Tunis")


@functools.lru_cache(maxsize=4096)  # categories and catalogue labels: a small, recurring vocabulary
def fold(text: str) -> str:
    """Return ``text`` lower-cased with accents removed, for comparisons.

    >>> fold("Éducation Thérapeutique")
    'education therapeutique'
    """
    decomposed = unicodedata.normalize("NFKD", text)
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return stripped.casefold()


def normalize_code(code: str) -> str:
    """Canonical form of an act/drug code: surrounding spaces removed, upper case."""
    return code.strip().upper()


def format_date(day: date) -> str:
    """French short date, as printed at the counter: ``12/03/2026``."""
    return f"{day.day:02d}/{day.month:02d}/{day.year:04d}"


def parse_date(raw: str) -> date:
    """A date as a person or a form gives it: ``12/03/2026`` (also with ``-`` or ``.``), or
    ``2026-03-12`` (what a date field sends).  ``ValueError`` otherwise."""
    value = raw.strip()
    parts = value.replace("-", "/").replace(".", "/").split("/")
    if len(parts) == 3 and len(parts[0]) <= 2 and len(parts[2]) == 4 and all(p.isdigit() for p in parts):
        return date(int(parts[2]), int(parts[1]), int(parts[0]))
    return date.fromisoformat(value)
