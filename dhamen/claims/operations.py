"""What the claim services change: check, adjudicate with the domain engine, store.

Load → check → adjudicate → persist.  Operations flush; the caller commits once.
Every mutation adds an audit row, and the ``events`` job is queued to run after
the commit.

Rules the issue left to us, decided here:
- tiers payant needs an active convention between the contract's insurer
  and the provider on the care date: without one the claim is refused
  (``NO_CONVENTION``) and nothing is stored;
- the care date may not be in the future nor older than 365 days;
- a rejected claim (not eligible) is stored with status ``rejected`` and its
  readable reason, as DESIGN.md requires;
- claims on one contract are adjudicated one after the other: submitting locks
  the contract's row until the commit (see :func:`dhamen.claims.queries.claim_context`).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import bindparam, delete, insert, select, text
from sqlalchemy.exc import IntegrityError

from dhamen.claims.errors import ClaimError, item_errors_json
from dhamen.claims.events import claim_event
from dhamen.claims.queries import (
    STORED_RESPONSE,
    ContractFacts,
    ConventionFacts,
    ProviderFacts,
    claim_context,
    member_history,
    terms_of,
)
from dhamen.claims.serialisation import claim_event_payload, render_claim
from dhamen.core import audit
from dhamen.core.services import after_commit, services
from dhamen.core.sqltypes import new_id, utcnow
from dhamen.domain import reference as claim_reference
from dhamen.domain.adjudication import Adjudication, ClaimContext, adjudicate
from dhamen.domain.catalogue import PROVIDER_CARE_TYPE
from dhamen.domain.coverage import ItemInput, Tariffs, validate_items
from dhamen.domain.errors import ConfigError, InvalidClaimError
from dhamen.domain.labels import CARE_TYPE_LABELS
from dhamen.domain.limits import MAX_CARE_AGE_DAYS, MAX_NOTES_LENGTH
from dhamen.domain.text import parse_date
from dhamen.domain.transitions import engine_path
from dhamen.extensions import db
from dhamen.models import AuditLog, Claim, ClaimItem, IdempotencyKey

IDEMPOTENCY_TTL = timedelta(hours=24)
REFERENCE_ATTEMPTS = 3  # a claim whose short reference is taken is entered again with another one


# --- adjudication -----------------------------------------------------------------------------

def parse_care_date(raw: Any, today: date | None = None, field_name: str = "careDate") -> date:
    today = today or date.today()
    if raw in (None, ""):
        return today
    if isinstance(raw, date):
        value = raw
    else:
        try:
            value = parse_date(str(raw))
        except ValueError:
            raise ClaimError("INVALID_DATE", "Date de soins invalide (format attendu : jj/mm/aaaa).",
                             field_name) from None
    if value > today:
        raise ClaimError("INVALID_DATE", "La date de soins ne peut pas être dans le futur.", field_name)
    if value < today - timedelta(days=MAX_CARE_AGE_DAYS):
        raise ClaimError("INVALID_DATE", "La date de soins a plus d'un an : la demande doit passer par l'assureur.",
                         field_name)
    return value


@dataclass
class ClaimRequest:
    provider: ProviderFacts
    contract: ContractFacts
    care_type: str
    care_date: date
    items: list[ItemInput]
    details: dict = field(default_factory=dict)
    notes: str | None = None
    convention: ConventionFacts | None = None  # found by prepare(), reused by evaluate()
    #: the counter sends the claim, lines the engine holds included, to the insurer's review
    submitted: bool = False
    #: early-refill override reason (dhamen.domain.history.OVERRIDE_REASONS)
    override_reason: str | None = None


def prepare(user, contract_id: str, care_type: str, care_date: date, items: list[ItemInput],
            details: dict | None = None, notes: str | None = None, *, lock: bool = False,
            submitted: bool = False, override_reason: str | None = None) -> ClaimRequest:
    """Every check that refuses a claim outright (nothing stored).  ``lock`` (to store the
    claim): the contract's row stays locked until the commit (see ``claim_context``)."""
    if not (isinstance(contract_id, str) and 0 < len(contract_id) <= 64):
        contract_id = None
    provider, contract, convention = claim_context(user, contract_id, care_date, lock)
    if provider is None:
        raise ClaimError("UNKNOWN_PROVIDER", "Votre compte n'est rattaché à aucun prestataire.", kind="forbidden")
    if not provider.is_active:
        raise ClaimError("PROVIDER_INACTIVE", "Votre établissement est désactivé : aucune demande ne peut être saisie.",
                         kind="forbidden")
    expected = PROVIDER_CARE_TYPE.get(provider.type)
    if care_type != expected:
        label = CARE_TYPE_LABELS.get(care_type, care_type)
        raise ClaimError("WRONG_CLAIM_TYPE",
                         f"Un établissement de type « {provider.type} » ne peut pas saisir de demande « {label} ».",
                         "type", "forbidden")
    if contract is None:
        raise ClaimError("UNKNOWN_CONTRACT", "Contrat inconnu : recherchez l'adhérent puis choisissez son contrat.",
                         "contractId", "not_found")
    if convention is None:
        raise ClaimError("NO_CONVENTION",
                         f"Pas de convention de tiers payant en vigueur entre votre établissement et "
                         f"{contract.insurer.name} : le contrat {contract.contract_number} ne peut pas être "
                         f"pris en charge ici.", "contractId", "invalid")
    errors = validate_items(care_type, items)
    if errors:
        raise ClaimError("INVALID_ITEMS", errors[0].message, "items", "invalid", item_errors_json(errors))
    if notes is not None and len(notes) > MAX_NOTES_LENGTH:
        raise ClaimError("VALIDATION_ERROR", f"La note ne peut pas dépasser {MAX_NOTES_LENGTH} caractères.", "notes")
    return ClaimRequest(provider, contract, care_type, care_date, items, details or {}, notes or None, convention,
                        submitted, override_reason or None)


