"""The claim engine: eligibility, line pricing, annual limit, fraud score,
status.

Use::

    ctx = ClaimContext(
        care_type="pharmacy",
        care_date=date(2026, 3, 12),
        terms=ContractTerms(...),
        tariffs=Tariffs.from_configs(insurer.config, convention.bareme),
        used_this_year=...,          # covered, claims not rejected nor blocked
        fraud=FraudContext(...),
        insurer_config=insurer.config,
    )
    errors = validate_items(ctx.care_type, items)   # show them at the counter
    result = adjudicate(ctx, items)                 # raises InvalidClaimError if any

Status of the result (the first rule that applies):

1. contract not eligible (:func:`.eligibility.check`) -> ``rejected``, every
   line covered 0, ``reason`` = the eligibility message;
2. eligible but nothing payable (every line excluded -> ``EXCLUDED``,
   otherwise ``NOTHING_PAYABLE``) -> ``rejected``;
3. fraud score >= ``block_threshold`` -> ``blocked``;
4. fraud score >= ``review_threshold`` -> ``pending_review`` (``FRAUD_REVIEW``);
5. hospitalization without ``hospitalization_auto_approve`` ->
   ``pending_review`` (``PRIOR_APPROVAL``);
6. otherwise ``approved`` (``APPROVED``, or ``LIMIT_PARTIAL`` when the annual
   limit reduced the coverage).

Blocked and pending claims keep the coverage they would get once approved.
The fraud score is computed for every claim, rejected ones included, so it
can be stored and audited. Every line balances: ``covered + copay ==
line_total``; the claim's totals are the sums of its lines.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from . import reasons
from .config import parse_insurer_config
from .coverage import (
    ItemError,
    ItemInput,
    LineResult,
    Tariffs,
    price_claim,
    unpriced_lines,
    validate_items,
)
from .eligibility import ContractTerms, Eligibility, check, parse_exclusions
from .errors import InvalidClaimError
from .fraud import FraudContext, FraudFlag, RecentClaim, assess
from .money import format_tnd
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

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "status": self.status,
            "reason_code": self.reason_code,
            "reason": self.reason,
            "care_type": self.care_type,
            "lines": [line.as_dict() for line in self.lines],
            "total_amount": self.total_amount,
            "covered_amount": self.covered_amount,
            "copay_amount": self.copay_amount,
            "bareme_version": self.bareme_version,
            "fraud_score": self.fraud_score,
            "fraud_flags": [dict(flag) for flag in self.fraud_flags],
            "eligibility": self.eligibility.as_dict(),
        }


def _score_text(score: int, flags: Sequence[FraudFlag]) -> str:
    """``score de risque 65/100 (doublon probable, montant inhabituel)``."""
    summary = ", ".join(reasons.label(flag["code"]).lower() for flag in flags if flag["points"] > 0)
    return f"score de risque {score}/100" + (f" ({summary})" if summary else "")


def adjudicate(ctx: ClaimContext, items: Sequence[ItemInput]) -> Adjudication:
    """Decide a claim: eligibility, per-line coverage, annual limit, fraud
    score and status (see the module docstring).

    Raises :class:`InvalidClaimError` when :func:`validate_items` finds errors and
    :class:`~.errors.ConfigError` when a JSON setting is malformed. The
    result does not depend on the order of ``items`` (apart from the order of
    ``lines``, which follows ``items``).
    """
    errors = validate_items(ctx.care_type, items)
    if errors:
        raise InvalidClaimError(errors)
    settings = parse_insurer_config(ctx.insurer_config)
    eligibility = check(ctx.terms, ctx.care_type, ctx.care_date, ctx.used_this_year)
    fraud = assess(ctx.care_type, ctx.care_date, items, ctx.fraud, settings.fraud)

    bareme_version: str | None = None
    limit_reduction = 0
    if not eligibility.inforce:
        lines = unpriced_lines(ctx.care_type, items, eligibility.reason_code, eligibility.message)
    else:
        benefit = eligibility.benefits[ctx.care_type]
        priced = price_claim(
            ctx.care_type,
            items,
            benefit,
            parse_exclusions(ctx.terms.exclusions),
            ctx.tariffs,
            eligibility.remaining,
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
    if not eligibility.inforce:
        status, code, reason = "rejected", eligibility.reason_code, eligibility.message
    elif covered == 0:
        status = "rejected"
        if all(line.reason_codes[0] == reasons.EXCLUDED for line in lines):
            code = reasons.EXCLUDED
            reason = "Aucune ligne prise en charge : actes ou produits exclus par le contrat"
        else:
            code, reason = reasons.NOTHING_PAYABLE, "Aucun montant à la charge de l'assureur"
    elif score >= thresholds.block_threshold:
        status, code = "blocked", reasons.FRAUD_BLOCKED
        reason = f"Demande bloquée : {_score_text(score, fraud.flags)}"
    elif score >= thresholds.review_threshold:
        status, code = "pending_review", reasons.FRAUD_REVIEW
        reason = f"Contrôle de l'assureur requis : {_score_text(score, fraud.flags)}"
    elif ctx.care_type == "hospitalization" and not settings.hospitalization_auto_approve:
        status, code = "pending_review", reasons.PRIOR_APPROVAL
        reason = "Hospitalisation : accord préalable de l'assureur requis (prise en charge)"
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
