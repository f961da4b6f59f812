"""Contract eligibility at a care date, modelled on FHIR
``CoverageEligibilityResponse`` (``inforce``, ``benefitPeriod``, benefits
allowed / used).

``coverage_json`` (contract) format::

    {
      "pharmacy":        {"rate": 80, "generic_rate": 90},
      "consultation":    {"rate": 70},
      "lab":             {"rate": "72.5"},
      "hospitalization": {"rate": 90, "room_day_cap": 120000}
    }

* keys are care types (:data:`~.catalogue.CARE_TYPES`); a care type absent
  from the object is **not covered**;
* ``rate`` (required) and ``generic_rate`` (optional, used for lines marked
  generic) are percentages from 0 to 100 with at most 2 decimals, as a JSON
  number or a string (``"72,5"`` too);
* ``room_day_cap`` (optional) is the maximum unit price, in millimes, of a
  room day (catalogue category ``"chambre"``, e.g. ``CH-J``);
* any other key is an error (a typo must not silently change coverage).

``exclusions_json`` (contract) is a list of strings, matched ignoring case
(and accents for categories):

* ``"PH0057"``: that exact code;
* ``"KC*"``: every code starting with ``KC``;
* ``"cat:cosmetique"``: every item of that category (the category given on
  the line, or the catalogue's category for that code).

``annual_limit`` is an ``int`` number of millimes, or ``None`` (no limit). It
applies per contract year (:func:`contract_year`) to the covered amounts of
the claims not rejected nor blocked (``used_this_year``, computed by the
caller).

Rules of :func:`check`, in this order (the first failing one decides):
status ``active``; ``start_date <= on <= end_date``; waiting period over
(care allowed from ``start_date + carence_days``, so the last day of the
waiting period, ``carence_until``, is ``start_date + carence_days - 1``);
care type covered; annual limit not used up (``remaining > 0``; a contract
whose limit is exhausted is reported not in force for new claims so the
counter reads "Plafond annuel atteint").
"""

from __future__ import annotations

import calendar
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from . import reasons
from .catalogue import CARE_TYPE_LABELS, CARE_TYPES
from .errors import ConfigError, MoneyError, refuse_unknown_keys
from .jsonready import fields_dict
from .money import format_tnd, percent_label, rate_from_percent
from .text import fold, format_date, normalize_code

__all__ = [
    "CONTRACT_STATUSES",
    "Benefit",
    "ContractTerms",
    "Eligibility",
    "check",
    "contract_year",
    "is_excluded",
    "matching_exclusion",
    "parse_coverage",
    "parse_exclusions",
]

CONTRACT_STATUSES: tuple[str, ...] = ("active", "suspended", "expired", "cancelled")

_INACTIVE_MESSAGES = {
    "suspended": "Contrat suspendu",
    "cancelled": "Contrat résilié",
    "expired": "Contrat expiré",
}

_COVERAGE_KEYS = ("rate", "generic_rate", "room_day_cap")
_CATEGORY_PREFIX = "cat:"


@dataclass(frozen=True, slots=True)
class ContractTerms:
    """What the engine needs of a contract (``contracts`` row, JSON decoded).

    ``coverage`` is the decoded ``coverage_json``; ``exclusions`` the decoded
    ``exclusions_json``. Both are checked when used (:func:`parse_coverage`,
    :func:`parse_exclusions`).
    """

    id: str
    status: str
    start_date: date
    end_date: date
    carence_days: int = 0
    annual_limit: int | None = None
    coverage: Mapping[str, Any] = field(default_factory=dict)
    exclusions: Sequence[str] = ()

    def __post_init__(self) -> None:
        for name in ("start_date", "end_date"):
            value = getattr(self, name)
            if isinstance(value, datetime) or not isinstance(value, date):
                raise ConfigError(f"Contrat {self.id} : {name} doit être une date.")
        if self.end_date < self.start_date:
            raise ConfigError(f"Contrat {self.id} : la date de fin précède la date de début.")
        if (
            isinstance(self.carence_days, bool)
            or not isinstance(self.carence_days, int)
            or self.carence_days < 0
        ):
            raise ConfigError(
                f"Contrat {self.id} : le délai de carence doit être un nombre de jours positif ou nul."
            )
        limit = self.annual_limit
        if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 0):
            raise ConfigError(
                f"Contrat {self.id} : le plafond annuel doit être un montant en millimes positif ou nul."
            )


