"""Explainable fraud score (0 to 100).

Each rule that fires adds its points and a flag, stored as is in
``claims.fraud_flags_json``::

    {"code": "DUPLICATE", "points": 40, "message": "<texte en français>"}

Rules (in the order flags are listed):

``DUPLICATE`` (40 points)
    The member already has a claim of the same care type with one of the
    same codes, at any provider, under the same contract, within
    ``duplicate_window_days`` days of the care date (before or after; the
    same care under another contract is ``DOUBLE_COVERAGE``, see
    :mod:`.history`).
``HIGH_FREQUENCY`` (25)
    With this one, the member has more than ``max_claims_per_30_days``
    claims (all care types) in some 30-day window containing the care date
    (claims dated before and after count alike).
``UNUSUAL_AMOUNT`` (25)
    The claim total exceeds ``amount_factor`` * ``usual_amount``: the usual
    claim total for this care type at this insurer, the median of the
    totals of its *approved or paid* claims (:func:`usual_amount_of`;
    rejected, blocked or pending claims never move it, and one outlier
    cannot); skipped when unknown or 0.
``HIGH_QUANTITY`` (20)
    The quantity of a code, summed over the claim's lines, exceeds
    ``max_quantity`` for the care type (or its ``"default"``).
``FAR_PROVIDER`` (15)
    The provider is farther than ``distance_km`` from the member (great
    circle distance on lat/lng; skipped when a coordinate is unknown).
``OVERLAPPING_STAY`` (40)
    Hospitalization: the stay (admission to discharge) overlaps another
    stay of the member at any clinic (a discharge on the day of another
    admission is a transfer, not an overlap).

The score is the sum of the points, capped at 100. ``recent_claims`` are the
member's *other* claims (the caller leaves out the claim being scored and
rejected claims).

Insurer ``config_json["fraud"]`` (every key optional; defaults shown)::

    {"review_threshold": 40, "block_threshold": 75,
     "duplicate_window_days": 3, "max_claims_per_30_days": 8,
     "amount_factor": 3,
     "max_quantity": {"pharmacy": 10, "default": 20},
     "distance_km": 150,
     "points": {"DUPLICATE": 40, "HIGH_FREQUENCY": 25, "UNUSUAL_AMOUNT": 25,
                "HIGH_QUANTITY": 20, "FAR_PROVIDER": 15, "OVERLAPPING_STAY": 40}}

``amount_factor`` may have 2 decimals (``2.5``); ``max_quantity`` may be a
single integer for every care type; ``duplicate_window_days`` (0 to 365) is
honoured in full: the caller reads that many days either side; the given ``max_quantity`` and
``points`` entries override the defaults one by one. A claim scoring at or
above ``block_threshold`` is blocked, at or above ``review_threshold`` it
goes to the insurer's review queue (see :mod:`.adjudication`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from types import MappingProxyType
from typing import Any, TypedDict

from . import reasons
from .catalogue import CARE_TYPES
from .coverage import ItemInput
from .errors import ConfigError, MoneyError, refuse_unknown_keys
from .money import format_hundredths, format_tnd, parse_hundredths
from .text import format_date, normalize_code

__all__ = [
    "DEFAULT_POINTS",
    "FraudAssessment",
    "FraudConfig",
    "FraudContext",
    "FraudFlag",
    "RecentClaim",
    "assess",
    "haversine_km",
    "parse_fraud_config",
    "usual_amount_of",
]

EARTH_RADIUS_KM = 6371.0088
FREQUENCY_WINDOW_DAYS = 30

DEFAULT_POINTS: Mapping[str, int] = MappingProxyType(
    {
        reasons.DUPLICATE: 40,
        reasons.HIGH_FREQUENCY: 25,
        reasons.UNUSUAL_AMOUNT: 25,
        reasons.HIGH_QUANTITY: 20,
        reasons.FAR_PROVIDER: 15,
        reasons.OVERLAPPING_STAY: 40,
    }
)
DEFAULT_MAX_QUANTITY: Mapping[str, int] = MappingProxyType({"pharmacy": 10, "default": 20})

_CONFIG_KEYS = frozenset(
    {
        "review_threshold",
        "block_threshold",
        "duplicate_window_days",
        "max_claims_per_30_days",
        "amount_factor",
        "max_quantity",
        "distance_km",
        "points",
    }
)


class FraudFlag(TypedDict):
    """One fired rule, JSON-ready."""

    code: str
    points: int
    message: str


@dataclass(frozen=True, slots=True)
class RecentClaim:
    """Another claim of the same member (amount in millimes).

    ``quantities`` go with ``codes`` (one per line; empty when unknown),
    ``stay`` is a hospitalization's (admission, discharge)."""

    care_date: date
    provider_id: str | None
    care_type: str
    codes: tuple[str, ...]
    total_amount: int
    contract_id: str | None = None
    quantities: tuple[int, ...] = ()
    stay: tuple[date, date] | None = None


