"""A small, fully controlled dataset for the claims service/API/event tests.

The fixture ``shop`` (``build_shop``) is in ``tests/conftest.py``; import the helpers a module
needs (``from claims_helpers import post_claim``).

Insurer ``A`` (barème from the catalogue, default fraud thresholds) has a
convention with one provider of each type (``P1``); insurer ``B`` has none.
A second pharmacy ``P2`` (also under convention) and an inactive pharmacy
have their own pharmacists.  One member per contract situation.
"""

from __future__ import annotations

import contextlib
import threading
from dataclasses import dataclass, field
from datetime import date, timedelta

from flask import g

COVERAGE = {
    "pharmacy": {"rate": 80, "generic_rate": 90},
    "consultation": {"rate": 70},
    "lab": {"rate": 80},
    "hospitalization": {"rate": 90, "room_day_cap": 120_000},
}
PROVIDER_ROLE = {"pharmacist": "PHARMACIST", "doctor": "DOCTOR", "lab": "LAB_MANAGER", "clinic": "CLINIC_ADMIN"}


@dataclass
class Shop:
    insurers: dict = field(default_factory=dict)
    providers: dict = field(default_factory=dict)  # "pharmacist" / "doctor" / "lab" / "clinic" / "pharmacist2" / "inactive"
    members: dict = field(default_factory=dict)  # label -> Adherent
    contracts: dict = field(default_factory=dict)  # label -> Contract
    users: dict = field(default_factory=dict)  # label -> User
    tokens: dict = field(default_factory=dict)  # label -> access token
    national_ids: dict = field(default_factory=dict)  # label -> CIN
    baseline: dict = field(default_factory=dict)  # row counts once built (see delta())

    def auth(self, label: str) -> dict:
        return {"Authorization": f"Bearer {self.tokens[label]}"}


def insurer_config() -> dict:
    from dhamen.domain.catalogue import reference_bareme

    return {"bareme_version": "TA-2026.1", "bareme": reference_bareme(),
            "fraud": {"review_threshold": 40, "block_threshold": 75}, "hospitalization_auto_approve": False,
            "retention_rate": 1.5}


def build_shop(today: date | None = None) -> Shop:
    from dhamen.access.auth import tokens
    from dhamen.access.auth.passwords import hash_password
    from dhamen.extensions import db
    from dhamen.models import Adherent, Claim, Contract, Convention, Insurer, Provider, User

    today = today or date.today()
    s = Shop()
    s.insurers["A"] = Insurer(code="TA", name="Assurances Test A", config_json=insurer_config())
    s.insurers["B"] = Insurer(code="TB", name="Assurances Test B", config_json=insurer_config())
    db.session.add_all(s.insurers.values())
    specs = {"pharmacist": ("pharmacist", "Pharmacie Test", True), "doctor": ("doctor", "Dr Test", True),
             "lab": ("lab", "Labo Test", True), "clinic": ("clinic", "Clinique Test", True),
             "pharmacist2": ("pharmacist", "Pharmacie Voisine", True),
             "inactive": ("pharmacist", "Pharmacie Fermée", False)}
    for n, (label, (kind, name, active)) in enumerate(specs.items()):
        s.providers[label] = Provider(type=kind, name=name, license_no=f"T-{n}", address="1 rue Test", city="Tunis",
                                      lat=36.80, lng=10.18, is_active=active)
    db.session.add_all(s.providers.values())
    db.session.flush()
    for label, provider in s.providers.items():
        db.session.add(Convention(insurer_id=s.insurers["A"].id, provider_id=provider.id,
                                  bareme_json={"version": f"CONV-{label}", "tariffs": {"PH0001": 5_000}},
                                  start_date=today - timedelta(days=800)))
    situations = {
        # label: (insurer, status, start offset days, end offset days, carence, limit)
        "active": ("A", "active", -400, 400, 0, 1_000_000),
        "unlimited": ("A", "active", -400, 400, 0, None),
        "suspended": ("A", "suspended", -400, 400, 0, None),
        "expired": ("A", "expired", -800, -30, 0, None),
        "ended": ("A", "active", -800, -30, 0, None),
        "carence": ("A", "active", -10, 355, 60, None),
        "limited": ("A", "active", -100, 265, 0, 150_000),
        "foreign": ("B", "active", -400, 400, 0, None),
    }
    for n, (label, (ins, status, start, end, carence, limit)) in enumerate(situations.items()):
        cin = f"{10_000_000 + n * 1_111_111:08d}"
        member = Adherent(national_id=cin, first_name=f"Prénom{label.title()}", last_name=f"Nom{label.title()}",
                          date_of_birth=date(1980, 1, 1 + n), gender="F" if n % 2 else "M", city="Tunis",
                          lat=36.81, lng=10.17)
        db.session.add(member)
        db.session.flush()
        contract = Contract(insurer_id=s.insurers[ins].id, adherent_id=member.id,
                            contract_number=f"CT-{label.upper()}-001", plan_type="family",
                            start_date=today + timedelta(days=start), end_date=today + timedelta(days=end),
                            carence_days=carence, annual_limit=limit, coverage_json=COVERAGE,
                            exclusions_json=["cat:cosmetique", "PH0099"], status=status)
        db.session.add(contract)
        s.members[label], s.contracts[label], s.national_ids[label] = member, contract, cin
    db.session.flush()
    # The "limited" contract already used 100 000 of its 150 000 this contract year.
    c = s.contracts["limited"]
    db.session.add(Claim(type="pharmacy", contract_id=c.id, provider_id=s.providers["pharmacist2"].id,
                         adherent_id=c.adherent_id, insurer_id=c.insurer_id, care_date=today - timedelta(days=20),
                         total_amount=125_000, covered_amount=100_000, copay_amount=25_000, status="approved"))
    pw = hash_password("Correct-Horse-Battery-42")
    users = {label: (PROVIDER_ROLE[p.type], {"provider_id": p.id}) for label, p in s.providers.items()}
    users |= {"agentA": ("INSURER_AGENT", {"insurer_id": s.insurers["A"].id}),
              "agentB": ("INSURER_AGENT", {"insurer_id": s.insurers["B"].id}),
              "admin": ("ADMIN", {})}
    for label, (role, org) in users.items():
        s.users[label] = User(email=f"{label}@claims.test", role=role, first_name="Test", last_name=label,
                              password_hash=pw, **org)
    db.session.add_all(s.users.values())
    db.session.commit()
    for label, user in s.users.items():
        s.tokens[label] = tokens.issue(user).access_token
    s.baseline = counts()
    return s


