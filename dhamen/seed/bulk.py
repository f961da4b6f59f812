"""Bulk claims for benchmarks and demos: ``flask --app app dhamen seed --claims N``.

``generate_claims(n)`` **tops up** the generated claims to ``n`` in total:
generated claims carry ``created_by = BULK_MARK``, the ones already there
are counted and only the difference is created, so running the same command
twice changes nothing (``--claims 1000000`` after ``--claims 100000`` adds
900 000).  Other claims (entered at the counter) are not counted.

Every claim goes through the engine's arithmetic: for a contract, a provider
of the matching type with an active convention with the contract's insurer
on the care date, and lines drawn from the catalogue, the domain's
``adjudicate()`` prices each line (tariff caps, rates, exclusions, annual
limit — tracked in memory per contract year, on top of what the database
already holds) and decides the status; the rows store exactly its result,
so every line and every claim balances to the millime and each claim equals
the sum of its lines.

The spread: care types (pharmacy 55 %, consultation 25 %, lab 15 %,
hospitalization 5 %), providers (any provider under convention, matching
type), care dates over the last 12 months (within the convention's dates —
the demo conventions start on 1 January) and every status:

* ``approved`` (engine), ``pending_review`` and ``blocked`` (the engine's
  fraud score, fed with a fraud context that fires the duplicate / unusual
  amount / frequency rules: flags and score are the engine's), ``rejected``
  (engine: contract suspended, expired, in carence, care type not covered,
  excluded products, annual limit reached);
* hospitalization waiting for prior approval, then approved by the insurer;
* ``paid``: approved claims older than 45 days, in a ``paid`` reconciliation
  per insurer and month, whose totals are computed like the reconciliation
  module does (retention per provider);
* a few ``pending`` / ``eligible`` (claims caught mid-flow, last week).

Speed: contexts (contract terms, tariffs, conventions, fraud settings) are
computed once; rows are inserted with SQLAlchemy Core ``insert()``
executemany, ``batch_size`` claims (and their lines) per transaction, ULIDs
made in Python from the creation time; no ORM object per row.  The events
queue is not used: the per-insurer Redis counters the events worker keeps
are incremented once at the end, and one audit row records the run.
"""

from __future__ import annotations

import logging
import random
import secrets
import time
from collections import defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

import redis
from flask import current_app
from sqlalchemy import bindparam, func, insert, select, update
from ulid import ULID

from dhamen.claims.events import USUAL_SAMPLE
from dhamen.claims.operations import claim_rows
from dhamen.claims.queries import NOT_PAYABLE
from dhamen.core import audit
from dhamen.core.services import services
from dhamen.domain import eligibility as elig
from dhamen.domain import reasons
from dhamen.domain import reference as claim_reference
from dhamen.domain.adjudication import ClaimContext, adjudicate
from dhamen.domain.catalogue import PROVIDER_CARE_TYPE, items_for
from dhamen.domain.config import parse_insurer_config
from dhamen.domain.coverage import ItemInput, Tariffs, parse_bareme, parse_convention
from dhamen.domain.errors import ConfigError
from dhamen.domain.fraud import FraudContext, RecentClaim
from dhamen.domain.money import apply_rate
from dhamen.domain.text import normalize_code
from dhamen.extensions import db
from dhamen.models import Adherent, Claim, ClaimItem, Contract, Convention, Insurer, Provider, Reconciliation
from dhamen.seed.demo import seed_demo

log = logging.getLogger("dhamen.seed")

BULK_MARK = "bulk-seed"  # claims.created_by of generated claims (not a user id)
SEED = 2026
PAID_AFTER_DAYS = 45
TUNIS_UTC_OFFSET = timedelta(hours=1)

CARE_TYPE_WEIGHTS = {"pharmacy": 55, "consultation": 25, "lab": 15, "hospitalization": 5}
# What we aim for; the engine has the last word (a claim aimed at "approved"
# whose contract year is used up is stored rejected with LIMIT_REACHED).
TARGET_WEIGHTS = {"approved": 44, "paid": 16, "pending_review": 11, "blocked": 5, "rejected": 16,
                  "pending": 4, "eligible": 4}


