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

Two more words on a line:

- a line sent *hors nomenclature* (``NO_TARIFF``: no tariff, covered 0) may get
  an **agreed unit price** (``agreed_price``, at most the price asked): it becomes
  the line's tariff (``ItemInput.agreed_unit_price``, ``AGREED_TARIFF``) and the
  engine covers it at the contract's rate;
- a line held for an early refill (``REFILL_TOO_SOON``, with the counter's override
  reason) has its reason **accepted** (``override="accept"``: covered by the usual
  rules, ``REFILL_ACCEPTED``) or **refused** (``override="refuse"``: covered 0,
  ``REFILL_REFUSED``). In an approval in part every such line needs one or the
  other; a plain approval accepts them when the counter sent them to the insurer.

The recompute does not see the member's other claims: a line held for them (early
refill, quantity limit over a period) in a claim that waits for another reason,
not sent to the insurer (``ctx.submitted`` false) and left alone by the agent,
never covers more than it did when stored (``StoredLine.covered``).

A line the engine held only because it was above the line ceiling or beyond a
quantity limit, and that the agent approves as it stands, is marked ``AGENT_ACCEPTED``.

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
from .coverage import SUBMITTED_NOTE, ItemError, ItemInput, LineResult, Tariffs
from .eligibility import check
from .money import format_tnd

__all__ = ["DECISIONS", "OVERRIDE_DECISIONS", "AgreementError", "LineAgreement", "StoredLine", "decide_lines",
           "pinned_tariffs", "was_submitted"]

#: action -> resulting status
DECISIONS: Mapping[str, str] = {"approve": "approved", "partial": "approved", "reject": "rejected",
                                "block": "blocked"}
MAX_REASON = 500
MAX_NOTE = 2000
#: the agent's word on an early-refill reason -> French label
OVERRIDE_DECISIONS: Mapping[str, str] = {"accept": "accepté", "refuse": "refusé"}


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
    #: what the line covered when stored (the counter was told), ``None`` if unknown
    covered: int | None = None

    @property
    def hors_nomenclature(self) -> bool:
        return reasons.NO_TARIFF in self.reason_codes

    @property
    def early_refill(self) -> bool:
        return reasons.REFILL_TOO_SOON in self.reason_codes

    def as_item(self, quantity: int | None = None, unit_price: int | None = None,
                agreed_price: int | None = None) -> ItemInput:
        return ItemInput(code=self.code, label=self.label, quantity=quantity or self.quantity,
                         unit_price=unit_price or self.unit_price, is_generic=self.is_generic,
                         category=self.category, agreed_unit_price=agreed_price)


@dataclass(frozen=True, slots=True)
class LineAgreement:
    """The agent's word on one line (0-based ``position``): agreed quantity (0 = line refused) and/or unit
    price (millimes), lower than asked; for a line hors nomenclature an agreed price (its tariff); for an
    early refill the override reason accepted or refused (:data:`OVERRIDE_DECISIONS`); and why."""

    position: int
    quantity: int | None = None
    unit_price: int | None = None
    reason: str = ""
    agreed_price: int | None = None
    override: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"position": self.position, "quantity": self.quantity, "unitPrice": self.unit_price,
                "agreedUnitPrice": self.agreed_price, "override": self.override, "reason": self.reason}

    @property
    def refused(self) -> bool:
        """The line pays nothing: quantity 0 or early refill refused."""
        return self.quantity == 0 or self.override == "refuse"


