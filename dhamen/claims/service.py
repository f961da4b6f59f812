"""Claim services shared by the four provider portals and the JSON API.

Load → check → adjudicate with the domain engine → persist.  Services flush;
the caller commits once.  Every mutation adds an audit row, and the
``events`` job is queued to run after the commit.

Rules the issue left to us, decided here:
- tiers payant needs an active convention between the contract's insurer
  and the provider on the care date: without one the claim is refused
  (``NO_CONVENTION``) and nothing is stored;
- the care date may not be in the future nor older than 365 days;
- the annual limit sums covered amounts of the contract's claims in the
  contract year that are not ``rejected`` nor ``blocked`` (pending review
  counts: the money may still be paid);
- a rejected claim (not eligible) is stored with status ``rejected`` and its
  readable reason, as DESIGN.md requires;
- claims on one contract are adjudicated one after the other: submitting locks
  the contract's row (``FOR UPDATE``, PostgreSQL) until the commit, so two
  counters at once never spend the annual limit twice.  SQLite (development
  only) has no row locks.
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import and_, bindparam, delete, func, insert, or_, select, text, true
from sqlalchemy.orm import selectinload

from dhamen.access.tenancy import scoped, scoped_static
from dhamen.core import audit, crypto
from dhamen.core.services import after_commit
from dhamen.core.sqltypes import new_id, utcnow
from dhamen.domain import eligibility as elig
from dhamen.domain.adjudication import Adjudication, ClaimContext, adjudicate
from dhamen.domain.catalogue import PROVIDER_CARE_TYPE
from dhamen.domain.coverage import ItemError, ItemInput, Tariffs, tariff_items, validate_items
from dhamen.domain.errors import ConfigError, InvalidClaimError
from dhamen.domain.fraud import FraudContext, RecentClaim
from dhamen.extensions import db
from dhamen.models import (
    Adherent,
    Claim,
    ClaimItem,
    Contract,
    Convention,
    IdempotencyKey,
    Insurer,
    Provider,
)

CARE_TYPE_LABELS = {
    "pharmacy": "Pharmacie",
    "consultation": "Consultation",
    "lab": "Analyses de laboratoire",
    "hospitalization": "Hospitalisation",
}
STATUS_LABELS = {
    "pending": "En cours",
    "eligible": "Éligible",
    "approved": "Approuvée",
    "pending_review": "En attente de validation",
    "blocked": "Bloquée",
    "rejected": "Refusée",
    "paid": "Payée",
}
CONTRACT_STATUS_LABELS = {"active": "Actif", "suspended": "Suspendu", "expired": "Expiré", "cancelled": "Résilié"}
NOT_PAYABLE = ("rejected", "blocked")
MAX_CARE_AGE_DAYS = 365
IDEMPOTENCY_TTL = timedelta(hours=24)


class ClaimError(Exception):
    """Bad input or a refused claim: a French message, a stable code, the field at fault."""

    def __init__(self, code: str, message: str, field: str | None = None, status: int = 422,
                 errors: list[dict] | None = None):
        super().__init__(message)
        self.code, self.message, self.field, self.status, self.errors = code, message, field, status, errors or []

    def as_details(self) -> dict:
        details: dict[str, Any] = {}
        if self.field:
            details["field"] = self.field
        if self.errors:
            details["errors"] = self.errors
        return details


# --- members ----------------------------------------------------------------------------

@dataclass
class MemberMatch:
    adherent: Adherent
    contracts: list[Contract]
    matched_by: str  # national_id | contract_number | name


_CIN = re.compile(r"^[0-9]{8}$")


def find_members(query: str, limit: int = 20) -> list[MemberMatch]:
    """By national ID (through the keyed hash), contract number, or name."""
    query = (query or "").strip()
    if len(query) < 2 or len(query) > 100:
        return []
    results: dict[str, MemberMatch] = {}
    normalised = crypto.normalise_national_id(query)
    if _CIN.match(normalised):
        member = member_by_national_id(normalised)
        if member is not None:
            results[member.id] = MemberMatch(member, [], "national_id")
    contract_rows = db.session.scalars(scoped(select(Contract).where(
        func.upper(Contract.contract_number) == query.upper()), Contract)).all()
    for contract in contract_rows:
        if contract.adherent.deleted_at is None:
            results.setdefault(contract.adherent_id, MemberMatch(contract.adherent, [], "contract_number"))
    if not results and not normalised.isdigit():
        terms = [t for t in re.split(r"\s+", query.lower()) if t][:4]
        stmt = select(Adherent).where(Adherent.deleted_at.is_(None))
        for term in terms:
            like = f"%{term.replace('%', '').replace('_', '')}%"
            stmt = stmt.where(or_(func.lower(Adherent.first_name).like(like), func.lower(Adherent.last_name).like(like)))
        for member in db.session.scalars(scoped(stmt.order_by(Adherent.last_name, Adherent.first_name)
                                                .limit(limit), Adherent)):
            results.setdefault(member.id, MemberMatch(member, [], "name"))
    matches = list(results.values())[:limit]
    if matches:
        contracts = db.session.scalars(scoped(select(Contract).where(
            Contract.adherent_id.in_([m.adherent.id for m in matches])).options(selectinload(Contract.insurer))
            .order_by(Contract.start_date.desc()), Contract)).all()
        by_member: dict[str, list[Contract]] = {}
        for c in contracts:
            by_member.setdefault(c.adherent_id, []).append(c)
        for m in matches:
            m.contracts = by_member.get(m.adherent.id, [])
    return matches


def member_by_national_id(national_id: str) -> Adherent | None:
    """The (not deleted) member with this national ID, through the keyed hash, scoped to the caller."""
    return db.session.scalar(scoped(select(Adherent).where(
        Adherent.national_id_hash == crypto.national_id_hash(national_id), Adherent.deleted_at.is_(None)), Adherent))


def get_member(adherent_id: str) -> Adherent:
    from dhamen.access.tenancy import get_or_404

    member = get_or_404(Adherent, adherent_id)
    if member.deleted_at is not None:
        raise ClaimError("UNKNOWN_MEMBER", "Adhérent inconnu.", "memberId", 404)
    return member


# --- contract terms, usage, rights -----------------------------------------------------------

def terms_of(contract: Contract) -> elig.ContractTerms:
    return elig.ContractTerms(
        id=contract.id, status=contract.status, start_date=contract.start_date, end_date=contract.end_date,
        carence_days=contract.carence_days or 0, annual_limit=contract.annual_limit,
        coverage=contract.coverage_json or {}, exclusions=tuple(contract.exclusions_json or ()))


def used_in_contract_year(contract: Contract | ContractFacts, on: date) -> int:
    start, end = elig.contract_year(terms_of(contract), on)
    params = {"adherent_id": contract.adherent_id, "contract_id": contract.id, "start": start, "end": end}
    return int(db.session.scalar(_USED, params) or 0)


@dataclass
class ContractRights:
    contract: Contract
    insurer: Insurer
    eligibility: elig.Eligibility
    has_convention: bool
    excluded: list[str] = field(default_factory=list)

    def as_json(self) -> dict:
        e = self.eligibility
        return {
            "contractId": self.contract.id,
            "contractNumber": self.contract.contract_number,
            "insurer": {"id": self.insurer.id, "code": self.insurer.code, "name": self.insurer.name},
            "planType": self.contract.plan_type,
            "status": self.contract.status,
            "inforce": e.inforce,
            "reasonCode": e.reason_code,
            "message": e.message,
            "carenceUntil": e.carence_until.isoformat() if e.carence_until else None,
            "benefitPeriod": {"start": e.benefit_period[0].isoformat(), "end": e.benefit_period[1].isoformat()}
            if e.benefit_period else None,
            "annualLimit": e.annual_limit,
            "used": e.used,
            "remaining": e.remaining,
            "benefits": [{"careType": b.care_type, "label": b.label, "covered": b.covered, "rateBp": b.rate_bp,
                          "genericRateBp": b.generic_rate_bp, "roomDayCap": b.room_day_cap} for b in e.benefits.values()],
            "exclusions": list(self.excluded),
            "conventionWithProvider": self.has_convention,
        }


def convention_in_force(insurer_id, provider_id, on):
    """The condition "a convention of this insurer with this provider is in force on that date"
    (values or SQL expressions): one definition for the rights panel and the claim's context query."""
    v = Convention.__table__.c
    return and_(v.insurer_id == insurer_id, v.provider_id == provider_id, v.is_active.is_(True), v.start_date <= on,
                or_(v.end_date.is_(None), v.end_date >= on))