@dataclass
class _Contract:
    id: str
    insurer_id: str
    adherent_id: str
    terms: elig.ContractTerms
    covered_types: frozenset[str]
    lat: float | None
    lng: float | None
    city: str | None

    @property
    def in_force_from(self) -> date:
        return self.terms.start_date + timedelta(days=self.terms.carence_days)


@dataclass
class _Outlet:
    """A provider with an active convention with one insurer, and the tariffs that apply.

    The barème and the convention are checked once here; each claim then hands the
    engine only the entries of its own codes (the pricing looks up nothing else), which
    spares parsing a whole barème per claim.
    """

    provider_id: str
    lat: float | None
    lng: float | None
    city: str | None
    start: date
    end: date | None
    care_type: str
    bareme: dict[str, int]  # normalised code -> tariff (insurer's barème for this care type)
    bareme_version: str | None
    convention: dict | None  # bareme_json without "tariffs"
    convention_tariffs: dict[str, int]

    def tariffs_for(self, codes: set[str]) -> Tariffs:
        bareme = {code: self.bareme[code] for code in codes if code in self.bareme}
        convention = None
        if self.convention is not None:
            convention = {**self.convention, "tariffs": {code: self.convention_tariffs[code]
                                                         for code in codes if code in self.convention_tariffs}}
        return Tariffs(insurer_bareme={self.care_type: bareme}, insurer_version=self.bareme_version,
                       convention=convention)


@dataclass
class _World:
    insurer_settings: dict[str, dict]  # insurer id -> config without the barème (fraud, approval)
    retention_bp: dict[str, int]
    eligible: dict[str, list[_Contract]]  # care type -> active contracts covering it
    ineligible: list[_Contract]  # suspended, expired, cancelled, in carence
    not_covering: dict[str, list[_Contract]]  # care type -> active contracts not covering it
    outlets: dict[tuple[str, str], list[_Outlet]]  # (insurer id, care type) -> providers under convention


@dataclass
class _Batch:
    claims: list[dict] = field(default_factory=list)
    items: list[dict] = field(default_factory=list)
    reconciliations: list[dict] = field(default_factory=list)


def bulk_count() -> int:
    return db.session.scalar(select(func.count()).select_from(Claim).where(Claim.created_by == BULK_MARK)) or 0


def generate_claims(n: int, batch_size: int = 5000, progress: Callable[[str], object] = print,
                    seed: int | None = None, today: date | None = None) -> int:
    """Top up the generated claims to ``n``; returns how many were created."""
    if n < 0 or batch_size < 1:
        raise ValueError("n >= 0 and batch_size >= 1 expected")
    existing = bulk_count()
    todo = n - existing
    if todo <= 0:
        progress(f"{existing} demandes générées déjà présentes (objectif {n}) : rien à ajouter.")
        return 0
    _ensure_reference_data(progress)
    today = today or date.today()
    world = _load_world(today)
    if not any(world.eligible.values()) or not world.outlets:
        raise RuntimeError("Aucun contrat ou aucune convention exploitable : chargez d'abord les données "
                           "de démonstration (flask dhamen seed).")
    gen = _Generator(world, today, random.Random(f"{SEED if seed is None else seed}:{existing}"),
                     _usage_so_far(world))
    db.session.commit()  # end the reading transaction: each batch has its own
    claims_t, items_t, recon_t = Claim.__table__, ClaimItem.__table__, Reconciliation.__table__
    started = time.perf_counter()
    created = 0
    while created < todo:
        size = min(batch_size, todo - created)
        batch = _Batch()
        for _ in range(size):
            gen.claim(batch)
        with db.engine.begin() as conn:
            if batch.reconciliations:
                conn.execute(insert(recon_t), batch.reconciliations)
            conn.execute(insert(claims_t), batch.claims)
            conn.execute(insert(items_t), batch.items)
        created += size
        elapsed = time.perf_counter() - started
        progress(f"  {created}/{todo} demandes ({created / elapsed:,.0f}/s)".replace(",", " "))
    _finish_reconciliations(gen)
    _bump_counters(gen)
    audit.record("seed.claims", "dataset", "bulk", {"created": created, "total": existing + created,
                                                     "statuses": dict(gen.status_counts)}, user=None)
    db.session.commit()
    return created


