"""Money and rates, with integers only.

* An amount is an ``int`` number of **millimes** (1 TND = 1000 millimes).
  No float ever holds an amount.
* A rate is an ``int`` number of **basis points**: 10000 = 100 %, 8000 = 80 %,
  7250 = 72,5 %. :func:`apply_rate` floors, exactly, with integers.

Display follows French usage: three decimals after a comma, thousands
grouped with a narrow no-break space (U+202F), then `` TND``
(``1 234,567 TND``). Percentages print as ``80 %`` / ``72,5 %`` (with a
plain space, as in the rest of the UI texts).
"""

from __future__ import annotations

import math
import re
from decimal import Decimal, InvalidOperation

from .errors import MoneyError

__all__ = [
    "FULL_RATE_BP",
    "MAX_PARSED_AMOUNT",
    "MILLIMES_PER_TND",
    "MoneyError",
    "apply_rate",
    "format_hundredths",
    "format_tnd",
    "parse_hundredths",
    "parse_tnd",
    "percent_label",
    "rate_from_percent",
]

MILLIMES_PER_TND = 1000
FULL_RATE_BP = 10_000
#: Largest amount :func:`parse_tnd` accepts, in millimes (one billion TND).
MAX_PARSED_AMOUNT = 10**12

THOUSANDS_SEPARATOR = "\u202f"
_GROUP_SEPARATORS = " \u00a0\u202f"

_AMOUNT_RE = re.compile(r"^(?P<int>\d{1,3}(?:[ \u00a0\u202f]\d{3})+|\d+)(?:[.,](?P<dec>\d{1,3}))?$")
_TOO_MANY_DECIMALS_RE = re.compile(r"[.,]\d{4,}$")
_UNIT_SUFFIX_RE = re.compile(r"\s*(?:TND|DT)$", re.IGNORECASE)
_HUNDREDTHS_RE = re.compile(r"^(?P<int>\d+)(?:[.,](?P<dec>\d{1,2}))?$")