@contextlib.contextmanager
def acting_as(app, user):
    """A request context in which ``g.api_user`` is ``user``."""
    with app.test_request_context("/api/v1/_service_test"):
        g.api_user = user
        yield user


def drug(code="PH0009", quantity=2, price=2_100, **extra) -> dict:
    return {"code": code, "label": f"Produit {code}", "quantity": quantity, "unitPrice": price, **extra}


def claim_body(shop: Shop, contract: str = "active", items=None, **extra) -> dict:
    return {"contractId": shop.contracts[contract].id, "items": items or [drug()], **extra}


def post_claim(client, shop: Shop, care_type="pharmacy", who="pharmacist", body=None, headers=None, **kw):
    body = body if body is not None else claim_body(shop, **kw)
    return client.post(f"/api/v1/claims/{care_type}", json=body, headers={**shop.auth(who), **(headers or {})})


def insurer_counters(insurer_id: str) -> dict[str, int]:
    """The insurer's event counters in Redis (``stats:insurer:<id>``)."""
    from dhamen.core.services import services

    return {k.decode(): int(v) for k, v in services().redis.hgetall(f"stats:insurer:{insurer_id}").items()}


def run_event_jobs(app) -> None:
    """Events run inline with the embedded Redis; with a real Redis, work the RQ queue here."""
    svc = app.extensions["dhamen.services"]
    if svc.inline_jobs:
        return
    from rq import SimpleWorker

    SimpleWorker([svc.queues["events"]], connection=svc.redis).work(burst=True)


def delta(shop: Shop) -> dict:
    """Rows added since the shop was built (all zero: nothing stored)."""
    now = counts()
    return {k: now[k] - shop.baseline.get(k, 0) for k in now}


def counts():
    from sqlalchemy import func, select

    from dhamen.extensions import db
    from dhamen.models import AuditLog, Claim, ClaimItem, IdempotencyKey

    db.session.expire_all()
    out = {name: db.session.scalar(select(func.count()).select_from(model))
           for name, model in (("claims", Claim), ("items", ClaimItem), ("keys", IdempotencyKey))}
    out["audit_create"] = db.session.scalar(select(func.count()).select_from(AuditLog)
                                            .where(AuditLog.action == "claim.create"))
    return out


def post_together(app, monkeypatch, requests: list[tuple[dict, dict]], timeout: float = 30) -> list:
    """Post each ``(body, headers)`` to ``POST /api/v1/claims/pharmacy`` from its own thread, all of
    them held in ``operations.prepare`` until every one is there (a barrier), so the database decides
    between them.  The answers, in the order of ``requests`` (``None`` for one that did not finish
    within ``timeout`` seconds)."""
    from dhamen.claims import operations

    barrier = threading.Barrier(len(requests), timeout=10)
    real_prepare = operations.prepare

    def prepare(*args, **kwargs):
        barrier.wait()
        return real_prepare(*args, **kwargs)

    monkeypatch.setattr(operations, "prepare", prepare)
    results = [None] * len(requests)

    def submit(n):
        body, headers = requests[n]
        with app.test_client() as c:
            results[n] = c.post("/api/v1/claims/pharmacy", json=body, headers=headers)

    threads = [threading.Thread(target=submit, args=(n,)) for n in range(len(requests))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout)
    return results
