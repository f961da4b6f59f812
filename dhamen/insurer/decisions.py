"""Decisions on claims under review: approve, approve in part, reject, block; one at a time or in bulk.

One service for the page, the bulk action and ``POST /api/v1/claims/<id>/decision``:

1. the claim is loaded scoped to the user's insurer (another insurer's claim is "not found");
2. the status change is checked by ``domain.transitions.check_claim(src, dst, "agent")``;
3. the contract's row is locked (``FOR UPDATE``, as the counter does when it submits), so the
   annual limit is re-checked against a stable sum; the claim is re-read after the lock;
4. approving recomputes the claim through the engine (``domain.agreement.decide_lines``:
   agreed quantities / unit prices, refused lines) with what the annual limit leaves;
5. the status changes by a conditional ``UPDATE … WHERE status IN ('pending_review',
   'blocked')``: of two agents deciding at once, one wins, the other is told who decided what;
6. the lines are updated, an audit row ``claim.decision`` records before → after, and the claim
   event is queued after the commit.

The service flushes; the caller commits once.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import selectinload

from dhamen.access.tenancy import scoped
from dhamen.claims.events import claim_event
from dhamen.claims.queries import NOT_PAYABLE, active_convention, terms_of, used_in_contract_year
from dhamen.claims.serialisation import claim_event_payload
from dhamen.core import audit
from dhamen.core.services import after_commit
from dhamen.core.sqltypes import utcnow
from dhamen.domain import reasons
from dhamen.domain.adjudication import ClaimContext
from dhamen.domain.agreement import (
    DECISIONS,
    MAX_NOTE,
    AgreementError,
    LineAgreement,
    StoredLine,
    decide_lines,
    was_submitted,
)
from dhamen.domain.agreement import pinned_tariffs as _pinned
from dhamen.domain.config import parse_insurer_config
from dhamen.domain.errors import ConfigError, InvalidClaimError
from dhamen.domain.labels import STATUS_LABELS
from dhamen.domain.money import format_tnd
from dhamen.domain.text import TUNIS
from dhamen.domain.transitions import OPEN_FOR_REVIEW, TransitionError, check_claim
from dhamen.extensions import db
from dhamen.models import Claim, ClaimItem, Contract, User

ACTION_LABELS = {"approve": "Approuver", "partial": "Approuver en partie", "reject": "Refuser", "block": "Bloquer"}
DONE_WORDS = {"approve": "approuvée", "partial": "approuvée en partie", "reject": "refusée", "block": "bloquée"}
NOTE_REQUIRED = ("reject", "block")
BULK_MAX = 100


class DecisionError(Exception):
    """A refused decision: stable code, French message, HTTP status, field at fault, per-line errors."""

    def __init__(self, code: str, message: str, status: int = 422, field: str | None = None,
                 errors: list[dict] | None = None):
        super().__init__(message)
        self.code, self.message, self.status, self.field, self.errors = code, message, status, field, errors or []

    def details(self) -> dict | None:
        out: dict[str, Any] = {}
        if self.field:
            out["field"] = self.field
        if self.errors:
            out["errors"] = self.errors
        return out or None


@dataclass(frozen=True)
class Outcome:
    claim_id: str
    action: str
    status: str
    covered_before: int
    covered_after: int
    message: str


def _load(user, claim_id: str) -> Claim:
    claim = None
    if isinstance(claim_id, str) and 0 < len(claim_id) <= 64:
        claim = db.session.scalar(scoped(select(Claim).where(Claim.id == claim_id), Claim, user)
                                  .options(selectinload(Claim.items)).execution_options(populate_existing=True))
    if claim is None:
        raise DecisionError("NOT_FOUND", "Demande introuvable.", 404)
    return claim


def decided_message(claim: Claim) -> str:
    """Who decided what on a claim no longer open to a decision."""
    decision = (claim.details_json or {}).get("decision")
    word = STATUS_LABELS.get(claim.status, claim.status).lower()
    if decision:
        when = decision.get("at", "")
        with contextlib.suppress(TypeError, ValueError):
            when = datetime.fromisoformat(when).astimezone(TUNIS).strftime("le %d/%m/%Y à %H:%M")
        what = DONE_WORDS.get(decision.get("action"), word)
        note = f" — « {decision['note']} »" if decision.get("note") else ""
        return f"Demande déjà traitée : {what} par {decision.get('by', 'un agent')} {when}{note}."
    return f"Demande déjà traitée : elle est {word} et n'attend plus de décision."


def _check_input(action: str, note: str | None, agreements: list[LineAgreement]) -> str:
    if action not in DECISIONS:
        raise DecisionError("VALIDATION_ERROR", "Décision inconnue : approve, partial, reject ou block.", 422,
                            "decision")
    note = (note or "").strip()
    if len(note) > MAX_NOTE:
        raise DecisionError("VALIDATION_ERROR", f"La note ne peut pas dépasser {MAX_NOTE} caractères.", 422, "note")
    if action in NOTE_REQUIRED and not note:
        word = "refus" if action == "reject" else "blocage"
        raise DecisionError("NOTE_REQUIRED", f"Indiquez le motif du {word} : il sera montré au prestataire.", 422,
                            "note")
    if action == "partial" and not agreements:
        raise DecisionError("VALIDATION_ERROR", "Approbation partielle : indiquez au moins une ligne accordée "
                            "en quantité ou en prix.", 422, "lines")
    if action != "partial" and agreements:
        raise DecisionError("VALIDATION_ERROR", "Des accords par ligne ne vont qu'avec une approbation partielle.",
                            422, "lines")
    return note


def stored_lines(claim: Claim) -> list[StoredLine]:
    return [StoredLine(code=i.code, label=i.label, quantity=i.quantity, unit_price=i.unit_price,
                       is_generic=i.is_generic, category=i.category, capped_unit_price=i.capped_unit_price,
                       reason_codes=tuple(i.reason_codes_json or ()), covered=i.covered_amount)
            for i in sorted(claim.items, key=lambda i: i.position)]


def recompute(claim: Claim, contract: Contract, agreements: list[LineAgreement]):
    """The engine's result for the claim with these agreements (annual limit re-checked without this claim)."""
    config = claim.insurer.config_json or {}
    convention = active_convention(claim.insurer_id, claim.provider_id, claim.care_date)
    used = used_in_contract_year(contract, claim.care_date)
    if claim.status not in NOT_PAYABLE:
        used -= claim.covered_amount  # this claim's current coverage is in the sum: leave it out
    ctx = ClaimContext(care_type=claim.type, care_date=claim.care_date, terms=terms_of(contract),
                       tariffs=_pinned(stored_lines(claim), claim.bareme_version,
                                       convention.bareme_json if convention else None, claim.type),
                       used_this_year=max(0, used),
                       insurer_config={k: v for k, v in config.items() if k != "bareme"},
                       # held lines the counter sent to the insurer keep the coverage they waited with (above a
                       # ceiling, beyond a limit; hors nomenclature: 0 until a price is agreed); held lines of a
                       # claim under review for another reason stay as the counter was told
                       submitted=was_submitted([i.rule_applied for i in claim.items]))
    try:
        return decide_lines(ctx, stored_lines(claim), agreements)
    except AgreementError as exc:
        raise DecisionError("INVALID_LINES", exc.errors[0].message, 422, "lines",
                            [{"line": e.line, "field": e.field, "message": e.message} for e in exc.errors]) from None
    except InvalidClaimError as exc:
        raise DecisionError("INVALID_LINES", exc.errors[0].message, 422, "lines") from None
    except ConfigError as exc:
        raise DecisionError("CONFIGURATION_ERROR", f"Paramétrage du contrat ou de l'assureur invalide : {exc}",
                            409) from None