@dataclass(frozen=True, slots=True)
class FraudContext:
    """What the fraud rules know beyond the claim itself. Every field is
    optional: a rule lacking its data does not fire."""

    member_lat: float | None = None
    member_lng: float | None = None
    member_city: str | None = None
    provider_lat: float | None = None
    provider_lng: float | None = None
    provider_city: str | None = None
    recent_claims: Sequence[RecentClaim] = ()
    usual_amount: int | None = None
    provider_id: str | None = None
    contract_id: str | None = None
    stay: tuple[date, date] | None = None


@dataclass(frozen=True, slots=True)
class FraudConfig:
    """Checked fraud settings (see the module docstring)."""

    review_threshold: int = 40
    block_threshold: int = 75
    duplicate_window_days: int = 3
    max_claims_per_30_days: int = 8
    amount_factor_x100: int = 300
    max_quantity: Mapping[str, int] = field(default_factory=lambda: dict(DEFAULT_MAX_QUANTITY))
    distance_km: int = 150
    points: Mapping[str, int] = field(default_factory=lambda: dict(DEFAULT_POINTS))

    def max_quantity_for(self, care_type: str) -> int:
        """The quantity limit of a care type (its own, else ``"default"``)."""
        return self.max_quantity.get(care_type, self.max_quantity["default"])


@dataclass(frozen=True, slots=True)
class FraudAssessment:
    """Score (0 to 100) and the flags that explain it."""

    score: int
    flags: tuple[FraudFlag, ...]


