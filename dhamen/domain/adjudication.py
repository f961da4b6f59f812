"""The claim engine: eligibility, line pricing, annual limit, fraud score,
status.

Use::

    ctx = ClaimContext(
        care_type="pharmacy",
        care_date=date(2026, 3, 12),
        terms=ContractTerms(...),
        tariffs=Tariffs.from_configs(insurer.config, convention.bareme),
        used_this_year=...,          # covered, claims not rejected nor blocked
        fraud=FraudContext(...),     # the member's claims both ways from the care date, a stay
        insurer_config=insurer.config,
        received_on=date.today(),    # late claims, a discharge in the future
        submitted=False,             # the counter's « Soumettre à l'assureur »
        override_reason=None,        # early refill: "travel", "loss_or_theft"...
    )
    errors = validate_items(ctx.care_type, items)   # show them at the counter
    result = adjudicate(ctx, items)                 # raises InvalidClaimError if any

What is paid, what waits for the insurer, what is refused
---------------------------------------------------------

Each line is priced by :mod:`.coverage`: at most ``quantity x tariff x
rate`` (tariff: agreed price, convention, barème, else catalogue price of
the care type), 0 when excluded. Some lines are *held*
(:data:`.reasons.HELD_LINE_CODES`): hors nomenclature (``NO_TARIFF``),
above the insurer's line ceiling (``LINE_CEILING``), beyond an act's
quantity limit (``QUANTITY_LIMIT``: only the allowed units), early refill
(``REFILL_TOO_SOON``, :mod:`.history`). A held line is not paid unless the
counter submits the claim to the insurer (``submitted``, or an early-refill
``override_reason``), in which case the whole claim waits for review.

Status of the result (the first rule that applies):

1. contract not eligible (:func:`.eligibility.check`) -> ``rejected``, every
   line covered 0, ``reason`` = the eligibility message;
2. eligible but nothing payable, and no held line submitted: every line
   excluded -> ``EXCLUDED``; held lines -> their first hold code in the
   order of :data:`.reasons.HELD_LINE_CODES` (``NO_TARIFF``...), the reason
   saying what the counter can do next; otherwise ``NOTHING_PAYABLE`` ->
   ``rejected``;
3. fraud score >= ``block_threshold`` -> ``blocked``;
4. -> ``pending_review`` when one of these applies (the first gives the
   code, the reason lists them all): held lines submitted (``SUBMITTED``,
   or ``REFILL_OVERRIDE`` with the override reason), eligible amount above
   the insurer's claim ceiling (``CLAIM_CEILING``), the same care billed
   under another contract of the member (``DOUBLE_COVERAGE``), care date
   older than ``max_care_age_days`` when received (``LATE_CLAIM``), fraud
   score >= ``review_threshold`` (``FRAUD_REVIEW``);
5. hospitalization without ``hospitalization_auto_approve`` ->
   ``pending_review`` (``PRIOR_APPROVAL``);
6. otherwise ``approved``: ``LINES_REFUSED`` when held lines were not paid
   (the reason says which and how to submit them), ``LIMIT_PARTIAL`` when
   the annual limit reduced the coverage, else ``APPROVED``.

A hospitalization's stay (``FraudContext.stay``) is checked first: the discharge may not
be after the day the claim is received, and the room days billed may not
exceed the nights of the stay (at least one); otherwise the claim is
invalid (:class:`InvalidClaimError`), nothing is decided.

Blocked and pending claims keep the coverage they would get once approved.
The fraud score is computed for every claim, rejected ones included, so it
can be stored and audited. Every line balances: ``covered + copay ==
line_total``; the claim's totals are the sums of its lines.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from typing import Any

from . import reasons
from .catalogue import ROOM_DAY_CATEGORY, find
from .config import InsurerSettings, parse_insurer_config
from .coverage import (
    ItemError,
    ItemInput,
    LineResult,
    PricingRules,
    Tariffs,
    price_claim,
    unpriced_lines,
    validate_items,
)
from .eligibility import ContractTerms, Eligibility, check, parse_exclusions
from .errors import InvalidClaimError
from .fraud import FraudContext, FraudFlag, RecentClaim, assess
from .history import OVERRIDE_REASONS, allowed_quantities, double_coverage, refill_holds
from .jsonready import fields_dict
from .money import format_tnd
from .text import fold, format_date
from .transitions import CLAIM_STATUSES, check_claim

__all__ = [
    "CLAIM_STATUSES",
    "Adjudication",
    "ClaimContext",
    "ContractTerms",
    "FraudContext",
    "InvalidClaimError",
    "ItemError",
    "ItemInput",
    "LineResult",
    "RecentClaim",
    "Tariffs",
    "adjudicate",
    "validate_items",
    "validate_stay",
]



@dataclass(frozen=True, slots=True)
class ClaimContext:
    """Everything :func:`adjudicate` needs besides the lines."""

    care_type: str
    care_date: date
    terms: ContractTerms
    tariffs: Tariffs = field(default_factory=Tariffs)
    used_this_year: int = 0
    fraud: FraudContext = field(default_factory=FraudContext)
    insurer_config: Mapping[str, Any] = field(default_factory=dict)
    #: the day the claim is received (late claims, a discharge in the future); ``None``: not checked
    received_on: date | None = None
    #: the counter sends the claim, held lines included, to the insurer's review
    submitted: bool = False
    #: early-refill override reason, a key of :data:`.history.OVERRIDE_REASONS` (implies ``submitted``)
    override_reason: str | None = None


@dataclass(frozen=True, slots=True)
class Adjudication:
    """The engine's decision on a claim (amounts in millimes).

    ``reason_code`` is a stable code (:mod:`.reasons`), ``reason`` its French
    explanation for the counter; ``fraud_flags`` is what goes to
    ``claims.fraud_flags_json``.
    """

    status: str
    reason_code: str
    reason: str
    care_type: str
    lines: tuple[LineResult, ...]
    total_amount: int
    covered_amount: int
    copay_amount: int
    bareme_version: str | None
    fraud_score: int
    fraud_flags: tuple[FraudFlag, ...]
    eligibility: Eligibility

    as_dict = fields_dict  # JSON-ready form


def _review_reasons(
    ctx: ClaimContext,
    settings: InsurerSettings,
    items: Sequence[ItemInput],
    lines: Sequence[LineResult],
    held: Sequence[LineResult],
    submitted: bool,
    recent: Sequence[RecentClaim],
) -> list[tuple[str, str]]:
    """Why an eligible claim waits for the insurer (besides the fraud score), in order."""
    found: list[tuple[str, str]] = []
    if submitted and held:
        codes = ", ".join(sorted({line.code for line in held}))
        if ctx.override_reason is not None and any(line.held == reasons.REFILL_TOO_SOON for line in held):
            found.append(
                (
                    reasons.REFILL_OVERRIDE,
                    f"renouvellement anticipé ({codes}), motif « {OVERRIDE_REASONS[ctx.override_reason]} »",
                )
            )
        else:
            found.append((reasons.SUBMITTED, f"lignes soumises par le prestataire ({codes})"))
    eligible = sum(
        line.capped_total
        for line in lines
        if line.reason_codes[0] != reasons.EXCLUDED and reasons.NO_TARIFF not in line.reason_codes
    )
    ceiling = settings.claim_ceilings[ctx.care_type]
    if eligible > ceiling:
        found.append(
            (
                reasons.CLAIM_CEILING,
                f"montant retenu {format_tnd(eligible)} au-delà du plafond par demande ({format_tnd(ceiling)})",
            )
        )
    double = double_coverage(
        ctx.care_type, ctx.care_date, items, recent, ctx.terms.id, settings.fraud.duplicate_window_days
    )
    if double:
        found.append((reasons.DOUBLE_COVERAGE, double[:1].lower() + double[1:]))
    if ctx.received_on is not None and (ctx.received_on - ctx.care_date).days > settings.max_care_age_days:
        found.append(
            (
                reasons.LATE_CLAIM,
                f"soins du {format_date(ctx.care_date)}, plus de {settings.max_care_age_days} jours"
                " avant la demande",
            )
        )
    return found


def _score_text(score: int, flags: Sequence[FraudFlag]) -> str:
    """``score de risque 65/100 (doublon probable, montant inhabituel)``."""
    summary = ", ".join(reasons.label(flag["code"]).lower() for flag in flags if flag["points"] > 0)
    return f"score de risque {score}/100" + (f" ({summary})" if summary else "")


def validate_stay(
    care_type: str, items: Sequence[ItemInput], stay: tuple[date, date] | None, today: date | None
) -> list[ItemError]:
    """A hospitalization's stay against its lines (see the module docstring); French errors."""
    if care_type != "hospitalization" or stay is None:
        return []
    admission, discharge = stay
    errors: list[ItemError] = []
    if today is not None and discharge > today:
        errors.append(
            ItemError(
                None,
                "dischargeDate",
                f"La date de sortie ({format_date(discharge)}) ne peut pas être dans le futur :"
                " facturez le séjour à la sortie du patient.",
            )
        )
    nights = max(1, (discharge - admission).days)
    room_days = 0
    for item in items:
        reference = find(care_type, item.code) if isinstance(item.code, str) else None
        categories = (item.category, reference.category if reference else None)
        if any(isinstance(c, str) and fold(c.strip()) == ROOM_DAY_CATEGORY for c in categories):
            room_days += item.quantity if isinstance(item.quantity, int) else 0
    if room_days > nights:
        errors.append(
            ItemError(
                None,
                "items",
                f"{room_days} journées de chambre facturées pour un séjour de {nights}"
                f" nuit{'s' if nights > 1 else ''} (du {format_date(admission)} au {format_date(discharge)}) :"
                f" {nights} au plus.",
            )
        )
    return errors