def _lock_contract(contract_id: str) -> Contract:
    stmt = select(Contract).where(Contract.id == contract_id).execution_options(populate_existing=True)
    if db.engine.dialect.name == "postgresql":
        stmt = stmt.with_for_update(of=Contract)
    return db.session.scalar(stmt)


def decide(user, claim_id: str, action: str, note: str | None = None,
           agreements: list[LineAgreement] | None = None, *, via: str = "portail") -> Outcome:
    agreements = list(agreements or [])
    note = _check_input(action, note, agreements)
    claim = _load(user, claim_id)
    contract = _lock_contract(claim.contract_id)
    claim = _load(user, claim_id)  # re-read after the lock: another agent may have decided meanwhile
    target = DECISIONS[action]
    if claim.status not in OPEN_FOR_REVIEW:
        raise DecisionError("ALREADY_DECIDED", decided_message(claim), 409)
    try:
        check_claim(claim.status, target, "agent")
    except TransitionError as exc:
        raise DecisionError(exc.code, str(exc), 409) from None

    before = {"status": claim.status, "covered": claim.covered_amount, "copay": claim.copay_amount}
    insurer_name = claim.insurer.name
    result = None
    if target == "approved":
        result = recompute(claim, contract, agreements)
        if not result.eligibility.inforce:
            raise DecisionError("NOT_ELIGIBLE", f"Approbation impossible : {result.eligibility.message}. "
                                "Refusez la demande avec un motif.", 409)
        if result.covered_amount == 0:
            raise DecisionError("NOTHING_PAYABLE", "Approbation impossible : rien ne resterait à la charge de "
                                f"{insurer_name} (plafond annuel atteint, lignes refusées ou hors nomenclature "
                                "sans prix accordé). Accordez un prix aux lignes hors nomenclature ou refusez la "
                                "demande.", 409)
    now = utcnow()
    if action == "partial":
        code, reason = reasons.AGENT_PARTIAL, f"Accord partiel de {insurer_name}"
    elif action == "approve":
        code, reason = reasons.AGENT_APPROVED, f"Prise en charge accordée par {insurer_name}"
    elif action == "reject":
        code, reason = reasons.AGENT_REJECTED, f"Refusée par {insurer_name}"
    else:
        code, reason = reasons.AGENT_BLOCKED, f"Bloquée par {insurer_name}"
    if result is not None and any(code in (reasons.LIMIT_PARTIAL, reasons.LIMIT_REACHED)
                                  for line in result.lines for code in line.reason_codes):
        reason += " (réduite par le plafond annuel)"
    if note:
        reason += f" : {note}"
    decision = {"action": action, "status": target, "by": user.full_name, "byId": user.id, "at": now.isoformat(),
                "note": note or None, "via": via, "lines": [a.as_dict() for a in agreements]}
    values: dict[str, Any] = {"status": target, "reason_code": code, "status_reason": reason, "updated_at": now,
                              "details_json": {**(claim.details_json or {}), "decision": decision}}
    if target == "approved":
        values |= {"covered_amount": result.covered_amount, "copay_amount": result.copay_amount,
                   "validated_at": now}
    won = db.session.execute(
        update(Claim.__table__).where(Claim.__table__.c.id == claim.id,
                                      Claim.__table__.c.status.in_(tuple(OPEN_FOR_REVIEW)))
        .values(**values)).rowcount
    if won != 1:  # another agent decided between our read and our update: nothing of ours was written
        raise DecisionError("ALREADY_DECIDED", decided_message(_load(user, claim_id)), 409)
    if result is not None:
        items = sorted(claim.items, key=lambda i: i.position)
        for item, line in zip(items, result.lines, strict=True):
            db.session.execute(update(ClaimItem.__table__).where(ClaimItem.__table__.c.id == item.id).values(
                covered_amount=line.covered, copay_amount=line.copay, capped_unit_price=line.capped_unit_price,
                reimbursement_rate=Decimal(line.rate_bp) / Decimal(10000), rule_applied=line.rule_applied,
                reason_codes_json=list(line.reason_codes), adjudication_json=[dict(s) for s in line.adjudication]))
    after = {"status": target, "covered": values.get("covered_amount", claim.covered_amount),
             "copay": values.get("copay_amount", claim.copay_amount)}
    audit.record("claim.decision", "claim", claim.id, {
        "action": action, "before": before, "after": after, "note": note or None, "via": via,
        "lines": [a.as_dict() for a in agreements]}, user=user)
    row = {"id": claim.id, "insurer_id": claim.insurer_id, "provider_id": claim.provider_id, "type": claim.type,
           "status": target, "total_amount": claim.total_amount, "covered_amount": after["covered"]}
    after_commit("events", claim_event, claim_event_payload(row, "claim.decided", before["status"]))
    db.session.expire(claim)
    message = f"Demande {DONE_WORDS[action]}"
    if target == "approved":
        message += f" : {format_tnd(after['covered'])} pris en charge"
    return Outcome(claim.id, action, target, before["covered"], after["covered"], message + ".")