@dataclass(frozen=True, slots=True)
class Benefit:
    """Coverage of one care type by a contract (rates in basis points)."""

    care_type: str
    label: str
    covered: bool
    rate_bp: int | None = None
    generic_rate_bp: int | None = None
    room_day_cap: int | None = None

    as_dict = fields_dict  # JSON-ready form


@dataclass(frozen=True, slots=True)
class Eligibility:
    """Answer of :func:`check`.

    ``inforce`` is true when a claim of ``care_type`` on ``on`` can be
    covered; ``reason_code`` (:mod:`.reasons`) and ``message`` (French, for
    the counter) say why or why not. ``remaining`` is what the annual limit
    still allows (``None`` = no limit). ``benefits`` lists every care type.
    """

    inforce: bool
    reason_code: str
    message: str
    care_type: str
    on: date
    carence_until: date | None
    benefit_period: tuple[date, date] | None
    annual_limit: int | None
    used: int
    remaining: int | None
    care_type_rate_bp: int | None
    generic_rate_bp: int | None
    benefits: Mapping[str, Benefit]

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form (dates in ISO format, the benefit period as ``{"start", "end"}``)."""
        period = self.benefit_period
        return {**fields_dict(self), "benefit_period": (
            {"start": period[0].isoformat(), "end": period[1].isoformat()} if period else None)}


def config_rate(where: str, value: object, wrong_type: str = "un pourcentage est attendu") -> int:
    """A rate (basis points) from a configured percentage; :class:`ConfigError` « {where} : … »."""
    if not isinstance(value, int | float | str):
        raise ConfigError(f"{where} : {wrong_type}.")
    try:
        return rate_from_percent(value)
    except MoneyError as exc:
        raise ConfigError(f"{where} : {exc}") from None


def _coverage_rate(care_label: str, key: str, value: object) -> int:
    return config_rate(f"Couverture {care_label}", value, f"« {key} » doit être un pourcentage")


def parse_coverage(coverage: Mapping[str, Any]) -> dict[str, Benefit]:
    """Check ``coverage_json`` and return a :class:`Benefit` per care type.

    Every care type of :data:`~.catalogue.CARE_TYPES` is in the result;
    those absent from ``coverage`` have ``covered=False``. Raises
    :class:`ConfigError` (French) when the format is not respected.
    """
    if not isinstance(coverage, Mapping):
        raise ConfigError("La couverture doit être un objet JSON par type de soin.")
    unknown = sorted(set(coverage) - set(CARE_TYPES))
    if unknown:
        raise ConfigError(
            "Couverture : type de soin inconnu "
            + ", ".join(f"« {name} »" for name in unknown)
            + f" (attendus : {', '.join(CARE_TYPES)})."
        )
    benefits: dict[str, Benefit] = {}
    for care_type in CARE_TYPES:
        care_label = CARE_TYPE_LABELS[care_type]
        entry = coverage.get(care_type)
        if entry is None:
            benefits[care_type] = Benefit(care_type, care_label, covered=False)
            continue
        if not isinstance(entry, Mapping):
            raise ConfigError(f'Couverture {care_label} : un objet {{"rate": ...}} est attendu.')
        refuse_unknown_keys(f"Couverture {care_label}", entry, _COVERAGE_KEYS)
        if "rate" not in entry:
            raise ConfigError(f"Couverture {care_label} : le taux « rate » est obligatoire.")
        rate_bp = _coverage_rate(care_label, "rate", entry["rate"])
        generic = entry.get("generic_rate")
        generic_bp = None if generic is None else _coverage_rate(care_label, "generic_rate", generic)
        cap = entry.get("room_day_cap")
        if cap is not None and (isinstance(cap, bool) or not isinstance(cap, int) or cap <= 0):
            raise ConfigError(
                f"Couverture {care_label} : « room_day_cap » doit être un montant en millimes"
                " strictement positif."
            )
        benefits[care_type] = Benefit(care_type, care_label, True, rate_bp, generic_bp, cap)
    return benefits


def parse_exclusions(exclusions: Iterable[Any]) -> tuple[str, ...]:
    """Check ``exclusions_json`` (list of strings) and return it as a tuple.

    Raises :class:`ConfigError` for a non-string entry, an empty entry, a
    bare ``"*"`` or an empty ``"cat:"``.
    """
    if isinstance(exclusions, str | bytes) or not isinstance(exclusions, Iterable):
        raise ConfigError("Les exclusions doivent être une liste de codes.")
    checked: list[str] = []
    for position, entry in enumerate(exclusions, start=1):
        if not isinstance(entry, str) or not entry.strip():
            raise ConfigError(f"Exclusion n° {position} : un code non vide est attendu.")
        value = entry.strip()
        if value == "*" or (value.lower().startswith(_CATEGORY_PREFIX) and not value[4:].strip()):
            raise ConfigError(f"Exclusion n° {position} « {value} » : motif vide.")
        checked.append(value)
    return tuple(checked)


def matching_exclusion(exclusions: Iterable[str], code: str, categories: Iterable[str | None]) -> str | None:
    """The first exclusion entry that matches ``code`` or one of ``categories``.

    See the module docstring for the entry syntax. ``None`` if none matches.
    """
    wanted_code = normalize_code(code)
    folded_categories = {fold(category.strip()) for category in categories if category}
    for entry in exclusions:
        value = entry.strip()
        if value.lower().startswith(_CATEGORY_PREFIX):
            if fold(value[len(_CATEGORY_PREFIX) :].strip()) in folded_categories:
                return entry
        elif value.endswith("*"):
            prefix = normalize_code(value[:-1])
            if prefix and wanted_code.startswith(prefix):
                return entry
        elif normalize_code(value) == wanted_code:
            return entry
    return None


def is_excluded(exclusions: Iterable[str], code: str, category: str | None) -> bool:
    """True when an exclusion entry matches the code or the category."""
    return matching_exclusion(exclusions, code, (category,)) is not None


def _anniversary(start: date, years: int) -> date:
    """``start`` moved by whole years; 29 February becomes 28 in common years."""
    year = start.year + years
    day = min(start.day, calendar.monthrange(year, start.month)[1])
    return date(year, start.month, day)


def contract_year(terms: ContractTerms, on: date) -> tuple[date, date]:
    """The contract year containing ``on``: ``(start, end)``, both inclusive.

    Years run from one anniversary of ``start_date`` to the day before the
    next one (a 29 February start has its anniversaries on 28 February in
    common years). When the contract ends before the last year is complete,
    that short last year belongs to the year before it (one annual limit
    for both: a contract from 20/11/2025 to 20/11/2026 has one year, not a
    one-day second year with a fresh limit); a contract shorter than a year
    is one short year. Raises ``ValueError`` when ``on`` is outside
    ``start_date..end_date``.
    """
    if not terms.start_date <= on <= terms.end_date:
        raise ValueError(
            f"Date du {format_date(on)} hors de la période du contrat"
            f" (du {format_date(terms.start_date)} au {format_date(terms.end_date)})."
        )
    years = on.year - terms.start_date.year
    if _anniversary(terms.start_date, years) > on:
        years -= 1
    if years > 0 and _anniversary(terms.start_date, years + 1) > terms.end_date + timedelta(days=1):
        years -= 1  # the short last year is part of the one before
        return _anniversary(terms.start_date, years), terms.end_date
    start = _anniversary(terms.start_date, years)
    end = _anniversary(terms.start_date, years + 1) - timedelta(days=1)
    if _anniversary(terms.start_date, years + 2) > terms.end_date + timedelta(days=1):
        end = terms.end_date  # the next year would be short: it belongs to this one
    return start, min(end, terms.end_date)


def _rates_text(benefit: Benefit) -> str:
    assert benefit.rate_bp is not None
    text = f"{benefit.label} : {percent_label(benefit.rate_bp)}"
    if benefit.generic_rate_bp is not None:
        text += f" (générique {percent_label(benefit.generic_rate_bp)})"
    return text


def check(
    terms: ContractTerms,
    care_type: str,
    on: date,
    used_this_year: int,
    benefits: Mapping[str, Benefit] | None = None,
) -> Eligibility:
    """Is a claim of ``care_type`` on ``on`` covered by the contract?

    ``benefits``: the contract's coverage as it is priced at this provider
    (``coverage.benefits_under``, the convention's rates included), to be
    shown and stated in the message; by default the contract's own.

    ``used_this_year`` is the covered amount (millimes) of the member's claims
    of the contract year of ``on`` that are not rejected nor blocked.
    Raises ``ValueError`` for an unknown care type or a negative
    ``used_this_year``, :class:`ConfigError` for a malformed coverage.
    """
    if care_type not in CARE_TYPES:
        raise ValueError(f"Type de soin inconnu : {care_type!r}")
    if isinstance(used_this_year, bool) or not isinstance(used_this_year, int) or used_this_year < 0:
        raise ValueError("Le montant déjà consommé doit être un entier positif ou nul.")
    benefits = parse_coverage(terms.coverage) if benefits is None else benefits
    benefit = benefits[care_type]
    carence_until = (
        terms.start_date + timedelta(days=terms.carence_days - 1) if terms.carence_days > 0 else None
    )
    in_dates = terms.start_date <= on <= terms.end_date
    period = contract_year(terms, on) if in_dates else None
    limit = terms.annual_limit
    remaining = None if limit is None else max(0, limit - used_this_year)

    if terms.status != "active":
        code = reasons.CONTRACT_INACTIVE
        message = _INACTIVE_MESSAGES.get(terms.status, f"Contrat inactif (statut « {terms.status} »)")
    elif on < terms.start_date:
        code = reasons.CONTRACT_NOT_STARTED
        message = f"Contrat pas encore en vigueur : début le {format_date(terms.start_date)}"
    elif on > terms.end_date:
        code = reasons.CONTRACT_ENDED
        message = f"Contrat arrivé à échéance le {format_date(terms.end_date)}"
    elif carence_until is not None and on <= carence_until:
        code = reasons.CARENCE
        message = f"Période de carence jusqu'au {format_date(carence_until)}"
    elif not benefit.covered:
        code = reasons.NOT_COVERED
        message = f"Type de soin non couvert par le contrat ({benefit.label.lower()})"
    elif remaining == 0:
        assert limit is not None
        code = reasons.LIMIT_REACHED
        message = f"Plafond annuel atteint : {format_tnd(used_this_year)} consommés sur {format_tnd(limit)}"
    else:
        code = reasons.ELIGIBLE
        limit_text = (
            "sans plafond annuel"
            if remaining is None
            else f"reste {format_tnd(remaining)} sur le plafond annuel"
        )
        message = f"Contrat en vigueur. {_rates_text(benefit)}, {limit_text}."

    return Eligibility(
        inforce=code == reasons.ELIGIBLE,
        reason_code=code,
        message=message,
        care_type=care_type,
        on=on,
        carence_until=carence_until,
        benefit_period=period,
        annual_limit=limit,
        used=used_this_year,
        remaining=remaining,
        care_type_rate_bp=benefit.rate_bp,
        generic_rate_bp=benefit.generic_rate_bp,
        benefits=benefits,
    )