def _held_summary(lines: Sequence[LineResult], refill: Mapping[str, str]) -> tuple[str, str]:
    """What the held lines are and what the counter can do next (French)."""
    parts: dict[str, None] = {}  # ordered by code: the text never depends on the order of the lines
    for line in sorted(lines, key=lambda line: line.code):
        if line.held is None:
            continue
        text = refill.get(line.code) if line.held == reasons.REFILL_TOO_SOON else None
        parts[f"{line.code} : {text or reasons.label(line.held).lower()}"] = None
    steps = []
    if any(line.held not in (None, reasons.REFILL_TOO_SOON) for line in lines):
        steps.append("vous pouvez soumettre la demande à l'assureur, qui décidera de ces lignes")
    if any(line.held == reasons.REFILL_TOO_SOON for line in lines):
        steps.append(
            "pour délivrer quand même, indiquez un motif ("
            + ", ".join(OVERRIDE_REASONS.values())
            + ") : la demande ira à l'assureur"
        )
    return " ; ".join(parts), " ; ".join(steps)


def adjudicate(ctx: ClaimContext, items: Sequence[ItemInput]) -> Adjudication:
    """Decide a claim: eligibility, per-line coverage, annual limit, fraud
    score and status (see the module docstring).

    Raises :class:`InvalidClaimError` when :func:`validate_items` finds errors and
    :class:`~.errors.ConfigError` when a JSON setting is malformed. The
    result does not depend on the order of ``items`` (apart from the order of
    ``lines``, which follows ``items``).
    """
    errors = validate_items(ctx.care_type, items)
    if not errors:
        errors = validate_stay(ctx.care_type, items, ctx.fraud.stay, ctx.received_on)
    if ctx.override_reason is not None and ctx.override_reason not in OVERRIDE_REASONS:
        errors.append(
            ItemError(
                None,
                "override_reason",
                "Motif de renouvellement anticipé inconnu (attendus : "
                + ", ".join(OVERRIDE_REASONS.values())
                + ").",
            )
        )
    if errors:
        raise InvalidClaimError(errors)
    settings = parse_insurer_config(ctx.insurer_config)
    eligibility = check(ctx.terms, ctx.care_type, ctx.care_date, ctx.used_this_year)
    fraud_ctx = ctx.fraud if ctx.fraud.contract_id else replace(ctx.fraud, contract_id=ctx.terms.id)
    fraud = assess(ctx.care_type, ctx.care_date, items, fraud_ctx, settings.fraud)
    recent = fraud_ctx.recent_claims
    submitted = ctx.submitted or ctx.override_reason is not None
    refill = (
        refill_holds(ctx.care_date, items, recent, settings.refill_threshold)
        if ctx.care_type == "pharmacy"
        else {}
    )

    bareme_version: str | None = None
    limit_reduction = 0
    if not eligibility.inforce:
        lines = unpriced_lines(ctx.care_type, items, eligibility.reason_code, eligibility.message)
    else:
        benefit = eligibility.benefits[ctx.care_type]
        rules = PricingRules(
            line_ceiling=settings.line_ceilings[ctx.care_type],
            allowed_quantity=allowed_quantities(
                ctx.care_type, ctx.care_date, items, recent, settings.quantity_limits
            ),
            refill=refill,
            submitted=submitted,
        )
        priced = price_claim(
            ctx.care_type,
            items,
            benefit,
            parse_exclusions(ctx.terms.exclusions),
            ctx.tariffs,
            eligibility.remaining,
            rules,
        )
        lines, bareme_version, limit_reduction = (
            priced.lines,
            priced.bareme_version,
            priced.limit_reduction,
        )

    total = sum(line.line_total for line in lines)
    covered = sum(line.covered for line in lines)
    score = fraud.score
    thresholds = settings.fraud
    held = [line for line in lines if line.held is not None]
    review: list[tuple[str, str]] = []
    if eligibility.inforce:
        review = _review_reasons(ctx, settings, items, lines, held, submitted, recent)
        if score >= thresholds.review_threshold:
            review.append((reasons.FRAUD_REVIEW, _score_text(score, fraud.flags)))
    if not eligibility.inforce:
        status, code, reason = "rejected", eligibility.reason_code, eligibility.message
    elif covered == 0 and not (submitted and held):
        status = "rejected"
        if all(line.reason_codes[0] == reasons.EXCLUDED for line in lines):
            code = reasons.EXCLUDED
            reason = "Aucune ligne prise en charge : actes ou produits exclus par le contrat"
        elif held:
            # the most telling hold (in the order of HELD_LINE_CODES), whatever the order of the lines
            code = min((line.held for line in held if line.held), key=reasons.HELD_LINE_CODES.index)
            what, next_step = _held_summary(lines, refill)
            reason = f"Aucune ligne prise en charge : {what}. {next_step[:1].upper()}{next_step[1:]}."
        else:
            code, reason = reasons.NOTHING_PAYABLE, "Aucun montant à la charge de l'assureur"
    elif score >= thresholds.block_threshold:
        status, code = "blocked", reasons.FRAUD_BLOCKED
        reason = f"Demande bloquée : {_score_text(score, fraud.flags)}"
    elif review:
        status, code = "pending_review", review[0][0]
        reason = "Contrôle de l'assureur requis : " + " ; ".join(text for _, text in review)
    elif ctx.care_type == "hospitalization" and not settings.hospitalization_auto_approve:
        status, code = "pending_review", reasons.PRIOR_APPROVAL
        reason = "Hospitalisation : accord préalable de l'assureur requis (prise en charge)"
    elif held:
        status, code = "approved", reasons.LINES_REFUSED
        what, next_step = _held_summary(lines, refill)
        reason = f"Prise en charge partielle, lignes non prises en charge : {what}. {next_step[:1].upper()}{next_step[1:]}."
        if limit_reduction > 0:
            reason += f" Plafond annuel atteint : {format_tnd(limit_reduction)} restent à la charge de l'adhérent."
    elif limit_reduction > 0:
        status, code = "approved", reasons.LIMIT_PARTIAL
        reason = (
            "Prise en charge partielle : plafond annuel atteint"
            f" ({format_tnd(limit_reduction)} restent à la charge de l'adhérent)"
        )
    else:
        status, code, reason = "approved", reasons.APPROVED, "Prise en charge accordée"

    check_claim("pending", status, "engine")
    return Adjudication(
        status=status,
        reason_code=code,
        reason=reason,
        care_type=ctx.care_type,
        lines=lines,
        total_amount=total,
        covered_amount=covered,
        copay_amount=total - covered,
        bareme_version=bareme_version,
        fraud_score=score,
        fraud_flags=fraud.flags,
        eligibility=eligibility,
    )