def active_convention(insurer_id: str, provider_id: str, on: date) -> Convention | None:
    return db.session.scalar(select(Convention).where(convention_in_force(insurer_id, provider_id, on)))


def rights(member: Adherent, care_type: str | None, on: date, provider: Provider | None = None) -> list[ContractRights]:
    """The counter's rights panel: every contract of the member, in force or not and why."""
    contracts = db.session.scalars(scoped(select(Contract).where(Contract.adherent_id == member.id)
                                          .options(selectinload(Contract.insurer))
                                          .order_by(Contract.end_date.desc()), Contract)).all()
    out = []
    for contract in contracts:
        try:
            e = elig.check(terms_of(contract), care_type or "pharmacy", on, used_in_contract_year(contract, on)) \
                if _in_period(contract, on) else elig.check(terms_of(contract), care_type or "pharmacy", on, 0)
        except ConfigError as exc:
            raise ClaimError("CONTRACT_MISCONFIGURED", f"Contrat {contract.contract_number} mal paramétré : {exc}",
                             status=409) from exc
        has_conv = provider is not None and active_convention(contract.insurer_id, provider.id, on) is not None
        out.append(ContractRights(contract, contract.insurer, e, has_conv, list(contract.exclusions_json or [])))
    out.sort(key=lambda r: (not r.eligibility.inforce, not r.has_convention, r.contract.contract_number))
    return out