def _is_amount(value: object, high: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= high


def check_agreements(lines: Sequence[StoredLine], agreements: Sequence[LineAgreement],
                     partial: bool | None = None) -> dict[int, LineAgreement]:
    """Agreements by position, or :class:`AgreementError` listing every problem.  ``partial`` (default: when
    there are agreements): every early-refill line must have its override reason accepted or refused."""
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
        if a.quantity is None and a.unit_price is None and a.agreed_price is None and a.override is None:
            continue
        if a.quantity is not None and not (isinstance(a.quantity, int) and 0 <= a.quantity <= line.quantity):
            errors.append(ItemError(n, "quantity", f"Ligne {n} : la quantité accordée doit être un entier entre 0 "
                                                   f"et la quantité demandée ({line.quantity})."))
        if a.unit_price is not None and not _is_amount(a.unit_price, line.unit_price):
            errors.append(ItemError(n, "unit_price", f"Ligne {n} : le prix unitaire accordé doit être compris entre "
                                                     f"0,001 et le prix demandé ({format_tnd(line.unit_price)})."))
        if a.agreed_price is not None:
            if not line.hors_nomenclature:
                errors.append(ItemError(n, "agreed_price", f"Ligne {n} : un prix accordé ne s'applique qu'à une ligne "
                                        "hors nomenclature (sans tarif) ; pour un prix plus bas que demandé, "
                                        "saisissez le prix unitaire accordé."))
            elif a.unit_price is not None:
                errors.append(ItemError(n, "agreed_price", f"Ligne {n} : saisissez le prix accordé hors nomenclature "
                                        "ou le prix unitaire accordé, pas les deux."))
            elif not _is_amount(a.agreed_price, line.unit_price):
                errors.append(ItemError(n, "agreed_price", f"Ligne {n} : le prix accordé doit être compris entre "
                                        f"0,001 et le prix demandé ({format_tnd(line.unit_price)})."))
        if a.override is not None:
            if a.override not in OVERRIDE_DECISIONS:
                errors.append(ItemError(n, "override", f"Ligne {n} : motif de renouvellement anticipé accepté ou "
                                        "refusé (accept ou refuse) attendu."))
            elif not line.early_refill:
                errors.append(ItemError(n, "override", f"Ligne {n} : pas de renouvellement anticipé sur cette "
                                        "ligne, rien à accepter ni à refuser."))
            elif a.override == "refuse" and (a.quantity or a.unit_price or a.agreed_price):
                errors.append(ItemError(n, "override", f"Ligne {n} : un renouvellement refusé n'est pas pris en "
                                        "charge ; ne saisissez ni quantité ni prix."))
        reason = (a.reason or "").strip()
        if not reason:
            errors.append(ItemError(n, "reason", f"Ligne {n} : indiquez le motif de l'accord partiel."))
        elif len(reason) > MAX_REASON:
            errors.append(ItemError(n, "reason", f"Ligne {n} : motif trop long ({MAX_REASON} caractères au maximum)."))
        same = (a.quantity in (None, line.quantity)) and (a.unit_price in (None, line.unit_price)) \
            and a.agreed_price is None and a.override is None
        if same and reason:
            continue  # nothing lower than asked: not an agreement
        out[a.position] = replace(a, reason=reason)
    if partial is None:
        partial = bool(agreements)
    if partial:
        for i, line in enumerate(lines):
            if line.early_refill and (i not in out or out[i].override is None) and not (i in out and out[i].refused):
                errors.append(ItemError(i + 1, "override", f"Ligne {i + 1} ({line.code}) : acceptez ou refusez le "
                                        "motif du renouvellement anticipé, avec un motif."))
    if errors:
        raise AgreementError(sorted(errors, key=lambda e: e.line or 0))
    return out


def was_submitted(rules_applied: Sequence[str | None]) -> bool:
    """Whether the counter sent the claim's held lines to the insurer (the engine notes it on each held line):
    the recompute then keeps their coverage (``ClaimContext.submitted``), else they stay as they were paid."""
    return any(_SUBMITTED_TEXT in (rule or "") for rule in rules_applied)


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


def _refused(line: StoredLine, agreement: LineAgreement) -> LineResult:
    total = line.quantity * line.unit_price
    if agreement.override == "refuse":
        code, rule = reasons.REFILL_REFUSED, f"Renouvellement anticipé refusé par l'assureur : {agreement.reason}"
    else:
        code, rule = reasons.AGENT_LINE_REFUSED, f"Ligne refusée par l'assureur : {agreement.reason}"
    return LineResult(
        code=line.code, label=line.label, quantity=line.quantity, unit_price=line.unit_price, line_total=total,
        capped_unit_price=0, capped_total=0, rate_bp=0, covered=0, copay=total, is_generic=line.is_generic,
        category=line.category, reason_codes=(code,),
        rule_applied=rule,
        adjudication=({"category": "submitted", "amount": total, "value_bp": None},
                      {"category": "agreed", "amount": 0, "value_bp": None, "quantity": 0, "unit_price": None},
                      {"category": "benefit", "amount": 0, "value_bp": None},
                      {"category": "copay", "amount": total, "value_bp": None}))


_SUBMITTED_TEXT = f" ; {SUBMITTED_NOTE}"


def _as_told(line: StoredLine, result: LineResult) -> LineResult:
    """A line the counter was told is held for what the recompute cannot see (the member's other claims: an
    early refill, a quantity limit over a period), not sent to the insurer and left alone by the agent: it never
    covers more than it did when stored."""
    if line.covered is None or result.covered <= line.covered:
        return result
    if line.early_refill:
        code, text = reasons.REFILL_TOO_SOON, "renouvellement anticipé non soumis à l'assureur"
    else:
        code, text = reasons.QUANTITY_LIMIT, "limite de quantité sur la période"
    steps = [dict(s) for s in result.adjudication if s["category"] not in ("benefit", "copay")]
    steps += [{"category": "benefit", "amount": line.covered, "value_bp": None},
              {"category": "copay", "amount": result.line_total - line.covered, "value_bp": None}]
    return replace(result, covered=line.covered, copay=result.line_total - line.covered,
                   reason_codes=tuple(dict.fromkeys((code, *result.reason_codes))),
                   rule_applied=f"{result.rule_applied} ; {text} : prise en charge limitée à celle de la saisie "
                                f"({format_tnd(line.covered)})", adjudication=tuple(steps))


def _back_to_asked(line: StoredLine, engine: LineResult, agreement: LineAgreement | None,
                   submitted: bool = True) -> LineResult:
    total = line.quantity * line.unit_price
    steps = [{"category": "submitted", "amount": total, "value_bp": None}]
    rule, codes = engine.rule_applied.replace(_SUBMITTED_TEXT, ""), engine.reason_codes
    said: list[str] = []
    added: list[str] = []
    if agreement is not None:
        if engine.quantity != line.quantity or engine.unit_price != line.unit_price:
            said.append(f"{engine.quantity} × {format_tnd(engine.unit_price)} au lieu de {line.quantity} × "
                        f"{format_tnd(line.unit_price)}")
            added.append(reasons.AGENT_AGREED)
        if agreement.agreed_price is not None:
            said.append(f"prix accordé {format_tnd(agreement.agreed_price)} pour une ligne hors nomenclature")
            added.append(reasons.AGENT_AGREED)
        if agreement.override == "accept":
            said.append("renouvellement anticipé accepté")
            added.append(reasons.REFILL_ACCEPTED)
        if said:
            steps.append({"category": "agreed", "amount": engine.line_total, "value_bp": None,
                          "quantity": engine.quantity, "unit_price": engine.unit_price,
                          "agreed_unit_price": agreement.agreed_price})
            rule = f"Accord de l'assureur : {' ; '.join(said)} ({agreement.reason}) ; {rule}"
    elif line.early_refill and submitted:  # a plain approval accepts the counter's early-refill reason
        rule = f"Renouvellement anticipé accepté par l'assureur ; {rule}"
        added.append(reasons.REFILL_ACCEPTED)
    if engine.held is not None and engine.held != reasons.NO_TARIFF and engine.covered > 0:
        rule += " ; accepté par l'assureur"
        added.append(reasons.AGENT_ACCEPTED)
    elif engine.held == reasons.NO_TARIFF:
        rule += " ; aucun prix accordé par l'assureur : non pris en charge"
    codes = tuple(dict.fromkeys((*added, *codes)))
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
    kept = [i for i, line in enumerate(lines) if agreed.get(i) is None or not agreed[i].refused]
    items = [lines[i].as_item(agreed[i].quantity, agreed[i].unit_price, agreed[i].agreed_price) if i in agreed
             else lines[i].as_item() for i in kept]
    if items:
        result = adjudicate(ctx, items)
        by_position = dict(zip(kept, result.lines, strict=True))
    else:  # every line refused: the engine has nothing to price
        result, by_position = None, {}
    out = []
    for i, line in enumerate(lines):
        if i in by_position:
            decided = _back_to_asked(line, by_position[i], agreed.get(i), ctx.submitted)
            if not ctx.submitted and i not in agreed and (
                    line.early_refill or reasons.QUANTITY_LIMIT in line.reason_codes):
                decided = _as_told(line, decided)
            out.append(decided)
        else:
            out.append(_refused(line, agreed[i]))
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