def evaluate(req: ClaimRequest) -> Adjudication:
    config = req.contract.insurer.config_json or {}
    convention = req.convention
    # The engine parses the tariffs it is given on every claim: give it this care type's barème only.
    bareme = config.get("bareme") or {}
    if isinstance(bareme, dict):
        bareme = {k: v for k, v in bareme.items() if k == req.care_type}
    try:
        used, fraud = member_history(req.provider, req.contract, req.care_type, req.care_date,
                                     [item.code for item in req.items], req.details)
        ctx = ClaimContext(
            care_type=req.care_type, care_date=req.care_date, terms=terms_of(req.contract),
            tariffs=Tariffs.from_configs({**config, "bareme": bareme}, convention.bareme_json if convention else None),
            used_this_year=used, fraud=fraud, insurer_config={k: v for k, v in config.items() if k != "bareme"},
            received_on=date.today(), submitted=req.submitted, override_reason=req.override_reason)
        return adjudicate(ctx, req.items)
    except InvalidClaimError as exc:
        raise ClaimError("INVALID_ITEMS", exc.errors[0].message, "items", "invalid",
                         item_errors_json(list(exc.errors))) from exc
    except ConfigError as exc:
        raise ClaimError("CONFIGURATION_ERROR", f"Paramétrage de l'assureur ou du contrat invalide : {exc}",
                         kind="conflict") from exc


def preview(user, contract_id: str, care_type: str, care_date: date, items: list[ItemInput],
            details: dict | None = None, *, submitted: bool = False,
            override_reason: str | None = None) -> tuple[ClaimRequest, Adjudication]:
    req = prepare(user, contract_id, care_type, care_date, items, details, submitted=submitted,
                  override_reason=override_reason)
    return req, evaluate(req)


# --- storing a claim ---------------------------------------------------------------------------

_RATES: dict[int, Decimal] = {}
_FROM_RESULT: Any = object()
_INSERT_CLAIM = insert(Claim.__table__)
_INSERT_ITEMS = insert(ClaimItem.__table__)


def _rate(rate_bp: int) -> Decimal:
    rate = _RATES.get(rate_bp)
    if rate is None:
        rate = _RATES[rate_bp] = Decimal(rate_bp) / Decimal(10000)
    return rate