def _require_int(value: object, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{what} doit être un entier (reçu {type(value).__name__})")
    return value


def group_digits(n: int) -> str:
    """An integer with its thousands separated the French way (narrow no-break space).

    >>> group_digits(1234567) == "1\u202f234\u202f567"
    True
    """
    return f"{n:,}".replace(",", THOUSANDS_SEPARATOR)


def format_tnd(millimes: int, *, with_unit: bool = True) -> str:
    """Format an amount in millimes the French way.

    >>> format_tnd(12345)
    '12,345 TND'
    >>> format_tnd(1234567) == "1\\u202f234,567 TND"
    True
    >>> format_tnd(-500)
    '-0,500 TND'
    >>> format_tnd(500, with_unit=False)
    '0,500'
    """
    _require_int(millimes, "Le montant")
    sign = "-" if millimes < 0 else ""
    dinars, rest = divmod(abs(millimes), MILLIMES_PER_TND)
    text = f"{sign}{group_digits(dinars)},{rest:03d}"
    return f"{text} TND" if with_unit else text


def parse_tnd(text: str) -> int:
    """Read an amount typed in TND and return millimes.

    Accepted: ``"12,345"``, ``"12.345"``, ``"12"``, ``"1 234,5"``,
    ``" 0,5 "``, and what :func:`format_tnd` prints (an optional ``TND`` or
    ``DT`` suffix; spaces, no-break spaces or narrow no-break spaces between
    groups of three digits). The comma and the dot are both decimal
    separators (at most 3 decimals).

    Raises :class:`MoneyError` (French message) for an empty text, a negative
    amount, letters, more than 3 decimals or more than
    :data:`MAX_PARSED_AMOUNT` millimes.
    """
    if not isinstance(text, str):
        raise TypeError("parse_tnd attend une chaîne de caractères")
    cleaned = _UNIT_SUFFIX_RE.sub("", text.strip()).strip()
    if not cleaned:
        raise MoneyError("Montant manquant : saisissez un montant, par exemple 12,345.")
    if cleaned.startswith("-"):
        raise MoneyError("Le montant ne peut pas être négatif.")
    match = _AMOUNT_RE.match(cleaned)
    if match is None:
        if _TOO_MANY_DECIMALS_RE.search(cleaned):
            raise MoneyError(f"Montant « {text.strip()} » : 3 décimales au maximum (le millime).")
        raise MoneyError(f"Montant invalide : « {text.strip()} ». Exemple de saisie : 12,345.")
    dinars = int(re.sub(f"[{_GROUP_SEPARATORS}]", "", match["int"]))
    decimals = (match["dec"] or "").ljust(3, "0")
    millimes = dinars * MILLIMES_PER_TND + int(decimals)
    if millimes > MAX_PARSED_AMOUNT:
        raise MoneyError(f"Montant « {text.strip()} » trop élevé.")
    return millimes


def parse_hundredths(value: int | str | Decimal | float, what: str = "La valeur") -> int:
    """Return ``value * 100`` as an exact ``int`` (at most 2 decimals).

    Accepts an ``int``, a ``Decimal``, a string (``"72.5"``, ``"72,5"``,
    optional trailing ``%``) or a ``float`` whose shortest decimal
    representation (``repr``) has at most 2 decimals (so ``72.5`` and
    ``72.1`` are accepted, ``72.125`` is not). Negative values, NaN,
    infinities and booleans are refused. ``what`` names the value in the
    French error message.
    """
    if isinstance(value, bool):
        raise MoneyError(f"{what} doit être un nombre.")
    if isinstance(value, int):
        number = Decimal(value)
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise MoneyError(f"{what} doit être un nombre fini.")
        number = Decimal(repr(value))
    elif isinstance(value, Decimal):
        if not value.is_finite():
            raise MoneyError(f"{what} doit être un nombre fini.")
        number = value
    elif isinstance(value, str):
        cleaned = value.strip().removesuffix("%").strip()
        if cleaned.startswith("-"):
            raise MoneyError(f"{what} : une valeur négative n'est pas acceptée.")
        match = _HUNDREDTHS_RE.match(cleaned)
        if match is None:
            raise MoneyError(
                f"{what} « {value.strip()} » est invalide : un nombre avec au plus"
                " 2 décimales est attendu (par exemple 72,5)."
            )
        try:
            number = Decimal(f"{match['int']}.{match['dec'] or '0'}")
        except InvalidOperation as exc:  # pragma: no cover - regex guarantees digits
            raise MoneyError(f"{what} est invalide.") from exc
    else:
        raise MoneyError(f"{what} doit être un nombre.")
    if number < 0:
        raise MoneyError(f"{what} : une valeur négative n'est pas acceptée.")
    scaled = number * 100
    if scaled != scaled.to_integral_value():
        raise MoneyError(f"{what} : 2 décimales au maximum.")
    return int(scaled)


def rate_from_percent(value: int | str | Decimal | float) -> int:
    """Convert a percentage (0 to 100, at most 2 decimals) to basis points.

    >>> rate_from_percent(80)
    8000
    >>> rate_from_percent("72.5")
    7250
    >>> rate_from_percent("72,5 %")
    7250

    Floats are accepted under the rule of :func:`parse_hundredths`. Raises
    :class:`MoneyError` for anything below 0, above 100, or unreadable.
    """
    rate_bp = parse_hundredths(value, "Le taux")
    if rate_bp > FULL_RATE_BP:
        raise MoneyError("Le taux doit être compris entre 0 et 100 %.")
    return rate_bp


def apply_rate(amount: int, rate_bp: int) -> int:
    """``floor(amount * rate_bp / 10000)``, computed exactly with integers.

    >>> apply_rate(12345, 8000)
    9876
    >>> apply_rate(-5, 5000)
    -3
    """
    _require_int(amount, "Le montant")
    _require_int(rate_bp, "Le taux")
    if not 0 <= rate_bp <= FULL_RATE_BP:
        raise MoneyError("Le taux doit être compris entre 0 et 100 %.")
    return (amount * rate_bp) // FULL_RATE_BP


def format_hundredths(value: int) -> str:
    """French form of ``value / 100`` without useless zeros.

    >>> format_hundredths(300), format_hundredths(250), format_hundredths(-5)
    ('3', '2,5', '-0,05')
    """
    _require_int(value, "La valeur")
    sign = "-" if value < 0 else ""
    whole, hundredths = divmod(abs(value), 100)
    if hundredths == 0:
        return f"{sign}{whole}"
    return f"{sign}{whole},{f'{hundredths:02d}'.rstrip('0')}"


def percent_label(rate_bp: int) -> str:
    """French label of a rate in basis points: ``"80 %"``, ``"72,5 %"``.

    >>> percent_label(8000), percent_label(7250), percent_label(5)
    ('80 %', '72,5 %', '0,05 %')
    """
    _require_int(rate_bp, "Le taux")
    return f"{format_hundredths(rate_bp)} %"
