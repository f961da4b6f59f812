"""An insurer's decision on a claim under review, *approve in part* included.

The agent may agree, per line, a quantity or a unit price lower than asked
(the *accord préalable* of a hospitalization is often partial), or refuse a
line (agreed quantity 0), each with a reason.  The claim is then recomputed
by the engine (:func:`.adjudication.adjudicate`) on the *agreed* lines, with
what the annual limit still leaves; nothing is computed by hand here but the
mapping back to what the provider charged:

- a line keeps what was asked (``quantity``, ``unit_price``, ``line_total``:
  the provider's bill does not change);
- ``covered`` is the engine's coverage of the agreed line (never more than
  the agreed amount, itself never more than asked), ``copay = line_total -
  covered``; a refused line covers 0;
- the claim's totals are the sums of its lines, so it balances to the millime.

The stored claim keeps the tariffs it was priced with (its
``bareme_version``): :func:`pinned_tariffs` rebuilds them from the stored
lines, since a lower agreed price capped by the same tariff gives the same
result as the original tariff.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from . import reasons
from .adjudication import Adjudication, ClaimContext, adjudicate
from .coverage import ItemError, ItemInput, LineResult, Tariffs
from .eligibility import check
from .money import format_tnd

__all__ = ["DECISIONS", "AgreementError", "LineAgreement", "StoredLine", "decide_lines", "pinned_tariffs"]

#: action -> resulting status
DECISIONS: Mapping[str, str] = {"approve": "approved", "partial": "approved", "reject": "rejected",
                                "block": "blocked"}
MAX_REASON = 500
MAX_NOTE = 2000


class AgreementError(ValueError):
    """Bad agreement input: French messages with the 1-based line and field."""

    def __init__(self, errors: list[ItemError]):
        super().__init__(errors[0].message)
        self.errors = errors


@dataclass(frozen=True, slots=True)
class StoredLine:
    """A claim line as stored (what was asked, and what the tariffs gave at pricing time)."""

    code: str
    label: str
    quantity: int
    unit_price: int
    is_generic: bool
    category: str | None
    capped_unit_price: int | None
    reason_codes: tuple[str, ...]

    def as_item(self, quantity: int | None = None, unit_price: int | None = None) -> ItemInput:
        return ItemInput(code=self.code, label=self.label, quantity=quantity or self.quantity,
                         unit_price=unit_price or self.unit_price, is_generic=self.is_generic,
                         category=self.category)


@dataclass(frozen=True, slots=True)
class LineAgreement:
    """The agent's word on one line (0-based ``position``): agreed quantity (0 = line refused) and/or unit
    price (millimes), lower than asked, and why."""

    position: int
    quantity: int | None = None
    unit_price: int | None = None
    reason: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {"position": self.position, "quantity": self.quantity, "unitPrice": self.unit_price,
                "reason": self.reason}


def check_agreements(lines: Sequence[StoredLine], agreements: Sequence[LineAgreement]) -> dict[int, LineAgreement]:
    """Agreements by position, or :class:`AgreementError` listing every problem."""
    errors: list[ItemError] = []
    out: dict[int, LineAgreement] = {}
    for a in agreements:
        n = a.position + 1
        if not 0 <= a.position < len(lines):
            errors.append(ItemError(n, None, f"Ligne {n} : cette ligne n'existe pas."))
            continue
        if a.position in out:
            errors.append(ItemError(n, None, f"Ligne {n} : accord donné deux fois."))
            continue
        line = lines[a.position]
        if a.quantity is None and a.unit_price is None:
            continue
        if a.quantity is not None and not (isinstance(a.quantity, int) and 0 <= a.quantity <= line.quantity):
            errors.append(ItemError(n, "quantity", f"Ligne {n} : la quantité accordée doit être un entier entre 0 "
                                                   f"et la quantité demandée ({line.quantity})."))
        if a.unit_price is not None and not (isinstance(a.unit_price, int) and 1 <= a.unit_price <= line.unit_price):
            errors.append(ItemError(n, "unit_price", f"Ligne {n} : le prix unitaire accordé doit être compris entre "
                                                     f"0,001 et le prix demandé ({format_tnd(line.unit_price)})."))
        reason = (a.reason or "").strip()
        if not reason:
            errors.append(ItemError(n, "reason", f"Ligne {n} : indiquez le motif de l'accord partiel."))
        elif len(reason) > MAX_REASON:
            errors.append(ItemError(n, "reason", f"Ligne {n} : motif trop long ({MAX_REASON} caractères au maximum)."))
        same = (a.quantity in (None, line.quantity)) and (a.unit_price in (None, line.unit_price))
        if same and reason:
            continue  # nothing lower than asked: not an agreement
        out[a.position] = replace(a, reason=reason)
    if errors:
        raise AgreementError(errors)
    return out


def pinned_tariffs(lines: Sequence[StoredLine], version: str | None, convention: Mapping[str, Any] | None,
                   care_type: str) -> Tariffs:
    """The tariffs the claim was priced with: each line that had a tariff keeps the price that tariff
    allowed (``capped_unit_price``), from the same source (convention or barème) under the same version
    (the claim's ``bareme_version``: ``"CONV/BARÈME"`` when both were used); the convention's rates stay."""
    def pinned(code: str) -> dict[str, int]:
        return {line.code: line.capped_unit_price for line in lines
                if line.capped_unit_price is not None and code in line.reason_codes}

    from_convention, from_bareme = pinned(reasons.CONVENTION_TARIFF), pinned(reasons.BAREME_TARIFF)
    used_convention = bool(from_convention) or any(
        reasons.CONVENTION_RATE in line.reason_codes for line in lines)
    parts = version.split("/", 1) if version else []
    conv_version = bareme_version = None
    if len(parts) == 2:
        conv_version, bareme_version = parts
    elif parts:
        conv_version, bareme_version = (parts[0], None) if used_convention else (None, parts[0])
    conv: dict[str, Any] = {k: v for k, v in (convention or {}).items() if k in ("rates", "generic_rate")}
    conv["tariffs"] = from_convention
    if conv_version:
        conv["version"] = conv_version
    return Tariffs(insurer_bareme={care_type: from_bareme} if from_bareme else {}, insurer_version=bareme_version,
                   convention=conv)


def _refused(line: StoredLine, reason: str) -> LineResult:
    total = line.quantity * line.unit_price
    return LineResult(
        code=line.code, label=line.label, quantity=line.quantity, unit_price=line.unit_price, line_total=total,
        capped_unit_price=0, capped_total=0, rate_bp=0, covered=0, copay=total, is_generic=line.is_generic,
        category=line.category, reason_codes=(reasons.AGENT_LINE_REFUSED,),
        rule_applied=f"Ligne refusée par l'assureur : {reason}",
        adjudication=({"category": "submitted", "amount": total, "value_bp": None},
                      {"category": "agreed", "amount": 0, "value_bp": None, "quantity": 0, "unit_price": None},
                      {"category": "benefit", "amount": 0, "value_bp": None},
                      {"category": "copay", "amount": total, "value_bp": None}))


def _back_to_asked(line: StoredLine, engine: LineResult, agreement: LineAgreement | None) -> LineResult:
    total = line.quantity * line.unit_price
    steps = [{"category": "submitted", "amount": total, "value_bp": None}]
    rule, codes = engine.rule_applied, engine.reason_codes
    if agreement is not None:
        steps.append({"category": "agreed", "amount": engine.line_total, "value_bp": None,
                      "quantity": engine.quantity, "unit_price": engine.unit_price})
        rule = (f"Accord de l'assureur : {engine.quantity} × {format_tnd(engine.unit_price)} "
                f"au lieu de {line.quantity} × {format_tnd(line.unit_price)} ({agreement.reason}) ; {rule}")
        codes = (reasons.AGENT_AGREED, *codes)
    steps += [dict(s) for s in engine.adjudication if s["category"] not in ("submitted", "copay")]
    steps.append({"category": "copay", "amount": total - engine.covered, "value_bp": None})
    return replace(engine, quantity=line.quantity, unit_price=line.unit_price, line_total=total,
                   copay=total - engine.covered, reason_codes=codes, rule_applied=rule, adjudication=tuple(steps))


def decide_lines(ctx: ClaimContext, lines: Sequence[StoredLine],
                 agreements: Sequence[LineAgreement] = ()) -> Adjudication:
    """Recompute a claim with the agent's agreements (see the module docstring).

    ``ctx.used_this_year`` must leave this claim out (what the other claims used).  The result's status
    is the engine's verdict on the agreed lines; the caller decides the claim's status.
    """
    agreed = check_agreements(lines, agreements)
    kept = [i for i, line in enumerate(lines) if agreed.get(i) is None or agreed[i].quantity != 0]
    items = [lines[i].as_item(agreed[i].quantity if i in agreed else None,
                              agreed[i].unit_price if i in agreed else None) for i in kept]
    if items:
        result = adjudicate(ctx, items)
        by_position = dict(zip(kept, result.lines, strict=True))
    else:  # every line refused: the engine has nothing to price
        result, by_position = None, {}
    out = []
    for i, line in enumerate(lines):
        if i in by_position:
            out.append(_back_to_asked(line, by_position[i], agreed.get(i)))
        else:
            out.append(_refused(line, agreed[i].reason))
    total = sum(line.line_total for line in out)
    covered = sum(line.covered for line in out)
    if result is None:
        eligibility = check(ctx.terms, ctx.care_type, ctx.care_date, ctx.used_this_year)
        return Adjudication(status="rejected", reason_code=reasons.NOTHING_PAYABLE,
                            reason="Toutes les lignes sont refusées", care_type=ctx.care_type, lines=tuple(out),
                            total_amount=total, covered_amount=0, copay_amount=total, bareme_version=None,
                            fraud_score=0, fraud_flags=(), eligibility=eligibility)
    return replace(result, lines=tuple(out), total_amount=total, covered_amount=covered,
                   copay_amount=total - covered)