def _bounded_int(key: str, value: object, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ConfigError(f"Paramètre fraude « {key} » : entier de {low} à {high} attendu.")
    return value


def parse_fraud_config(raw: Mapping[str, Any] | None) -> FraudConfig:
    """Check ``config_json["fraud"]`` and fill in the defaults.

    ``None`` or ``{}`` gives the defaults. Raises :class:`ConfigError`
    (French) for an unknown key or a value out of range.
    """
    if raw is None:
        return FraudConfig()
    if not isinstance(raw, Mapping):
        raise ConfigError("Paramètres fraude : un objet JSON est attendu.")
    refuse_unknown_keys("Paramètres fraude", raw, _CONFIG_KEYS, listed=False)
    defaults = FraudConfig()
    values: dict[str, Any] = {}
    for key, low, high in (
        ("review_threshold", 0, 100),
        ("block_threshold", 1, 100),
        ("duplicate_window_days", 0, 365),
        ("max_claims_per_30_days", 1, 1000),
        ("distance_km", 1, 20_000),
    ):
        if key in raw:
            values[key] = _bounded_int(key, raw[key], low, high)
    review = values.get("review_threshold", defaults.review_threshold)
    block = values.get("block_threshold", defaults.block_threshold)
    if review > block:
        raise ConfigError(
            "Paramètres fraude : le seuil de contrôle doit être inférieur ou égal au seuil de blocage."
        )
    if "amount_factor" in raw:
        factor = raw["amount_factor"]
        try:
            if not isinstance(factor, int | float | str):
                raise MoneyError("nombre attendu")
            factor_x100 = parse_hundredths(factor, "Le facteur")
        except MoneyError as exc:
            raise ConfigError(f"Paramètre fraude « amount_factor » : {exc}") from None
        if not 100 <= factor_x100 <= 10_000:
            raise ConfigError("Paramètre fraude « amount_factor » : valeur de 1 à 100 attendue.")
        values["amount_factor_x100"] = factor_x100
    if "max_quantity" in raw:
        values["max_quantity"] = _parse_max_quantity(raw["max_quantity"])
    if "points" in raw:
        values["points"] = _parse_points(raw["points"])
    return FraudConfig(**values)


def _parse_max_quantity(value: object) -> dict[str, int]:
    if isinstance(value, int) and not isinstance(value, bool):
        return {"default": _bounded_int("max_quantity", value, 1, 999)}
    if not isinstance(value, Mapping):
        raise ConfigError(
            "Paramètre fraude « max_quantity » : un entier ou un objet {type de soin: entier} est attendu."
        )
    merged = dict(DEFAULT_MAX_QUANTITY)
    for key, limit in value.items():
        if key != "default" and key not in CARE_TYPES:
            raise ConfigError(f"Paramètre fraude « max_quantity » : type de soin inconnu « {key} ».")
        merged[key] = _bounded_int(f"max_quantity.{key}", limit, 1, 999)
    return merged


def _parse_points(value: object) -> dict[str, int]:
    if not isinstance(value, Mapping):
        raise ConfigError("Paramètre fraude « points » : un objet {règle: points} est attendu.")
    merged = dict(DEFAULT_POINTS)
    for key, points in value.items():
        if key not in DEFAULT_POINTS:
            raise ConfigError(f"Paramètre fraude « points » : règle inconnue « {key} ».")
        merged[key] = _bounded_int(f"points.{key}", points, 0, 100)
    return merged


def haversine_km(lat1: float, lng1: float, lat2: float, lng2: float) -> float:
    """Great-circle distance in kilometres between two points in degrees."""
    phi1, phi2 = math.radians(lat1), math.radians(lat2)
    d_phi = phi2 - phi1
    d_lambda = math.radians(lng2 - lng1)
    h = math.sin(d_phi / 2) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(d_lambda / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(h)))