def _in_period(contract: Contract, on: date) -> bool:
    return contract.start_date <= on <= contract.end_date


# --- what a claim reads: plain rows, not ORM objects ------------------------------------------
# Claim submission is the counter's hot path: it reads the columns it needs through Core
# (no identity map, no decryption of the member's encrypted fields) into these records.

@dataclass(frozen=True, slots=True)
class ProviderFacts:
    id: str
    type: str
    name: str
    is_active: bool
    deleted_at: Any
    city: str | None
    lat: float | None
    lng: float | None


@dataclass(frozen=True, slots=True)
class MemberFacts:
    id: str
    deleted_at: Any
    city: str | None
    lat: float | None
    lng: float | None


@dataclass(frozen=True, slots=True)
class InsurerFacts:
    id: str
    code: str
    name: str
    config_json: dict


@dataclass(frozen=True, slots=True)
class ContractFacts:
    """The contract with its member and insurer, read in one query; ``terms_of`` accepts it."""

    id: str
    contract_number: str
    adherent_id: str
    insurer_id: str
    status: str
    start_date: date
    end_date: date
    carence_days: int
    annual_limit: int | None
    coverage_json: dict
    exclusions_json: list
    adherent: MemberFacts
    insurer: InsurerFacts


@dataclass(frozen=True, slots=True)
class ConventionFacts:
    id: str
    bareme_json: dict | None


_P, _A, _I, _C = Provider.__table__.c, Adherent.__table__.c, Insurer.__table__.c, Contract.__table__.c
_V, _CL, _IT, _K = Convention.__table__.c, Claim.__table__.c, ClaimItem.__table__.c, IdempotencyKey.__table__.c

# The hot path's statements are built once, with bind parameters: building a statement
# and its cache key on each call costs several times what running it does.
_CONTRACT = (select(_C.id, _C.contract_number, _C.adherent_id, _C.insurer_id, _C.status, _C.start_date,
                    _C.end_date, _C.carence_days, _C.annual_limit, _C.coverage_json, _C.exclusions_json,
                    _A.deleted_at.label("member_deleted_at"), _A.city.label("member_city"),
                    _A.lat.label("member_lat"), _A.lng.label("member_lng"), _I.code.label("insurer_code"),
                    _I.name.label("insurer_name"), _I.config_json.label("insurer_config"))
             .join_from(Contract.__table__, Adherent.__table__, _A.id == _C.adherent_id)
             .join(Insurer.__table__, _I.id == _C.insurer_id)
             .where(_C.id == bindparam("contract_id")))