def claim_rows(result: Adjudication, *, claim_id: str, care_type: str, contract_id: str, provider_id: str,
               adherent_id: str, insurer_id: str, care_date: date, created_at: datetime, created_by: str | None,
               status: str | None = None, reason_code: Any = _FROM_RESULT, status_reason: Any = _FROM_RESULT,
               validated_at: datetime | None = None, details: dict | None = None, notes: str | None = None,
               reconciliation_id: str | None = None, line_id=new_id,
               reference: str | None = None) -> tuple[dict, list[dict]]:
    """The ``claims`` row and its ``claim_items`` rows for an adjudication: what the counter and the
    volume seed both insert (status and reason default to the engine's; the short reference is
    drawn at random unless given)."""
    status = status or result.status
    claim = {
        "id": claim_id, "reference": reference or claim_reference.new_reference(care_type, created_at.date()),
        "type": care_type, "contract_id": contract_id, "provider_id": provider_id,
        "adherent_id": adherent_id, "insurer_id": insurer_id, "care_date": care_date,
        "total_amount": result.total_amount, "covered_amount": result.covered_amount,
        "copay_amount": result.copay_amount, "fraud_score": result.fraud_score,
        "fraud_flags_json": [dict(f) for f in result.fraud_flags], "status": status,
        "reconciliation_id": reconciliation_id, "bareme_version": result.bareme_version, "notes": notes,
        "created_at": created_at, "validated_at": validated_at, "updated_at": validated_at or created_at,
        "reason_code": result.reason_code if reason_code is _FROM_RESULT else reason_code,
        "status_reason": result.reason if status_reason is _FROM_RESULT else status_reason,
        "details_json": details or {}, "created_by": created_by,
    }
    items = [{
        "id": line_id(), "claim_id": claim_id, "position": position, "code": line.code,
        "label": line.label or line.code, "quantity": line.quantity, "unit_price": line.unit_price,
        "line_total": line.line_total, "covered_amount": line.covered, "copay_amount": line.copay,
        "reimbursement_rate": _rate(line.rate_bp), "is_generic": line.is_generic,
        "rule_applied": line.rule_applied, "created_at": created_at, "category": line.category,
        "capped_unit_price": line.capped_unit_price, "reason_codes_json": list(line.reason_codes),
        "adjudication_json": [dict(step) for step in line.adjudication],
    } for position, line in enumerate(result.lines)]
    return claim, items


def create_claim(user, req: ClaimRequest, result: Adjudication) -> tuple[dict, list[dict]]:
    """Insert the claim and its lines (Core: one statement each), its audit row, and queue its event."""
    now = utcnow()
    claim, items = claim_rows(
        result, claim_id=new_id(), care_type=req.care_type, contract_id=req.contract.id,
        provider_id=req.provider.id, adherent_id=req.contract.adherent_id, insurer_id=req.contract.insurer_id,
        care_date=req.care_date, created_at=now, created_by=user.id, details=req.details, notes=req.notes,
        validated_at=now if result.status == "approved" else None)
    db.session.execute(_INSERT_CLAIM, claim)
    if items:
        db.session.execute(_INSERT_ITEMS, items)
    audit.record("claim.create", "claim", claim["id"], {
        "type": claim["type"], "status": engine_path(result.status, result.eligibility.inforce), "reason_code": result.reason_code,
        "total_amount": claim["total_amount"], "covered_amount": claim["covered_amount"],
        "fraud_score": claim["fraud_score"], "lines": len(result.lines)}, user=user)
    after_commit("events", claim_event, claim_event_payload(claim, "claim.created"))
    return claim, items


# --- idempotent submission -------------------------------------------------------------------

def request_fingerprint(payload: dict) -> str:
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str, separators=(",", ":")).encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class StoredResponse:
    claim_id: str | None
    response_json: dict


def find_idempotent(user, key: str | None, fingerprint: str) -> StoredResponse | None:
    """The stored first response for this key, or None.  Same key, other body → ClaimError 422.
    An expired key is deleted (flushed with the request's unit of work)."""
    if key is None:
        return None
    if not 1 <= len(key) <= 255:
        raise ClaimError("INVALID_IDEMPOTENCY_KEY", "En-tête Idempotency-Key invalide (1 à 255 caractères).",
                         "Idempotency-Key", "bad_request")
    row = db.session.execute(STORED_RESPONSE, {"user_id": user.id, "key": key}).first()
    if row is None:
        return None
    if row.created_at < utcnow() - IDEMPOTENCY_TTL:
        db.session.execute(delete(IdempotencyKey.__table__).where(IdempotencyKey.__table__.c.id == row.id))
        return None
    if row.request_hash != fingerprint:
        raise ClaimError("IDEMPOTENCY_KEY_REUSED",
                         "Cette clé d'idempotence a déjà servi pour une autre demande.", "Idempotency-Key", "invalid")
    return StoredResponse(row.claim_id, row.response_json)


