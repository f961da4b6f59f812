"""Short claim references that a person can read over the phone: ``PH-26-4K7Q-9MXC``.

Layout: care-type prefix (``PH`` pharmacie, ``CO`` consultation, ``LA`` laboratoire,
``HO`` hospitalisation), the year of entry on two digits, then 7 random symbols and
one check symbol, grouped by four.  Symbols are Crockford's base 32 (digits and
capitals without I, L, O, U): reading them aloud is unambiguous, and a typed ``O``,
``I`` or ``L`` is read as ``0``, ``1``, ``1``.

The check symbol is Luhn mod 32 over the prefix (as one symbol), year and random symbols: every single
wrong symbol and every swap of two neighbouring symbols (but 0 and Z) is caught before any lookup.
32**7 (34 billion) random values per care type and year: the database's unique index
has the last word, and a submission draws again in the rare case of a collision.

The ULID stays the claim's id; the reference is a second, unique key.
"""

from __future__ import annotations

import re
import secrets
from datetime import date

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_VALUE = {c: i for i, c in enumerate(ALPHABET)}
_READ_AS = str.maketrans({"O": "0", "I": "1", "L": "1"})
PREFIXES = {"pharmacy": "PH", "consultation": "CO", "lab": "LA", "hospitalization": "HO"}
# The prefix counts in the check symbol as one symbol of the alphabet (its letters are not all in it).
_PREFIX_SYMBOL = {prefix: ALPHABET[n] for n, prefix in enumerate(PREFIXES.values(), start=1)}
RANDOM_SYMBOLS = 7
LENGTH = 15  # PH-26-4K7Q-9MXC
_SHAPE = re.compile(r"^(PH|CO|LA|HO)(\d{2})([0-9A-HJKMNP-TV-Z]{8})$")
# Characters a person may type around a reference: spaces, dashes, dots, slashes.
_SEPARATORS = re.compile(r"[\s\-./_]+")


def check_symbol(prefix: str, payload: str) -> str:
    """Luhn mod 32 check symbol of a prefix and ``payload`` (symbols of :data:`ALPHABET`)."""
    payload = _PREFIX_SYMBOL[prefix] + payload
    total, factor = 0, 2
    for char in reversed(payload):
        addend = factor * _VALUE[char]
        total += addend // 32 + addend % 32
        factor = 1 if factor == 2 else 2
    return ALPHABET[(32 - total % 32) % 32]


def _format(prefix: str, year: str, body: str) -> str:
    return f"{prefix}-{year}-{body[:4]}-{body[4:]}"


SPACE = 1 << (5 * RANDOM_SYMBOLS)  # values of the random part
# An odd multiplier: ``n * SPREAD mod SPACE`` is a bijection, so consecutive numbers give
# distinct references that do not look consecutive (the volume seed numbers its claims).
SPREAD = 0x5DEECE66D


def new_reference(care_type: str, on: date, value: int | None = None) -> str:
    """A reference for a claim of ``care_type`` entered on ``on``: random, or made of
    ``value`` (taken modulo :data:`SPACE`) when given."""
    prefix, year = PREFIXES[care_type], f"{on.year % 100:02d}"
    value = secrets.randbits(5 * RANDOM_SYMBOLS) if value is None else value % SPACE
    symbols = "".join(ALPHABET[(value >> (5 * i)) & 31] for i in range(RANDOM_SYMBOLS))
    return _format(prefix, year, symbols + check_symbol(prefix, year + symbols))


def normalise(text: str | None) -> str | None:
    """The canonical form (``PH-26-4K7Q-9MXC``) of a reference as typed (any case, with or
    without separators, O/I/L for 0/1), or ``None`` when it is not one or its check symbol
    is wrong."""
    if not isinstance(text, str) or len(text) > 40:
        return None
    compact = _SEPARATORS.sub("", text.strip().upper())
    if len(compact) != 12:
        return None
    compact = compact[:2] + compact[2:].translate(_READ_AS)
    match = _SHAPE.match(compact)
    if match is None:
        return None
    prefix, year, body = match.groups()
    if check_symbol(prefix, year + body[:-1]) != body[-1]:
        return None
    return _format(prefix, year, body)


def looks_like(text: str | None) -> bool:
    """Typed like a reference (prefix, year and 8 symbols), whatever its check symbol: to
    tell "wrong reference" from "not a reference" in messages."""
    if not isinstance(text, str):
        return False
    compact = _SEPARATORS.sub("", text.strip().upper())
    return len(compact) == 12 and compact[:2] in PREFIXES.values() and compact[2:4].isdigit()