_USED = select(func.coalesce(func.sum(_CL.covered_amount), 0)).where(
    # adherent_id is implied by the contract: it lets the (adherent_id, care_date) index serve the sum.
    _CL.adherent_id == bindparam("adherent_id"), _CL.contract_id == bindparam("contract_id"),
    _CL.care_date >= bindparam("start"), _CL.care_date <= bindparam("end"), _CL.status.not_in(NOT_PAYABLE))
_latest = (select(_CL.id, _CL.care_date, _CL.provider_id, _CL.type, _CL.total_amount)
           .where(_CL.adherent_id == bindparam("adherent_id"), _CL.care_date >= bindparam("since"),
                  _CL.care_date <= bindparam("until"), _CL.status != "rejected")
           .order_by(_CL.care_date.desc()).limit(200).subquery())
_used = _USED.subquery("u")
# What the contract year has used, and the member's claims of the last 30 days with their
# codes (fraud rules), in one round trip: the one-row sum, outer-joined to the recent lines.
_HISTORY = (select(_used.c[0].label("used"), _latest, _IT.code)
            .select_from(_used.outerjoin(_latest, true()).outerjoin(ClaimItem.__table__,
                                                                    _IT.claim_id == _latest.c.id)))
_STORED = select(_K.id, _K.created_at, _K.request_hash, _K.claim_id, _K.response_json) \
    .where(_K.user_id == bindparam("user_id"), _K.key == bindparam("key"))
_INSERT_CLAIM = insert(Claim.__table__)
_INSERT_ITEMS = insert(ClaimItem.__table__)


def _context_statement(user, lock: bool):
    """Provider, contract (with member and insurer) and convention in one statement.

    The provider's row always comes back; the contract's columns are NULL when it is
    unknown or outside the user's organisation (``tenancy`` scopes the inner select),
    the convention's when none is in force on the care date.  ``lock``: the contract's
    row is locked (``FOR UPDATE``) until the commit, so that two claims on one contract
    are adjudicated one after the other and the annual limit is never overspent.
    """
    return _context_around(scoped_static(_CONTRACT, Contract, user), lock)


@functools.lru_cache(maxsize=256)
def _context_around(inner, lock: bool):
    """Built once per scoped contract select (statements hash by identity)."""
    c = (inner.with_for_update(of=Contract.__table__) if lock else inner).subquery("c")
    return (select(_P.id, _P.type, _P.name, _P.is_active, _P.deleted_at, _P.city, _P.lat, _P.lng,
                   *c.c, _V.id.label("convention_id"), _V.bareme_json)
            .select_from(Provider.__table__.outerjoin(c, true()).outerjoin(
                Convention.__table__, convention_in_force(c.c.insurer_id, _P.id, bindparam("on"))))
            .where(_P.id == bindparam("provider_id")))


def _claim_context(user, contract_id: str | None, on: date, lock: bool = False
                   ) -> tuple[ProviderFacts | None, ContractFacts | None, ConventionFacts | None]:
    if not user.provider_id:
        return None, None, None
    row = db.session.execute(_context_statement(user, lock), {"provider_id": user.provider_id,
                                                        "contract_id": contract_id, "on": on}).first()
    if row is None:
        return None, None, None
    provider = ProviderFacts(*row[:8])
    contract = None
    if row.contract_number is not None:
        contract = ContractFacts(
            *row[8:19], adherent=MemberFacts(row.adherent_id, row.member_deleted_at, row.member_city,
                                             row.member_lat, row.member_lng),
            insurer=InsurerFacts(row.insurer_id, row.insurer_code, row.insurer_name, row.insurer_config or {}))
    convention = ConventionFacts(row.convention_id, row.bareme_json) if row.convention_id else None
    return provider, contract, convention


def tariff_suggestions(user, contract_id: str | None, care_type: str, on: date) -> tuple[list, str | None]:
    """Codes of the contract's insurer barème and of the convention with the user's provider, for
    the code autocomplete, with the insurer's name.  Nothing without a convention in force: a
    counter sees the tariffs of the insurers it works with only."""
    if not (isinstance(contract_id, str) and 0 < len(contract_id) <= 64):
        return [], None
    _provider, contract, convention = _claim_context(user, contract_id, on)
    if contract is None or convention is None:
        return [], None
    bareme = (contract.insurer.config_json or {}).get("bareme")
    return (tariff_items(care_type, bareme if isinstance(bareme, dict) else None,
                         convention.bareme_json if convention else None), contract.insurer.name)