def submit(user, contract_id: str, care_type: str, care_date: date, items: list[ItemInput], *,
           details: dict | None = None, notes: str | None = None, idempotency_key: str | None = None,
           fingerprint: str | None = None, submitted: bool = False,
           override_reason: str | None = None) -> tuple[str, dict, bool]:
    """Create a claim once.  Returns (claim id, response body, replayed).

    The body (``render_claim``) is stored with the idempotency key: a retry with the same
    key and body gets it back.
    """
    fingerprint = fingerprint or request_fingerprint({"contract": contract_id, "type": care_type,
                                                      "date": str(care_date), "items": [repr(i) for i in items],
                                                      "details": details, "notes": notes, "submitted": submitted,
                                                      "override": override_reason})
    for attempt in range(REFERENCE_ATTEMPTS):
        existing = find_idempotent(user, idempotency_key, fingerprint)
        if existing is not None:
            return existing.claim_id, existing.response_json, True
        req = prepare(user, contract_id, care_type, care_date, items, details, notes, lock=True, submitted=submitted,
                      override_reason=override_reason)
        result = evaluate(req)
        try:
            claim, lines = create_claim(user, req, result)
            break
        except IntegrityError as exc:
            # Another claim drew the same short reference (1 chance in billions): start again.
            if "reference" not in str(exc.orig).lower() or attempt == REFERENCE_ATTEMPTS - 1:
                raise
            db.session.rollback()
    body = render_claim(claim, lines)
    if idempotency_key is not None and not _store_idempotency_key(user, idempotency_key, fingerprint, body,
                                                                  claim["id"]):
        # A concurrent request with the same key won: give its answer, store nothing of ours.
        db.session.rollback()
        existing = find_idempotent(user, idempotency_key, fingerprint)
        if existing is None:
            raise ClaimError("IDEMPOTENCY_CONFLICT", "Requête concurrente avec la même clé d'idempotence : "
                             "réessayez.", "Idempotency-Key", "conflict")
        return existing.claim_id, existing.response_json, True
    return claim["id"], body, False


def _store_idempotency_key(user, key: str, fingerprint: str, body: dict, claim_id: str) -> bool:
    """Store the key with the first response; False when the key is already taken.

    ``INSERT … ON CONFLICT DO NOTHING`` (PostgreSQL and SQLite, the two databases Dhamen
    runs on; no savepoint round trips): on PostgreSQL an insert racing a concurrent one
    with the same key waits for that transaction, then does nothing if it committed.
    """
    params = {"id": new_id(), "user_id": user.id, "key": key, "request_hash": fingerprint, "status_code": 201,
              "response_json": body, "claim_id": claim_id, "created_at": utcnow()}
    return db.session.execute(_STORE_KEY, params).scalar() is not None


# Written as text: SQLAlchemy does not cache the compiled form of an ``on_conflict_do_nothing``
# insert, and recompiling it on every claim cost more than the rest of the insert.
_STORE_KEY = text(
    "INSERT INTO idempotency_keys (id, user_id, key, request_hash, status_code, response_json, claim_id, created_at) "
    "VALUES (:id, :user_id, :key, :request_hash, :status_code, :response_json, :claim_id, :created_at) "
    "ON CONFLICT (user_id, key) DO NOTHING RETURNING id",
).bindparams(bindparam("response_json", type_=IdempotencyKey.__table__.c.response_json.type),
             bindparam("created_at", type_=IdempotencyKey.__table__.c.created_at.type))


# --- events that never ran ------------------------------------------------------------------

def claims_without_event(older_than_seconds: int = 120, within_seconds: int | None = None,
                         limit: int = 10_000) -> list[dict]:
    """Claims committed more than ``older_than_seconds`` ago (and, given ``within_seconds``, less
    than that long ago) whose ``claim.created`` event never ran (Redis was unreachable when the
    request tried to queue it)."""
    now = utcnow()
    cutoff = now - timedelta(seconds=older_than_seconds)
    has_event = select(AuditLog.id).where(AuditLog.entity_type == "claim", AuditLog.entity_id == Claim.id,
                                          AuditLog.action == "event.claim.created").exists()
    rows = db.session.execute(
        select(Claim.id, Claim.insurer_id, Claim.provider_id, Claim.type, Claim.status, Claim.total_amount,
               Claim.covered_amount).where(Claim.created_at < cutoff, ~has_event,
                                           *([Claim.created_at >= now - timedelta(seconds=within_seconds)]
                                             if within_seconds is not None else []))
        .order_by(Claim.created_at).limit(limit)).mappings().all()
    return [claim_event_payload(row, "claim.created") for row in rows]


def redeliver_missing_events(older_than_seconds: int = 120, within_seconds: int | None = None) -> int:
    """Queue again the ``claim.created`` events that never ran; returns how many."""
    payloads = claims_without_event(older_than_seconds, within_seconds)
    for payload in payloads:
        services().enqueue("events", claim_event, payload)
    return len(payloads)