def usual_amount_of(totals: Sequence[int], min_sample: int = 20) -> int | None:
    """The usual claim total: the median (lower middle) of ``totals``, the
    totals of approved or paid claims; ``None`` below ``min_sample``."""
    if len(totals) < min_sample:
        return None
    ordered = sorted(totals)
    return ordered[(len(ordered) - 1) // 2]


def _duplicate(
    care_type: str, care_date: date, codes: set[str], ctx: FraudContext, window: int
) -> str | None:
    """Message listing, per duplicated code, the closest earlier/later claim."""
    # code -> (distance in days, date, 0 same provider / 1 other / 2 unknown)
    matches: dict[str, tuple[int, date, int]] = {}
    for claim in ctx.recent_claims:
        delta = abs((claim.care_date - care_date).days)
        if claim.care_type != care_type or delta > window:
            continue
        if ctx.contract_id is not None and claim.contract_id not in (None, ctx.contract_id):
            continue  # another contract: DOUBLE_COVERAGE (history)
        if ctx.provider_id is None or claim.provider_id is None:
            provider = 2
        else:
            provider = 0 if claim.provider_id == ctx.provider_id else 1
        for code in codes.intersection(normalize_code(c) for c in claim.codes):
            candidate = (delta, claim.care_date, provider)
            if code not in matches or candidate < matches[code]:
                matches[code] = candidate
    if not matches:
        return None
    provider_texts = (" (même prestataire)", " (autre prestataire)", "")
    parts = [
        f"{code} le {format_date(day)}{provider_texts[provider]}"
        for code, (_, day, provider) in sorted(matches.items())
    ]
    when = "le même jour" if window == 0 else f"dans un délai de {window} jour{'s' if window > 1 else ''}"
    return f"Déjà facturé {when} : " + ", ".join(parts)


def _busiest_window(care_date: date, others: Sequence[date]) -> int:
    """Most other claims in one window of :data:`FREQUENCY_WINDOW_DAYS` days containing ``care_date``."""
    span = FREQUENCY_WINDOW_DAYS - 1
    near = [day for day in others if abs((day - care_date).days) <= span]
    best = 0
    for shift in range(span + 1):
        start = care_date - timedelta(days=shift)
        end = start + timedelta(days=span)
        best = max(best, sum(1 for day in near if start <= day <= end))
    return best


def _overlapping_stay(ctx: FraudContext) -> str | None:
    if ctx.stay is None:
        return None
    start, end = ctx.stay
    overlaps = []
    for claim in ctx.recent_claims:
        if claim.stay is None:
            continue
        other_start, other_end = claim.stay
        same_day = start == other_start
        if same_day or (start < other_end and other_start < end):
            overlaps.append(claim.stay)
    if not overlaps:
        return None
    listed = ", ".join(f"du {format_date(a)} au {format_date(b)}" for a, b in sorted(overlaps))
    return f"Séjour du {format_date(start)} au {format_date(end)} chevauchant un autre séjour : {listed}"


def assess(
    care_type: str,
    care_date: date,
    items: Sequence[ItemInput],
    ctx: FraudContext,
    config: FraudConfig,
) -> FraudAssessment:
    """Run the fraud rules on a claim; the result does not depend on the
    order of ``items`` nor of ``ctx.recent_claims``."""
    found: list[tuple[str, str]] = []
    codes = {normalize_code(item.code) for item in items}

    duplicate = _duplicate(care_type, care_date, codes, ctx, config.duplicate_window_days)
    if duplicate:
        found.append((reasons.DUPLICATE, duplicate))

    count = 1 + _busiest_window(care_date, [claim.care_date for claim in ctx.recent_claims])
    if count > config.max_claims_per_30_days:
        found.append(
            (
                reasons.HIGH_FREQUENCY,
                f"{count} demandes en {FREQUENCY_WINDOW_DAYS} jours"
                f" (maximum habituel : {config.max_claims_per_30_days})",
            )
        )

    total = sum(item.quantity * item.unit_price for item in items)
    usual = ctx.usual_amount
    if usual and usual > 0 and total * 100 > config.amount_factor_x100 * usual:
        found.append(
            (
                reasons.UNUSUAL_AMOUNT,
                f"Montant {format_tnd(total)} supérieur à"
                f" {format_hundredths(config.amount_factor_x100)}"
                f" fois le montant habituel ({format_tnd(usual)})",
            )
        )

    limit = config.max_quantity_for(care_type)
    per_code: dict[str, int] = {}
    for item in items:
        per_code[normalize_code(item.code)] = per_code.get(normalize_code(item.code), 0) + item.quantity
    excessive = sorted((code, quantity) for code, quantity in per_code.items() if quantity > limit)
    if excessive:
        listed = ", ".join(f"{code} (quantité {quantity})" for code, quantity in excessive)
        found.append((reasons.HIGH_QUANTITY, f"Quantité au-delà du maximum ({limit}) : {listed}"))

    coordinates = (ctx.member_lat, ctx.member_lng, ctx.provider_lat, ctx.provider_lng)
    if all(value is not None for value in coordinates):
        m_lat, m_lng, p_lat, p_lng = (float(value) for value in coordinates)  # type: ignore[arg-type]
        distance = haversine_km(m_lat, m_lng, p_lat, p_lng)
        if distance > config.distance_km:
            cities = ""
            if ctx.member_city and ctx.provider_city:
                cities = f" ({ctx.member_city} / {ctx.provider_city})"
            found.append(
                (
                    reasons.FAR_PROVIDER,
                    f"Prestataire à {round(distance)} km du domicile de l'adhérent{cities},"
                    f" au-delà de {config.distance_km} km",
                )
            )

    overlap = _overlapping_stay(ctx)
    if overlap:
        found.append((reasons.OVERLAPPING_STAY, overlap))

    flags = tuple(
        FraudFlag(code=code, points=config.points[code], message=message) for code, message in found
    )
    score = min(100, sum(flag["points"] for flag in flags))
    return FraudAssessment(score=score, flags=flags)