# --- adjudication -----------------------------------------------------------------------------

def parse_care_date(raw: Any, today: date | None = None, field_name: str = "careDate") -> date:
    today = today or date.today()
    if raw in (None, ""):
        return today
    if isinstance(raw, date):
        value = raw
    else:
        try:
            value = date.fromisoformat(str(raw))
        except ValueError:
            raise ClaimError("INVALID_DATE", "Date de soins invalide (format attendu : AAAA-MM-JJ).", field_name) from None
    if value > today:
        raise ClaimError("INVALID_DATE", "La date de soins ne peut pas être dans le futur.", field_name)
    if value < today - timedelta(days=MAX_CARE_AGE_DAYS):
        raise ClaimError("INVALID_DATE", "La date de soins a plus d'un an : la demande doit passer par l'assureur.",
                         field_name)
    return value


def item_errors_json(errors: list[ItemError]) -> list[dict]:
    return [{"line": e.line, "field": e.field, "message": e.message} for e in errors]


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


def prepare(user, contract_id: str, care_type: str, care_date: date, items: list[ItemInput],
            details: dict | None = None, notes: str | None = None, *, lock: bool = False) -> ClaimRequest:
    """Every check that refuses a claim outright (nothing stored).  ``lock`` (to store the
    claim): the contract's row stays locked until the commit (see ``_context_statement``)."""
    if not (isinstance(contract_id, str) and 0 < len(contract_id) <= 64):
        contract_id = None
    provider, contract, convention = _claim_context(user, contract_id, care_date, lock)
    if provider is None or provider.deleted_at is not None:
        raise ClaimError("UNKNOWN_PROVIDER", "Votre compte n'est rattaché à aucun prestataire.", status=403)
    if not provider.is_active:
        raise ClaimError("PROVIDER_INACTIVE", "Votre établissement est désactivé : aucune demande ne peut être saisie.",
                         status=403)
    expected = PROVIDER_CARE_TYPE.get(provider.type)
    if care_type != expected:
        label = CARE_TYPE_LABELS.get(care_type, care_type)
        raise ClaimError("WRONG_CLAIM_TYPE",
                         f"Un établissement de type « {provider.type} » ne peut pas saisir de demande « {label} ».",
                         "type", 403)
    if contract is None or contract.adherent.deleted_at is not None:
        raise ClaimError("UNKNOWN_CONTRACT", "Contrat inconnu : recherchez l'adhérent puis choisissez son contrat.",
                         "contractId", 404)
    if convention is None:
        raise ClaimError("NO_CONVENTION",
                         f"Pas de convention de tiers payant en vigueur entre votre établissement et "
                         f"{contract.insurer.name} : le contrat {contract.contract_number} ne peut pas être pris en charge ici.",
                         "contractId", 422)
    errors = validate_items(care_type, items)
    if errors:
        raise ClaimError("INVALID_ITEMS", errors[0].message, "items", 422, item_errors_json(errors))
    if notes is not None and len(notes) > 2000:
        raise ClaimError("VALIDATION_ERROR", "La note ne peut pas dépasser 2000 caractères.", "notes")
    return ClaimRequest(provider, contract, care_type, care_date, items, details or {}, notes or None, convention)


def member_history(req: ClaimRequest) -> tuple[int, FraudContext]:
    """What the contract year has already used (0 outside the contract's period) and the fraud context."""
    member, contract = req.contract.adherent, req.contract
    in_period = _in_period(contract, req.care_date)
    start, end = elig.contract_year(terms_of(contract), req.care_date) if in_period else (req.care_date, req.care_date)
    used = 0
    rows: dict[str, Any] = {}
    codes: dict[str, list[str]] = {}
    for r in db.session.execute(_HISTORY, {
            "adherent_id": member.id, "contract_id": contract.id, "start": start, "end": end,
            "since": req.care_date - timedelta(days=30), "until": req.care_date}):
        used = int(r.used or 0) if in_period else 0
        if r.id is None:
            continue
        rows.setdefault(r.id, r)
        if r.code is not None:
            codes.setdefault(r.id, []).append(r.code)
    recent = [RecentClaim(r.care_date, r.provider_id, r.type, tuple(codes.get(r.id, ())), r.total_amount)
              for r in rows.values()]
    from dhamen.claims.events import usual_amount

    return used, FraudContext(
        member_lat=member.lat, member_lng=member.lng, member_city=member.city, provider_lat=req.provider.lat,
        provider_lng=req.provider.lng, provider_city=req.provider.city, recent_claims=recent,
        usual_amount=usual_amount(contract.insurer_id, req.care_type), provider_id=req.provider.id)


