"""What the claim services read: the rights panel, the claim's context (plain rows, not ORM
objects) and history, with the hot path's prebuilt statements.  Finding a member (and
auditing it): :mod:`dhamen.claims.lookup`.

Rules decided here (see also :mod:`dhamen.claims.operations`):

- the annual limit sums covered amounts of the contract's claims in the
  contract year that are not ``rejected`` nor ``blocked`` (pending review
  counts: the money may still be paid), read from ``contract_usage`` (those sums
  per care date, kept exact by the claims triggers in the claim's own transaction);
- the claim's context is read in one statement; with ``lock`` the contract's
  row stays locked (``FOR UPDATE``, PostgreSQL) until the commit, so two
  counters at once never spend the annual limit twice.  SQLite (development
  only) has no row locks.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields
from datetime import date, timedelta

from sqlalchemy import and_, bindparam, case, func, or_, select, true
from sqlalchemy.orm import selectinload

from dhamen.access.tenancy import get_or_404, scoped, scoped_static
from dhamen.claims.errors import ClaimError
from dhamen.claims.events import usual_amount
from dhamen.core import crypto
from dhamen.domain import eligibility as elig
from dhamen.domain import reference as claim_reference
from dhamen.domain.config import history_window
from dhamen.domain.coverage import benefits_under, tariff_items
from dhamen.domain.errors import ConfigError
from dhamen.domain.fraud import FraudContext, RecentClaim
from dhamen.domain.text import normalize_code
from dhamen.extensions import db
from dhamen.models import (
    Adherent,
    Claim,
    ClaimItem,
    Contract,
    ContractUsage,
    Convention,
    IdempotencyKey,
    Insurer,
    Provider,
)

NOT_PAYABLE = ("rejected", "blocked")
_CIN = re.compile(r"^[0-9]{8}$")


# --- members ----------------------------------------------------------------------------

# Finding a member (national ID, contract number, name + date of birth): dhamen.claims.lookup.


def contracts_by_number(user, number: str) -> list[Contract]:
    """The contracts with this number (any case) that the caller may see, of members not
    deleted, newest first."""
    contracts = db.session.scalars(scoped(select(Contract).where(
        func.upper(Contract.contract_number) == number.strip().upper()), Contract, user)
        .order_by(Contract.start_date.desc())).all()
    return [c for c in contracts if c.adherent.is_live]


def member_by_national_id(user, national_id: str) -> Adherent | None:
    """The (not deleted) member with this national ID, through the keyed hash, scoped to the caller."""
    return db.session.scalar(scoped(select(Adherent).where(
        Adherent.national_id_hash == crypto.national_id_hash(national_id), Adherent.is_live), Adherent, user))


def get_member(user, adherent_id: str) -> Adherent:
    """The (not deleted) member, scoped to the caller; ``UNKNOWN_MEMBER`` otherwise."""
    member = None
    if isinstance(adherent_id, str) and 0 < len(adherent_id) <= 64:
        member = db.session.scalar(scoped(select(Adherent).where(Adherent.id == adherent_id, Adherent.is_live),
                                          Adherent, user))
    if member is None:
        raise ClaimError("UNKNOWN_MEMBER", "Adhérent inconnu.", "memberId", "not_found")
    return member


# --- contract terms, usage, rights -----------------------------------------------------------

def terms_of(contract: Contract | ContractFacts) -> elig.ContractTerms:
    return elig.ContractTerms(
        id=contract.id, status=contract.status, start_date=contract.start_date, end_date=contract.end_date,
        carence_days=contract.carence_days or 0, annual_limit=contract.annual_limit,
        coverage=contract.coverage_json or {}, exclusions=tuple(contract.exclusions_json or ()))


def in_period(contract: Contract | ContractFacts, on: date) -> bool:
    return contract.start_date <= on <= contract.end_date


def used_in_contract_year(contract: Contract | ContractFacts, on: date) -> int:
    start, end = elig.contract_year(terms_of(contract), on)
    return int(db.session.scalar(_USED, {"contract_id": contract.id, "start": start, "end": end}) or 0)


@dataclass
class ContractRights:
    contract: Contract
    insurer: Insurer
    eligibility: elig.Eligibility
    has_convention: bool
    excluded: list[str] = field(default_factory=list)
    at_provider: bool = True  # asked by a provider: a convention with it is needed

    @property
    def usable(self) -> bool:
        """The verdict "a claim on this contract can be paid here": in force, and under
        convention with the provider asking (an insurer's question needs no convention)."""
        return self.eligibility.inforce and (self.has_convention or not self.at_provider)


def convention_in_force(insurer_id, provider_id, on):
    """The condition "a convention of this insurer with this provider is in force on that date"
    (values or SQL expressions): one definition for the rights panel and the claim's context query."""
    v = Convention.__table__.c
    return and_(v.insurer_id == insurer_id, v.provider_id == provider_id, v.is_active.is_(True), v.start_date <= on,
                or_(v.end_date.is_(None), v.end_date >= on))


def active_convention(insurer_id: str, provider_id: str, on: date) -> Convention | None:
    return db.session.scalar(select(Convention).where(convention_in_force(insurer_id, provider_id, on)))


def rights(user, member: Adherent, care_type: str | None, on: date, provider: Provider | None = None
           ) -> list[ContractRights]:
    """The counter's rights panel: every contract of the member, in force or not and why."""
    contracts = db.session.scalars(scoped(select(Contract).where(Contract.adherent_id == member.id)
                                          .options(selectinload(Contract.insurer))
                                          .order_by(Contract.end_date.desc()), Contract, user)).all()
    out = []
    for contract in contracts:
        convention = active_convention(contract.insurer_id, provider.id, on) if provider is not None else None
        try:
            # The rates as this provider's claims are priced: the convention's overrides included.
            benefits = benefits_under(elig.parse_coverage(contract.coverage_json or {}),
                                      convention.bareme_json if convention else None)
            used = used_in_contract_year(contract, on) if in_period(contract, on) else 0
            e = elig.check(terms_of(contract), care_type or "pharmacy", on, used, benefits=benefits)
        except ConfigError as exc:
            raise ClaimError("CONTRACT_MISCONFIGURED", f"Contrat {contract.contract_number} mal paramétré : {exc}",
                             kind="conflict") from exc
        out.append(ContractRights(contract, contract.insurer, e, convention is not None,
                                  list(contract.exclusions_json or []), at_provider=provider is not None))
    # Usable contracts first, the one that pays first (payer_rank 1) before those that complete it.
    out.sort(key=lambda r: (not r.eligibility.inforce, not r.has_convention, r.contract.payer_rank or 1,
                            r.contract.contract_number))
    return out


# --- what a claim reads: plain rows, not ORM objects ------------------------------------------
# Claim submission is the counter's hot path: it reads the columns it needs through Core
# (no identity map, no decryption of the member's encrypted fields) into these records.
# Each record's fields name the columns (or the labels) they are read from.

@dataclass(frozen=True, slots=True)
class ProviderFacts:
    id: str
    type: str
    name: str
    is_active: bool
    city: str | None
    lat: float | None
    lng: float | None


@dataclass(frozen=True, slots=True)
class MemberFacts:
    id: str
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


def _names(record: type, *, skip: tuple[str, ...] = ()) -> tuple[str, ...]:
    return tuple(f.name for f in fields(record) if f.name not in skip)


# Column labels of the context statement: "<prefix><field>" for each record's field.
_PROVIDER_FIELDS = _names(ProviderFacts)
_CONTRACT_FIELDS = _names(ContractFacts, skip=("adherent", "insurer"))
_MEMBER_FIELDS = _names(MemberFacts, skip=("id",))  # id: the contract's adherent_id
_INSURER_FIELDS = _names(InsurerFacts, skip=("id",))  # id: the contract's insurer_id
_PROVIDER_KEYS = tuple((name, f"provider_{name}") for name in _PROVIDER_FIELDS)
_MEMBER_KEYS = tuple((name, f"member_{name}") for name in _MEMBER_FIELDS)
_INSURER_KEYS = tuple((name, f"insurer_{name}") for name in _INSURER_FIELDS)

_P, _A, _I, _C = Provider.__table__.c, Adherent.__table__.c, Insurer.__table__.c, Contract.__table__.c
_V, _CL, _IT, _K = Convention.__table__.c, Claim.__table__.c, ClaimItem.__table__.c, IdempotencyKey.__table__.c

# The hot path's statements are built once, with bind parameters: building a statement
# and its cache key on each call costs several times what running it does.
_CONTRACT = (select(*(_C[name] for name in _CONTRACT_FIELDS),
                    *(_A[name].label(key) for name, key in _MEMBER_KEYS),
                    *(_I[name].label(key) for name, key in _INSURER_KEYS))
             .join_from(Contract.__table__, Adherent.__table__, _A.id == _C.adherent_id)
             .join(Insurer.__table__, _I.id == _C.insurer_id)
             .where(_C.id == bindparam("contract_id"), Adherent.is_live))
# What the contract year has used: the contract's usage rows (one per care date with payable claims,
# kept by the claims triggers, migration a7d3c9e1f2b4): at most a year of rows whatever the volume.
_U = ContractUsage.__table__.c
_USED = select(func.coalesce(func.sum(_U.covered_amount), 0)).where(
    _U.contract_id == bindparam("contract_id"), _U.care_date >= bindparam("start"), _U.care_date <= bindparam("end"))
# The member's claims (any contract, any provider) dated either side of the care date: claims
# are not entered in date order, and the rules look both ways (dhamen.domain.history).  A
# hospitalization's stay rides along (NULL for the other care types).
_STAY = Claim.__table__.alias("stay_of")
_latest = (select(_CL.id, _CL.care_date, _CL.provider_id, _CL.type, _CL.total_amount, _CL.contract_id, _CL.status,
                  case((_CL.type == "hospitalization",
                        select(_STAY.c.details_json).where(_STAY.c.id == _CL.id).scalar_subquery())).label("stay"))
           .where(_CL.adherent_id == bindparam("adherent_id"), _CL.care_date >= bindparam("since"),
                  _CL.care_date <= bindparam("until"), _CL.status != "rejected")
           .order_by(_CL.care_date.desc()).limit(200).subquery())
_used = _USED.subquery("u")
# What the contract year has used, and the member's claims around the care date with their
# lines (fraud and history rules), in one round trip: the one-row sum, outer-joined to the lines.
# Only the lines of the new claim's codes, on claims of its care type, come back: every history
# rule (duplicate, refill, quantity limits, double coverage) compares codes with the claim's own,
# within a care type; the claims themselves all come back (frequency, stays).  Codes are stored
# normalised by the engine; the SQL normalisation keeps rows written otherwise comparable.
_HISTORY = (select(_used.c[0].label("used"), _latest, _IT.code, _IT.quantity, _IT.covered_amount.label("line_covered"))
            .select_from(_used.outerjoin(_latest, true()).outerjoin(
                # (the CASE: no lookup at all for a claim of another care type)
                ClaimItem.__table__, and_(_IT.claim_id == case((_latest.c.type == bindparam("care_type"),
                                                                _latest.c.id)),
                                          func.upper(func.trim(_IT.code)).in_(bindparam("codes", expanding=True))))))
STORED_RESPONSE = select(_K.id, _K.created_at, _K.request_hash, _K.claim_id, _K.response_json) \
    .where(_K.user_id == bindparam("user_id"), _K.key == bindparam("key"))


def _context_statement(user, lock: bool):
    """Provider, contract (with member and insurer) and convention in one statement.

    The provider's row comes back unless it is deleted; the contract's columns are NULL when
    it is unknown, its member deleted, or outside the user's organisation (``tenancy``
    scopes the inner select),
    the convention's when none is in force on the care date.  ``lock``: the contract's
    row is locked (``FOR UPDATE``) until the commit, so that two claims on one contract
    are adjudicated one after the other and the annual limit is never overspent.
    """
    return _context_around(scoped_static(_CONTRACT, Contract, user), lock)


@functools.lru_cache(maxsize=256)
def _context_around(inner, lock: bool):
    """Built once per scoped contract select (statements hash by identity)."""
    c = (inner.with_for_update(of=Contract.__table__) if lock else inner).subquery("c")
    return (select(*(_P[name].label(key) for name, key in _PROVIDER_KEYS),
                   *c.c, _V.id.label("convention_id"), _V.bareme_json)
            .select_from(Provider.__table__.outerjoin(c, true()).outerjoin(
                Convention.__table__, convention_in_force(c.c.insurer_id, _P.id, bindparam("on"))))
            .where(_P.id == bindparam("provider_id"), Provider.is_live))


def claim_context(user, contract_id: str | None, on: date, lock: bool = False
                  ) -> tuple[ProviderFacts | None, ContractFacts | None, ConventionFacts | None]:
    """The user's provider, the contract (None when unknown or not visible) and the convention
    in force between them on ``on`` (None when there is none)."""
    if not user.provider_id:
        return None, None, None
    row = db.session.execute(_context_statement(user, lock), {"provider_id": user.provider_id,
                                                        "contract_id": contract_id, "on": on}).first()
    if row is None:
        return None, None, None
    m = row._mapping
    provider = ProviderFacts(**{name: m[key] for name, key in _PROVIDER_KEYS})
    contract = None
    if m["contract_number"] is not None:
        insurer = {name: m[key] for name, key in _INSURER_KEYS}
        insurer["config_json"] = insurer["config_json"] or {}
        contract = ContractFacts(
            **{name: m[name] for name in _CONTRACT_FIELDS},
            adherent=MemberFacts(m["adherent_id"], **{name: m[key] for name, key in _MEMBER_KEYS}),
            insurer=InsurerFacts(m["insurer_id"], **insurer))
    convention = ConventionFacts(m["convention_id"], m["bareme_json"]) if m["convention_id"] else None
    return provider, contract, convention


def tariff_suggestions(user, contract_id: str | None, care_type: str, on: date) -> tuple[list, str | None]:
    """Codes of the contract's insurer barème and of the convention with the user's provider, for
    the code autocomplete, with the insurer's name.  Nothing without a convention in force: a
    counter sees the tariffs of the insurers it works with only."""
    if not (isinstance(contract_id, str) and 0 < len(contract_id) <= 64):
        return [], None
    _provider, contract, convention = claim_context(user, contract_id, on)
    if contract is None or convention is None:
        return [], None
    bareme = (contract.insurer.config_json or {}).get("bareme")
    return (tariff_items(care_type, bareme if isinstance(bareme, dict) else None, convention.bareme_json),
            contract.insurer.name)


def stay_of(details: Mapping | None, today: date | None = None) -> tuple[date, date] | None:
    """A hospitalization's (admission, discharge) from its ``details_json``; an open stay (no
    discharge yet) runs to ``today`` (when given).  ``None`` when the dates are missing or unreadable."""
    if not isinstance(details, Mapping):
        return None
    try:
        admission = date.fromisoformat(details["admissionDate"])
        discharge = details.get("dischargeDate")
        end = date.fromisoformat(discharge) if discharge else today
    except (KeyError, TypeError, ValueError):
        return None
    return (admission, end) if end is not None and end >= admission else None


def member_history(provider: ProviderFacts, contract: ContractFacts, care_type: str, care_date: date,
                   codes: Iterable[str], details: Mapping | None = None) -> tuple[int, FraudContext]:
    """What the contract year has already used (0 outside the contract's period) and the fraud context:
    the member's claims at any provider, under any contract, dated within the insurer's history window
    either side of the care date (``history_window``), with their lines of the new claim's ``codes``
    only, and the stay of a hospitalization (``details``)."""
    member = contract.adherent
    current = in_period(contract, care_date)
    start, end = elig.contract_year(terms_of(contract), care_date) if current else (care_date, care_date)
    used = 0
    claims: dict[str, tuple] = {}  # id -> (care date, provider, type, total, contract, stay)
    codes_of: dict[str, list[str]] = {}
    quantities_of: dict[str, list[int]] = {}
    days = timedelta(days=history_window(contract.insurer.config_json, care_type))
    result = db.session.execute(_HISTORY, {
        "adherent_id": member.id, "contract_id": contract.id, "start": start, "end": end,
        "since": care_date - days, "until": care_date + days, "care_type": care_type,
        "codes": sorted({normalize_code(code) for code in codes})})
    # Plain tuples (a history can hold 200 claims): unpacked by position in _HISTORY's column order.
    for (used_sum, claim_id, day, provider_id, kind, total, contract_id, status, stay,
         code, quantity, line_covered) in result.tuples():
        used = used_sum
        if claim_id is None:
            continue
        if claim_id not in claims:
            claims[claim_id] = (day, provider_id, kind, total, contract_id, stay)
        # A line an approved claim did not pay (held, excluded) was not dispensed on the insurer's money.
        if code is not None and (line_covered or status not in ("approved", "paid")):
            codes_of.setdefault(claim_id, []).append(code)
            quantities_of.setdefault(claim_id, []).append(quantity)
    used = int(used or 0) if current else 0
    recent = [RecentClaim(day, provider_id, kind, tuple(codes_of.get(claim_id, ())), total, contract_id,
                          tuple(quantities_of.get(claim_id, ())), stay_of(stay))
              for claim_id, (day, provider_id, kind, total, contract_id, stay) in claims.items()]
    return used, FraudContext(
        member_lat=member.lat, member_lng=member.lng, member_city=member.city, provider_lat=provider.lat,
        provider_lng=provider.lng, provider_city=provider.city, recent_claims=recent,
        usual_amount=usual_amount(contract.insurer_id, care_type), provider_id=provider.id,
        contract_id=contract.id, stay=stay_of(details, date.today()) if care_type == "hospitalization" else None)


# --- reading claims ------------------------------------------------------------------------

def recent_member_claims(adherent_id: str, provider_id: str | None, limit: int = 10) -> list[dict]:
    """The member's latest claims at any provider, with their codes (what a counter needs to avoid
    a second delivery).  Another provider's claim keeps its date, care type and codes only: no
    amount, no status, no provider, no id."""
    rows = db.session.execute(
        select(Claim.id, Claim.care_date, Claim.type, Claim.status, Claim.total_amount, Claim.covered_amount,
               Claim.provider_id)
        .where(Claim.adherent_id == adherent_id).order_by(Claim.care_date.desc(), Claim.created_at.desc())
        .limit(limit)).all()
    codes: dict[str, list[str]] = {}
    if rows:
        for claim_id, code in db.session.execute(select(ClaimItem.claim_id, ClaimItem.code).where(
                ClaimItem.claim_id.in_([r.id for r in rows])).order_by(ClaimItem.claim_id, ClaimItem.position)):
            codes.setdefault(claim_id, []).append(code)
    out = []
    for r in rows:
        entry = {"careDate": r.care_date, "type": r.type, "codes": codes.get(r.id, []),
                 "atThisProvider": r.provider_id == provider_id}
        if entry["atThisProvider"]:
            entry |= {"status": r.status, "totalAmount": r.total_amount, "coveredAmount": r.covered_amount,
                      "claimId": r.id}
        out.append(entry)
    return out


def get_claim(user, claim_id: str) -> Claim:
    """A claim of the user's organisation by its id (ULID) or its short reference (as typed:
    any case, with or without dashes), else a 404."""
    ref = claim_reference.normalise(claim_id) if claim_id and len(claim_id) != 26 else None
    if ref is not None:
        found = db.session.scalar(scoped(select(Claim.id).where(Claim.reference == ref), Claim, user))
        claim_id = found or ""
    return get_or_404(Claim, claim_id, user, options=(selectinload(Claim.items),))