def low_risk(claim: Claim) -> bool:
    """What bulk approval accepts: waiting for validation with a fraud score under the review threshold."""
    try:
        threshold = parse_insurer_config(claim.insurer.config_json).fraud.review_threshold
    except ConfigError:
        return False
    return claim.status == "pending_review" and claim.fraud_score < threshold


#: reason codes of a claim whose lines need the agent's word one by one (held lines sent by the counter)
LINE_BY_LINE = (reasons.SUBMITTED, reasons.REFILL_OVERRIDE)


def needs_line_decisions(claim: Claim) -> bool:
    """Lines the engine held (hors nomenclature, early refill, above the line ceiling, beyond a quantity limit) and
    the counter sent to the insurer: an agent decides them one claim at a time, never in bulk."""
    return claim.reason_code in LINE_BY_LINE or was_submitted([i.rule_applied for i in claim.items])


def approve_many(user, claim_ids: list[str], note: str | None = None) -> tuple[list[Outcome], list[tuple[str, str]]]:
    """Approve each low-risk claim (each its own decision and audit row); others are reported, not decided."""
    ids = list(dict.fromkeys(i for i in claim_ids if isinstance(i, str) and 0 < len(i) <= 64))
    if not ids:
        raise DecisionError("VALIDATION_ERROR", "Sélectionnez au moins une demande.", 422, "claim_id")
    if len(ids) > BULK_MAX:
        raise DecisionError("VALIDATION_ERROR", f"{BULK_MAX} demandes au plus par approbation groupée.", 422,
                            "claim_id")
    done: list[Outcome] = []
    refused: list[tuple[str, str]] = []
    for claim_id in ids:
        try:
            claim = _load(user, claim_id)
            if not low_risk(claim):
                refused.append((claim_id, "Demande à risque ou bloquée : à examiner une par une."))
                continue
            if needs_line_decisions(claim):
                refused.append((claim_id, "Lignes soumises par le prestataire (hors nomenclature, renouvellement "
                                          "anticipé, plafond ou limite de quantité) : à décider ligne par ligne."))
                continue
            done.append(decide(user, claim_id, "approve", note, via="lot"))
        except DecisionError as exc:
            refused.append((claim_id, exc.message))
    return done, refused


def user_name(user_id: str | None) -> str | None:
    if not user_id:
        return None
    user = db.session.get(User, user_id)
    return user.full_name if user else None