def evaluate(req: ClaimRequest) -> Adjudication:
    config = req.contract.insurer.config_json or {}
    convention = req.convention
    # The engine parses the tariffs it is given on every claim: give it this care type's barème only.
    bareme = config.get("bareme") or {}
    if isinstance(bareme, dict):
        bareme = {k: v for k, v in bareme.items() if k == req.care_type}
    try:
        used, fraud = member_history(req)
        ctx = ClaimContext(
            care_type=req.care_type, care_date=req.care_date, terms=terms_of(req.contract),
            tariffs=Tariffs.from_configs({**config, "bareme": bareme}, convention.bareme_json if convention else None),
            used_this_year=used, fraud=fraud, insurer_config={k: v for k, v in config.items() if k != "bareme"})
        return adjudicate(ctx, req.items)
    except InvalidClaimError as exc:
        raise ClaimError("INVALID_ITEMS", exc.errors[0].message, "items", 422, item_errors_json(list(exc.errors))) from exc
    except ConfigError as exc:
        raise ClaimError("CONFIGURATION_ERROR", f"Paramétrage de l'assureur ou du contrat invalide : {exc}",
                         status=409) from exc


def preview(user, contract_id: str, care_type: str, care_date: date, items: list[ItemInput],
            details: dict | None = None) -> tuple[ClaimRequest, Adjudication]:
    req = prepare(user, contract_id, care_type, care_date, items, details)
    return req, evaluate(req)


_RATES: dict[int, Decimal] = {}
_FROM_RESULT: Any = object()


def _rate(rate_bp: int) -> Decimal:
    rate = _RATES.get(rate_bp)
    if rate is None:
        rate = _RATES[rate_bp] = Decimal(rate_bp) / Decimal(10000)
    return rate


def claim_rows(result: Adjudication, *, claim_id: str, care_type: str, contract_id: str, provider_id: str,
               adherent_id: str, insurer_id: str, care_date: date, created_at: datetime, created_by: str | None,
               status: str | None = None, reason_code: Any = _FROM_RESULT, status_reason: Any = _FROM_RESULT,
               validated_at: datetime | None = None, details: dict | None = None, notes: str | None = None,
               reconciliation_id: str | None = None, line_id=new_id) -> tuple[dict, list[dict]]:
    """The ``claims`` row and its ``claim_items`` rows for an adjudication: what the counter and the
    volume seed both insert (status and reason default to the engine's)."""
    status = status or result.status
    claim = {
        "id": claim_id, "type": care_type, "contract_id": contract_id, "provider_id": provider_id,
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
    transitions = ["pending", "eligible" if result.status != "rejected" or result.eligibility.inforce else "rejected"]
    if result.status != transitions[-1]:
        transitions.append(result.status)
    audit.record("claim.create", "claim", claim["id"], {
        "type": claim["type"], "status": transitions, "reason_code": result.reason_code,
        "total_amount": claim["total_amount"], "covered_amount": claim["covered_amount"],
        "fraud_score": claim["fraud_score"], "lines": len(result.lines)}, user=user)
    from dhamen.claims.events import claim_event

    after_commit("events", claim_event, claim_event_payload(claim, "claim.created"))
    return claim, items


def claim_event_payload(claim: Mapping, kind: str, previous: str | None = None) -> dict:
    """The event of a claim (its row: a ``claim_rows`` dict or ``as_row(claim)``)."""
    return {"type": kind, "claimId": claim["id"], "insurerId": claim["insurer_id"], "providerId": claim["provider_id"],
            "careType": claim["type"], "status": claim["status"], "previousStatus": previous,
            "totalAmount": claim["total_amount"], "coveredAmount": claim["covered_amount"]}


# --- idempotent submission -------------------------------------------------------------------

def request_fingerprint(payload: dict) -> str:
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str, separators=(",", ":")).encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class StoredResponse:
    claim_id: str | None
    response_json: dict