# --- reference data ------------------------------------------------------------------------

def _ensure_reference_data(progress) -> None:
    has_conventions = db.session.scalar(select(func.count()).select_from(Convention))
    has_contracts = db.session.scalar(select(func.count()).select_from(Contract))
    if has_conventions and has_contracts:
        return


    report = seed_demo(with_demo_users=current_app.config["DHAMEN"].is_development)
    progress(report.summary())


def _load_world(today: date) -> _World:
    settings, retention = {}, {}
    for insurer in db.session.scalars(select(Insurer).where(Insurer.is_live)):
        config = dict(insurer.config_json or {})
        try:
            parsed = parse_insurer_config(config)
        except ConfigError as exc:
            log.warning("assureur %s ignoré : %s", insurer.code, exc)
            continue
        config.pop("bareme", None)  # the tariffs travel in ClaimContext.tariffs
        settings[insurer.id] = config
        retention[insurer.id] = parsed.retention_rate_bp
        settings[insurer.id]["_bareme"] = (insurer.config_json or {}).get("bareme") or {}
        settings[insurer.id]["_version"] = (insurer.config_json or {}).get("bareme_version")

    outlets: dict[tuple[str, str], list[_Outlet]] = defaultdict(list)
    rows = db.session.execute(
        select(Convention, Provider).join(Provider, Provider.id == Convention.provider_id)
        .where(Convention.is_active.is_(True), Provider.is_active.is_(True), Provider.is_live)
        .order_by(Convention.id)).all()
    for conv, provider in rows:
        care_type = PROVIDER_CARE_TYPE.get(provider.type)
        if care_type is None or conv.insurer_id not in settings:
            continue
        ins = settings[conv.insurer_id]
        try:
            bareme = parse_bareme(ins["_bareme"]).get(care_type, {})
            checked = parse_convention(conv.bareme_json)
        except ConfigError as exc:
            log.warning("convention %s ignorée : %s", conv.id, exc)
            continue
        meta = {k: v for k, v in (conv.bareme_json or {}).items() if k != "tariffs"}
        outlets[(conv.insurer_id, care_type)].append(_Outlet(
            provider.id, provider.lat, provider.lng, provider.city, conv.start_date, conv.end_date, care_type,
            bareme, ins["_version"], meta if checked is not None else None, dict(checked.tariffs) if checked else {}))
    for ins in settings.values():
        ins.pop("_bareme"), ins.pop("_version")

    eligible: dict[str, list[_Contract]] = defaultdict(list)
    not_covering: dict[str, list[_Contract]] = defaultdict(list)
    ineligible: list[_Contract] = []
    rows = db.session.execute(
        select(Contract, Adherent.lat, Adherent.lng, Adherent.city).join(Adherent, Adherent.id == Contract.adherent_id)
        .where(Adherent.is_live).order_by(Contract.id)).all()
    for contract, lat, lng, city in rows:
        if contract.insurer_id not in settings:
            continue
        try:
            terms = elig.ContractTerms(
                id=contract.id, status=contract.status, start_date=contract.start_date, end_date=contract.end_date,
                carence_days=contract.carence_days or 0, annual_limit=contract.annual_limit,
                coverage=contract.coverage_json or {}, exclusions=tuple(contract.exclusions_json or ()))
            covered = frozenset(t for t, b in elig.parse_coverage(terms.coverage).items() if b.covered)
            elig.parse_exclusions(terms.exclusions)
        except ConfigError as exc:
            log.warning("contrat %s ignoré : %s", contract.contract_number, exc)
            continue
        c = _Contract(contract.id, contract.insurer_id, contract.adherent_id, terms, covered, lat, lng, city)
        in_carence = terms.carence_days and terms.start_date + timedelta(days=terms.carence_days) > today
        if terms.status != "active" or in_carence or terms.end_date < today - timedelta(days=300):
            ineligible.append(c)
            continue
        for care_type in CARE_TYPE_WEIGHTS:
            (eligible if care_type in covered else not_covering)[care_type].append(c)
    return _World(settings, retention, dict(eligible), ineligible, dict(not_covering), dict(outlets))


