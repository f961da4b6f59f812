"""Rules that read the member's other claims, both ways from the care date.

A claim may be entered after claims dated later than its own care date
(back-dating, claims typed newest first): every rule here looks at the
member's other claims dated before *and* after the care date, so that the
order in which claims arrive does not decide what is paid. The caller
passes the member's claims of every contract and every provider (not the
rejected ones; lines paid 0 of approved claims left out) dated within
:func:`history_days` either side of the care date, as
:class:`~.fraud.RecentClaim`.

Refill too soon (``REFILL_TOO_SOON``, pharmacy)
    A catalogue drug has a days' supply per pack
    (:attr:`~.catalogue.CatalogueItem.days_supply`). A dispensing of ``n``
    packs on day ``d0`` lasts ``n * days_supply`` days; the next dispensing
    of that drug for the member (any pharmacy, any of the member's
    contracts) is payable from ``d0 + ceil(supply * threshold / 100)``
    (``refill_threshold``, 75 % by default, in the insurer's settings).
    Earlier, the line is held: covered 0, with the date it becomes payable.
    A claim back-dated *before* an existing dispensing is held the same way
    when its own supply would not be ~75 % used by that dispensing. The
    counter may give an override reason (:data:`OVERRIDE_REASONS`): the
    claim then waits for the insurer's review with that reason
    (``REFILL_OVERRIDE``) instead of the line being refused.

Quantity limits (``QUANTITY_LIMIT``)
    * per claim: the catalogue's ``max_per_claim`` (every consultation act
      and every analysis: once per claim);
    * per day: the catalogue's ``max_per_day`` (a consultation or a visit:
      once a day for the member), the member's other claims of that day
      counted;
    * per period: the insurer's ``quantity_limits`` (``{"PH0029":
      {"quantity": 6, "days": 30}}``): at most ``quantity`` units of the
      code within ``days - 1`` days either side of the care date. A code
      the insurer lists this way follows the insurer's limit instead of the
      catalogue's (``{"K5": {"quantity": 2, "days": 1}}``: two a day).
    Units beyond the limit are not paid (the line is paid for the allowed
    units).

Double coverage (``DOUBLE_COVERAGE``)
    The same care (same care type, a common code) already billed for the
    member under *another* contract within the duplicate window
    (``fraud.duplicate_window_days``) either side of the care date: the
    claim waits for the insurer's review, whichever insurer comes second.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from types import MappingProxyType

from .catalogue import find
from .coverage import Allowance, ItemInput
from .fraud import FREQUENCY_WINDOW_DAYS, RecentClaim
from .text import format_date, normalize_code

__all__ = [
    "OVERRIDE_REASONS",
    "REFILL_LOOKBACK_DAYS",
    "QuantityLimit",
    "allowed_quantities",
    "double_coverage",
    "history_days",
    "refill_holds",
]

#: How far, either side of the care date, the refill rule looks for an earlier dispensing.
REFILL_LOOKBACK_DAYS = 120

#: Early-refill override reasons the counter may give: code -> French label.
OVERRIDE_REASONS: Mapping[str, str] = MappingProxyType(
    {
        "travel": "voyage",
        "loss_or_theft": "perte ou vol",
        "dosage_change": "changement de posologie",
        "emergency": "urgence",
    }
)


@dataclass(frozen=True, slots=True)
class QuantityLimit:
    """At most ``quantity`` units of a code within ``days - 1`` days either side of the care date."""

    quantity: int
    days: int


def history_days(
    care_type: str, duplicate_window_days: int, quantity_limits: Mapping[str, QuantityLimit]
) -> int:
    """How many days either side of the care date the caller must read the
    member's claims for: the frequency window, the duplicate window, the
    insurer's per-period limits and, for pharmacy, the refill look-back."""
    days = max(
        FREQUENCY_WINDOW_DAYS,
        duplicate_window_days,
        max((limit.days for limit in quantity_limits.values()), default=0),
    )
    if care_type == "pharmacy":
        days = max(days, REFILL_LOOKBACK_DAYS)
    return days


def _quantities(claim: RecentClaim) -> dict[str, int]:
    """Units per code of another claim (1 per code when the quantities are unknown)."""
    out: dict[str, int] = {}
    quantities = claim.quantities if len(claim.quantities) == len(claim.codes) else (1,) * len(claim.codes)
    for code, quantity in zip(claim.codes, quantities, strict=True):
        key = normalize_code(code)
        out[key] = out.get(key, 0) + quantity
    return out


def _claim_quantities(items: Sequence[ItemInput]) -> dict[str, int]:
    out: dict[str, int] = {}
    for item in items:
        code = normalize_code(item.code)
        out[code] = out.get(code, 0) + item.quantity
    return out