def find_idempotent(user, key: str | None, fingerprint: str) -> StoredResponse | None:
    """The stored first response for this key, or None.  Same key, other body → ClaimError 422."""
    if key is None:
        return None
    if not 1 <= len(key) <= 255:
        raise ClaimError("INVALID_IDEMPOTENCY_KEY", "En-tête Idempotency-Key invalide (1 à 255 caractères).",
                         "Idempotency-Key", 400)
    row = db.session.execute(_STORED, {"user_id": user.id, "key": key}).first()
    if row is None:
        return None
    if row.created_at < utcnow() - IDEMPOTENCY_TTL:
        db.session.execute(delete(IdempotencyKey.__table__).where(_K.id == row.id))
        return None
    if row.request_hash != fingerprint:
        raise ClaimError("IDEMPOTENCY_KEY_REUSED",
                         "Cette clé d'idempotence a déjà servi pour une autre demande.", "Idempotency-Key", 422)
    return StoredResponse(row.claim_id, row.response_json)


def submit(user, contract_id: str, care_type: str, care_date: date, items: list[ItemInput], *,
           details: dict | None = None, notes: str | None = None, idempotency_key: str | None = None,
           fingerprint: str | None = None) -> tuple[str, dict, bool]:
    """Create a claim once.  Returns (claim id, response body, replayed).

    The body (``claim_json``) is stored with the idempotency key: a retry with the same
    key and body gets it back.
    """
    fingerprint = fingerprint or request_fingerprint({"contract": contract_id, "type": care_type,
                                                      "date": str(care_date), "items": [repr(i) for i in items],
                                                      "details": details, "notes": notes})
    existing = find_idempotent(user, idempotency_key, fingerprint)
    if existing is not None:
        return existing.claim_id, existing.response_json, True
    req = prepare(user, contract_id, care_type, care_date, items, details, notes, lock=True)
    result = evaluate(req)
    claim, lines = create_claim(user, req, result)
    body = render_claim(claim, lines)
    if idempotency_key is not None and not _store_idempotency_key(user, idempotency_key, fingerprint, body,
                                                                  claim["id"]):
        # A concurrent request with the same key won: give its answer, store nothing of ours.
        db.session.rollback()
        existing = find_idempotent(user, idempotency_key, fingerprint)
        if existing is None:
            raise ClaimError("IDEMPOTENCY_CONFLICT", "Requête concurrente avec la même clé d'idempotence : "
                             "réessayez.", "Idempotency-Key", 409)
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


# --- reading claims ------------------------------------------------------------------------

_CLAIM_COLUMNS = tuple(c.key for c in Claim.__table__.c)
_ITEM_COLUMNS = tuple(c.key for c in ClaimItem.__table__.c)


def claim_json(claim: Claim) -> dict:
    """The API's view of a stored claim: the same as the answer to its submission."""
    return render_claim({k: getattr(claim, k) for k in _CLAIM_COLUMNS},
                        [{k: getattr(i, k) for k in _ITEM_COLUMNS} for i in claim.items])