def _usage_so_far(world: _World) -> dict[tuple[str, date], int]:
    """Covered amounts already payable per (contract, contract year start)."""
    terms = {c.id: c.terms for pool in world.eligible.values() for c in pool}
    used: dict[tuple[str, date], int] = defaultdict(int)
    rows = db.session.execute(
        select(Claim.contract_id, Claim.care_date, func.sum(Claim.covered_amount))
        .where(Claim.status.not_in(NOT_PAYABLE)).group_by(Claim.contract_id, Claim.care_date))
    for contract_id, care_date, covered in rows:
        t = terms.get(contract_id)
        if t is not None and t.start_date <= care_date <= t.end_date:
            used[(contract_id, elig.contract_year(t, care_date)[0])] += int(covered or 0)
    return used


# --- one claim -------------------------------------------------------------------------------

def _pick(rng: random.Random, weights: dict[str, int]) -> str:
    return rng.choices(list(weights), weights=list(weights.values()))[0]


class _Generator:
    def __init__(self, world: _World, today: date, rng: random.Random, used: dict[tuple[str, date], int]):
        self.world, self.today, self.rng, self.used = world, today, rng, used
        self.now = datetime.now(UTC)
        self.oldest = today - timedelta(days=364)
        # Short references: this run's claims numbered from a random start, spread by a bijection
        # (domain.reference.SPREAD): distinct within the run without keeping them in memory.
        self.reference_seq = secrets.randbits(5 * claim_reference.RANDOM_SYMBOLS)
        self.recons: dict[tuple[str, date], str] = {}  # (insurer, month) -> reconciliation id (this run)
        self.status_counts: dict[str, int] = defaultdict(int)
        self.counters: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        # (insurer, care type) -> totals of the latest approved claims: the usual amount's sample
        self.approved_totals: dict[tuple[str, str], deque[int]] = defaultdict(lambda: deque(maxlen=USUAL_SAMPLE))
        catalogue = {t: items_for(t) for t in CARE_TYPE_WEIGHTS}
        self.drugs = [i for i in catalogue["pharmacy"] if i.category != "cosmetique"]
        self.cosmetics = [i for i in catalogue["pharmacy"] if i.category == "cosmetique"]
        self.acts = [i for i in catalogue["consultation"] if i.category in ("consultation", "visite")]
        self.technical = [i for i in catalogue["consultation"] if i.category not in ("consultation", "visite")]
        self.analyses = list(catalogue["lab"])
        self.hospital = {i.code: i for i in catalogue["hospitalization"]}

    # -- choices --

    def _window(self, contract: _Contract, outlet: _Outlet, target: str) -> tuple[date, date] | None:
        start = max(self.oldest, outlet.start)
        end = min(self.today, outlet.end or self.today)
        if target != "rejected":
            start, end = max(start, contract.in_force_from), min(end, contract.terms.end_date)
        if target in ("pending", "eligible"):
            start = max(start, self.today - timedelta(days=6))
        if target == "paid":
            end = min(end, self.today - timedelta(days=PAID_AFTER_DAYS))
        return (start, end) if start <= end else None

    def _context(self, target: str, care_type: str):
        rng, world = self.rng, self.world
        for _attempt in range(20):
            flavour = None
            if target == "rejected":
                flavour = rng.choice(("ineligible", "not_covered", "excluded"))
                if flavour == "not_covered" and not world.not_covering.get(care_type):
                    flavour = "ineligible"
                if flavour == "excluded" and care_type != "pharmacy":
                    flavour = "ineligible"
                pool = {"ineligible": world.ineligible, "not_covered": world.not_covering.get(care_type, []),
                        "excluded": world.eligible.get(care_type, [])}[flavour]
            else:
                pool = world.eligible.get(care_type, [])
            if not pool:
                if target == "rejected":
                    target, flavour = "approved", None
                continue
            contract = rng.choice(pool)
            outlets = world.outlets.get((contract.insurer_id, care_type))
            if not outlets:
                continue
            outlet = rng.choice(outlets)
            window = self._window(contract, outlet, "rejected" if flavour in ("ineligible", "not_covered") else target)
            if window is None:
                continue
            care_date = window[0] + timedelta(days=rng.randint(0, (window[1] - window[0]).days))
            used = self._used(contract, care_date)
            limit = contract.terms.annual_limit
            if target != "rejected" and limit is not None and used >= limit and _attempt < 19:
                continue  # contract year used up: look for another contract
            return target, flavour, contract, outlet, care_date, used
        return None

    def _used(self, contract: _Contract, on: date) -> int:
        t = contract.terms
        if not t.start_date <= on <= t.end_date:
            return 0
        return self.used.get((contract.id, elig.contract_year(t, on)[0]), 0)

    def _price(self, price: int) -> int:
        # what the counter charges: around the reference price, sometimes above the tariff
        return max(10, int(price * self.rng.uniform(0.95, 1.12)) // 10 * 10)

    def _items(self, care_type: str, flavour: str | None, care_date: date) -> tuple[list[ItemInput], dict]:
        rng = self.rng
        details: dict = {}
        if care_type == "pharmacy":
            pool = self.cosmetics if flavour == "excluded" else self.drugs
            picks = rng.sample(pool, rng.choices((1, 2, 3, 4), weights=(35, 35, 20, 10))[0])
            items = [ItemInput(i.code, i.label, rng.choices((1, 2, 3), weights=(70, 25, 5))[0],
                               self._price(i.unit_price), i.is_generic) for i in picks]
            if flavour != "excluded" and rng.random() < 0.03:
                items.append(ItemInput(f"PM{rng.randint(100, 999)}", "Préparation magistrale", 1,
                                       rng.randint(8, 30) * 1000))
        elif care_type == "consultation":
            act = rng.choices(self.acts, weights=[40 if a.code == "C1" else 20 if a.code == "C2" else 5
                                                  for a in self.acts])[0]
            items = [ItemInput(act.code, act.label, 1, self._price(act.unit_price))]
            if rng.random() < 0.2:
                tech = rng.choice(self.technical)
                items.append(ItemInput(tech.code, tech.label, 1, self._price(tech.unit_price)))
        elif care_type == "lab":
            items = [ItemInput(i.code, i.label, 1, self._price(i.unit_price))
                     for i in rng.sample(self.analyses, rng.randint(1, 6))]
        else:
            h = self.hospital
            days = rng.choices((1, 2, 3, 4, 5, 7), weights=(20, 30, 20, 15, 10, 5))[0]
            room = h["CH-J"] if rng.random() < 0.6 else h["CH-D"]
            items = [ItemInput("ADM", h["ADM"].label, 1, h["ADM"].unit_price),
                     ItemInput(room.code, room.label, days, self._price(room.unit_price))]
            kind = rng.random()
            if kind < 0.6:
                act = h[rng.choice(("KC50", "KC75", "KC100", "KC150", "KC200"))]
                items += [ItemInput("BLOC", h["BLOC"].label, 1, self._price(h["BLOC"].unit_price)),
                          ItemInput(act.code, act.label, 1, self._price(act.unit_price)),
                          ItemInput("ANE", h["ANE"].label, 1, self._price(h["ANE"].unit_price))]
            elif kind < 0.8:
                act = h["ACC"] if rng.random() < 0.7 else h["ACC-C"]
                items.append(ItemInput(act.code, act.label, 1, self._price(act.unit_price)))
            else:
                items.append(ItemInput("SI-J", h["SI-J"].label, rng.randint(1, days), self._price(h["SI-J"].unit_price)))
            items.append(ItemInput("PHAR-H", h["PHAR-H"].label, 1, self._price(h["PHAR-H"].unit_price)))
            details = {"admissionDate": care_date.isoformat(),
                       "dischargeDate": (care_date + timedelta(days=days)).isoformat(), "days": days,
                       "room": f"{rng.randint(1, 4)}{rng.randint(1, 40):02d}"}
        return items, details

    def _fraud(self, target: str, contract: _Contract, outlet: _Outlet, care_type: str, care_date: date,
               items: list[ItemInput]) -> FraudContext:
        if target not in ("pending_review", "blocked"):
            return FraudContext(member_lat=contract.lat, member_lng=contract.lng, member_city=contract.city,
                                provider_lat=outlet.lat, provider_lng=outlet.lng, provider_city=outlet.city,
                                provider_id=outlet.provider_id)
        total = sum(i.quantity * i.unit_price for i in items)
        # the same code billed the day before (DUPLICATE) and an amount far above the usual (UNUSUAL_AMOUNT)
        recent = [RecentClaim(care_date - timedelta(days=1), outlet.provider_id, care_type, (items[0].code,), total)]
        if target == "blocked":  # ... and many claims this month (HIGH_FREQUENCY)
            recent += [RecentClaim(care_date - timedelta(days=k), None, "consultation", ("C1",), 45_000)
                       for k in range(4, 12)]
        return FraudContext(recent_claims=tuple(recent), usual_amount=max(1, total // 4),
                            provider_id=outlet.provider_id)

    # -- the claim --

    def claim(self, batch: _Batch) -> None:
        rng = self.rng
        care_type = _pick(rng, CARE_TYPE_WEIGHTS)
        target = _pick(rng, TARGET_WEIGHTS)
        picked = self._context(target, care_type)
        while picked is None:  # nothing fits this care type (e.g. no clinic under convention): another one
            care_type = _pick(rng, CARE_TYPE_WEIGHTS)
            picked = self._context("approved", care_type)
        target, flavour, contract, outlet, care_date, used = picked
        items, details = self._items(care_type, flavour, care_date)
        tariffs = outlet.tariffs_for({normalize_code(i.code) for i in items})
        ctx = ClaimContext(care_type=care_type, care_date=care_date, terms=contract.terms, tariffs=tariffs,
                           used_this_year=used, fraud=self._fraud(target, contract, outlet, care_type, care_date, items),
                           insurer_config=self.world.insurer_settings[contract.insurer_id])
        result = adjudicate(ctx, items)

        status, code, reason = result.status, result.reason_code, result.reason
        created = self._created_at(care_date)
        validated = None
        if status == "pending_review" and code == reasons.PRIOR_APPROVAL and target in ("approved", "paid"):
            # the insurer's agent gave its agreement (prise en charge) a day or two later
            status, code, reason = "approved", reasons.APPROVED, "Prise en charge accordée par l'assureur"
            validated = min(self.now, created + timedelta(hours=rng.randint(4, 48)))
        elif status == "approved" and target == "pending":
            status, code, reason = "pending", None, "Demande en cours de traitement"
        elif status == "approved" and target == "eligible":
            status, code, reason = "eligible", reasons.ELIGIBLE, result.eligibility.message
        elif status == "approved":
            validated = created
        reconciliation_id = None
        if status == "approved" and target == "paid" and care_date <= self.today - timedelta(days=PAID_AFTER_DAYS):
            status = "paid"
            reconciliation_id = self._reconciliation(batch, contract.insurer_id, care_date)

        stamp = created.timestamp()
        claim, lines = claim_rows(
            result, claim_id=str(ULID.from_timestamp(stamp)), care_type=care_type, contract_id=contract.id,
            provider_id=outlet.provider_id, adherent_id=contract.adherent_id, insurer_id=contract.insurer_id,
            care_date=care_date, created_at=created, created_by=BULK_MARK, status=status, reason_code=code,
            status_reason=reason, validated_at=validated, details=details, reconciliation_id=reconciliation_id,
            line_id=lambda: str(ULID.from_timestamp(stamp)),
            reference=claim_reference.new_reference(care_type, created.date(),
                                                    self.reference_seq * claim_reference.SPREAD))
        self.reference_seq += 1
        batch.claims.append(claim)
        batch.items.extend(lines)
        if status not in NOT_PAYABLE and contract.terms.start_date <= care_date <= contract.terms.end_date:
            key = (contract.id, elig.contract_year(contract.terms, care_date)[0])
            self.used[key] = self.used.get(key, 0) + result.covered_amount
        self.status_counts[status] += 1
        c = self.counters[contract.insurer_id]
        c["claims"] += 1
        c[f"status:{status}"] += 1
        c["total"] += result.total_amount
        c["covered"] += result.covered_amount
        c[f"{care_type}:n"] += 1
        c[f"{care_type}:sum"] += result.total_amount
        if status in ("approved", "paid"):
            self.approved_totals[(contract.insurer_id, care_type)].append(result.total_amount)

    def _created_at(self, care_date: date) -> datetime:
        local = datetime(care_date.year, care_date.month, care_date.day, self.rng.randint(8, 19),
                         self.rng.randint(0, 59), self.rng.randint(0, 59), tzinfo=UTC)
        created = local - TUNIS_UTC_OFFSET
        if created > self.now:
            created = self.now - timedelta(seconds=self.rng.randint(1, 3600))
        return created

    def _reconciliation(self, batch: _Batch, insurer_id: str, care_date: date) -> str:
        month = care_date.replace(day=1)
        key = (insurer_id, month)
        if key not in self.recons:
            end = (month + timedelta(days=32)).replace(day=1) - timedelta(days=1)
            created = min(self.now, datetime(end.year, end.month, end.day, 9, tzinfo=UTC) + timedelta(days=4))
            rid = str(ULID.from_timestamp(created.timestamp()))
            self.recons[key] = rid
            batch.reconciliations.append({
                "id": rid, "insurer_id": insurer_id, "period_start": month, "period_end": end, "total_claims": 0,
                "total_amount": 0, "total_covered": 0, "total_retentions": 0, "total_net_payable": 0,
                "pdf_path": None, "status": "paid", "created_at": created,
                "paid_at": min(self.now, created + timedelta(days=21))})
        return self.recons[key]


# --- after the batches ---------------------------------------------------------------------------

def _finish_reconciliations(gen: _Generator) -> None:
    """Totals of this run's reconciliations, as the reconciliation module adds them up:
    retention computed once per provider on its covered total."""
    if not gen.recons:
        return
    insurer_of = {rid: insurer for (insurer, _month), rid in gen.recons.items()}
    totals: dict[str, dict[str, int]] = {rid: defaultdict(int) for rid in insurer_of}
    ids = list(insurer_of)
    for start in range(0, len(ids), 500):
        rows = db.session.execute(
            select(Claim.reconciliation_id, Claim.provider_id, func.count(), func.sum(Claim.total_amount),
                   func.sum(Claim.covered_amount))
            .where(Claim.reconciliation_id.in_(ids[start:start + 500]))
            .group_by(Claim.reconciliation_id, Claim.provider_id))
        for rid, _provider, count, total, covered in rows:
            retention = apply_rate(int(covered), gen.world.retention_bp.get(insurer_of[rid], 0))
            t = totals[rid]
            t["claims"] += count
            t["amount"] += int(total)
            t["covered"] += int(covered)
            t["retention"] += retention
            t["net"] += int(covered) - retention
    table = Reconciliation.__table__
    db.session.connection().execute(
        update(table).where(table.c.id == bindparam("rid")).values(
            total_claims=bindparam("claims"), total_amount=bindparam("amount"), total_covered=bindparam("covered"),
            total_retentions=bindparam("retention"), total_net_payable=bindparam("net")),
        [{"rid": rid, "claims": 0, "amount": 0, "covered": 0, "retention": 0, "net": 0, **t}
         for rid, t in totals.items()])


def _bump_counters(gen: _Generator) -> None:
    """The per-insurer counters the events worker keeps (see dhamen.claims.events)."""


    try:
        pipe = services().redis.pipeline()
        for insurer_id, counters in gen.counters.items():
            key = f"stats:insurer:{insurer_id}"
            for name, value in counters.items():
                if name.endswith((":n", ":sum")) and not name.startswith("status:"):
                    care_type, what = name.rsplit(":", 1)
                    pipe.hincrby(f"{key}:{care_type}", what, value)
                else:
                    pipe.hincrby(key, name, value)
        for (insurer_id, care_type), totals in gen.approved_totals.items():
            if totals:
                approved = f"stats:insurer:{insurer_id}:{care_type}:approved"
                pipe.lpush(approved, *totals)
                pipe.ltrim(approved, 0, USUAL_SAMPLE - 1)
        pipe.execute()
    except redis.exceptions.RedisError as exc:
        log.warning("compteurs Redis non mis à jour : %s", exc)