def _times(count: int) -> str:
    return "une fois" if count == 1 else f"{count} fois"


def allowed_quantities(
    care_type: str,
    care_date: date,
    items: Sequence[ItemInput],
    recent: Sequence[RecentClaim],
    quantity_limits: Mapping[str, QuantityLimit],
) -> dict[str, Allowance]:
    """Units of each limited code still allowed in this claim (see the module docstring)."""
    allowance: dict[str, Allowance] = {}

    def tighten(code: str, left: int, why: str) -> None:
        left = max(0, left)
        if code not in allowance or left < allowance[code].quantity:
            allowance[code] = Allowance(left, why)

    others = [(claim, _quantities(claim)) for claim in recent if claim.care_type == care_type]
    for code in _claim_quantities(items):
        limit = quantity_limits.get(code)
        reference = find(care_type, code) if limit is None else None  # the insurer's limit replaces the catalogue's
        if reference is not None and reference.max_per_claim is not None:
            tighten(code, reference.max_per_claim, f"{_times(reference.max_per_claim)} par demande")
        if reference is not None and reference.max_per_day is not None:
            used = sum(units.get(code, 0) for claim, units in others if claim.care_date == care_date)
            why = f"{_times(reference.max_per_day)} par jour"
            if used:
                why += f", déjà facturé {_times(used)} le {format_date(care_date)}"
            tighten(code, reference.max_per_day - used, why)
        if limit is not None:
            span = timedelta(days=limit.days - 1)
            used = sum(
                units.get(code, 0) for claim, units in others if abs(claim.care_date - care_date) <= span
            )
            period = "par jour" if limit.days == 1 else f"par période de {limit.days} jours"
            why = f"{limit.quantity} {period} selon l'assureur"
            if used:
                why += f", {used} déjà facturé{'s' if used > 1 else ''} sur la période"
            tighten(code, limit.quantity - used, why)
    return allowance


def _ceil_ratio(days: int, percent: int) -> int:
    return -(-days * percent // 100)


def refill_holds(
    care_date: date,
    items: Sequence[ItemInput],
    recent: Sequence[RecentClaim],
    threshold_percent: int,
) -> dict[str, str]:
    """Drugs of the claim dispensed too recently: code -> French reason (see the module docstring)."""
    holds: dict[str, str] = {}
    mine = _claim_quantities(items)
    others = [(claim, _quantities(claim)) for claim in recent if claim.care_type == "pharmacy"]
    for code, quantity in sorted(mine.items()):
        reference = find("pharmacy", code)
        if reference is None or reference.days_supply is None:
            continue
        payable_from: date | None = None
        last: tuple[date, int] | None = None
        overlaps_later: date | None = None
        for claim, units in others:
            packs = units.get(code)
            if not packs:
                continue
            if claim.care_date <= care_date:
                supply = packs * reference.days_supply
                payable = claim.care_date + timedelta(days=_ceil_ratio(supply, threshold_percent))
                if care_date < payable and (payable_from is None or payable > payable_from):
                    payable_from, last = payable, (claim.care_date, supply)
            else:
                supply = quantity * reference.days_supply
                gap = (claim.care_date - care_date).days
                if gap < _ceil_ratio(supply, threshold_percent) and (
                    overlaps_later is None or claim.care_date < overlaps_later
                ):
                    overlaps_later = claim.care_date
        if last is not None and payable_from is not None:
            holds[code] = (
                f"renouvellement anticipé : délivré le {format_date(last[0])} pour {last[1]} jours,"
                f" pris en charge à partir du {format_date(payable_from)}"
            )
        elif overlaps_later is not None:
            holds[code] = (
                f"renouvellement anticipé : déjà délivré le {format_date(overlaps_later)},"
                f" avant la fin de ce traitement ({quantity * reference.days_supply} jours)"
            )
    return holds


def double_coverage(
    care_type: str,
    care_date: date,
    items: Sequence[ItemInput],
    recent: Sequence[RecentClaim],
    contract_id: str,
    window_days: int,
) -> str | None:
    """French reason when the same care is billed under another contract of the member, else ``None``."""
    codes = set(_claim_quantities(items))
    found: list[tuple[date, str]] = []
    for claim in recent:
        if claim.contract_id is None or claim.contract_id == contract_id or claim.care_type != care_type:
            continue
        if abs((claim.care_date - care_date).days) > window_days:
            continue
        common = sorted(codes.intersection(normalize_code(code) for code in claim.codes))
        if common:
            found.append((claim.care_date, ", ".join(common)))
    if not found:
        return None
    day, common = min(found)
    return (
        f"Soins déjà facturés sur un autre contrat de l'adhérent ({common} le {format_date(day)}) :"
        " l'assureur vérifie la part qui lui revient"
    )