def render_claim(claim: Mapping, items: list[Mapping]) -> dict:
    """A claim and its lines (rows as ``claim_rows`` makes them) as the API shows them."""
    return {
        "id": claim["id"], "type": claim["type"], "status": claim["status"],
        "statusLabel": STATUS_LABELS[claim["status"]], "reasonCode": claim["reason_code"],
        "reason": claim["status_reason"], "careDate": claim["care_date"].isoformat(),
        "createdAt": claim["created_at"].isoformat(), "contractId": claim["contract_id"],
        "adherentId": claim["adherent_id"], "providerId": claim["provider_id"], "insurerId": claim["insurer_id"],
        "totalAmount": claim["total_amount"], "coveredAmount": claim["covered_amount"],
        "copayAmount": claim["copay_amount"], "fraudScore": claim["fraud_score"],
        "fraudFlags": claim["fraud_flags_json"], "baremeVersion": claim["bareme_version"],
        "details": claim["details_json"] or {},
        "items": [{
            "code": i["code"], "label": i["label"], "quantity": i["quantity"], "unitPrice": i["unit_price"],
            "cappedUnitPrice": i["capped_unit_price"], "lineTotal": i["line_total"],
            "coveredAmount": i["covered_amount"], "copayAmount": i["copay_amount"],
            "rateBp": int(round((i["reimbursement_rate"] or 0) * 10000)), "isGeneric": i["is_generic"],
            "category": i["category"], "reasonCodes": i["reason_codes_json"], "ruleApplied": i["rule_applied"],
            "adjudication": i["adjudication_json"]} for i in sorted(items, key=lambda i: i["position"])],
    }


def recent_member_claims(adherent_id: str, provider_id: str | None, limit: int = 10) -> list[dict]:
    """The member's latest claims at any provider: amounts only, no other provider's details."""
    rows = db.session.execute(
        select(Claim.id, Claim.care_date, Claim.type, Claim.status, Claim.total_amount, Claim.covered_amount,
               Claim.provider_id)
        .where(Claim.adherent_id == adherent_id).order_by(Claim.care_date.desc(), Claim.created_at.desc())
        .limit(limit)).all()
    return [{"careDate": r.care_date, "type": r.type, "status": r.status, "totalAmount": r.total_amount,
             "coveredAmount": r.covered_amount, "atThisProvider": r.provider_id == provider_id,
             "claimId": r.id if r.provider_id == provider_id else None} for r in rows]


@dataclass
class HistoryFilters:
    date_from: date | None = None
    date_to: date | None = None
    status: str | None = None
    member: str | None = None
    care_type: str | None = None


def parse_history_filters(args) -> tuple[HistoryFilters, list[str]]:
    errors = []
    filters = HistoryFilters()
    for name, attr in (("du", "date_from"), ("au", "date_to")):
        raw = (args.get(name) or "").strip()
        if raw:
            try:
                setattr(filters, attr, date.fromisoformat(raw))
            except ValueError:
                errors.append(f"Date « {raw} » invalide (format AAAA-MM-JJ).")
    status = (args.get("statut") or "").strip()
    if status:
        if status in STATUS_LABELS:
            filters.status = status
        else:
            errors.append("Statut inconnu.")
    member = (args.get("adherent") or "").strip()[:100]
    filters.member = member or None
    return filters, errors


def history(user, filters: HistoryFilters, page: int = 1, per_page: int = 25):
    stmt = scoped(select(Claim), Claim, user)
    if filters.date_from:
        stmt = stmt.where(Claim.care_date >= filters.date_from)
    if filters.date_to:
        stmt = stmt.where(Claim.care_date <= filters.date_to)
    if filters.status:
        stmt = stmt.where(Claim.status == filters.status)
    if filters.care_type:
        stmt = stmt.where(Claim.type == filters.care_type)
    if filters.member:
        normalised = crypto.normalise_national_id(filters.member)
        if _CIN.match(normalised):
            stmt = stmt.join(Adherent, Adherent.id == Claim.adherent_id).where(
                Adherent.national_id_hash == crypto.national_id_hash(normalised))
        else:
            like = f"%{filters.member.lower().replace('%', '').replace('_', '')}%"
            stmt = stmt.join(Adherent, Adherent.id == Claim.adherent_id).where(
                or_(func.lower(Adherent.last_name).like(like), func.lower(Adherent.first_name).like(like),
                    func.lower(Adherent.first_name + " " + Adherent.last_name).like(like)))
    total = db.session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery()))
    page = max(1, page)
    rows = db.session.scalars(stmt.options(selectinload(Claim.adherent), selectinload(Claim.contract))
                              .order_by(Claim.created_at.desc(), Claim.id.desc())
                              .limit(per_page).offset((page - 1) * per_page)).all()
    return rows, total, page, max(1, -(-total // per_page))


def get_claim(claim_id: str, user=None) -> Claim:
    from dhamen.access.tenancy import get_or_404

    return get_or_404(Claim, claim_id, user, options=(selectinload(Claim.items),))

