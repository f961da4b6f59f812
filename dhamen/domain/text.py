"""Small text helpers shared by the domain modules."""

from __future__ import annotations

import functools
import unicodedata
from datetime import date


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
