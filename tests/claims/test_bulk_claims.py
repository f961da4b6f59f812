"""dhamen.seed.bulk: N claims through the engine's arithmetic, every status, top-up semantics."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
import time_machine
from sqlalchemy import func, select, text

from dhamen.domain.catalogue import CARE_TYPES as CLAIM_TYPES
from dhamen.domain.transitions import CLAIM_STATUSES
from dhamen.extensions import db
from dhamen.models import AuditLog, Claim, Contract, Reconciliation
from dhamen.seed.bulk import BULK_MARK, generate_claims

TODAY = date(2026, 11, 25)
N = 600


@pytest.fixture
def bulk(ctx):
    """Demo data and N generated claims, on a fixed date (the spread over months depends on it)."""
    from dhamen.seed.demo import seed_demo

    with time_machine.travel(datetime(2026, 11, 25, 16, tzinfo=UTC), tick=False):
        seed_demo(members=30)
        messages = []
        created = generate_claims(N, batch_size=250, progress=messages.append, seed=7)
    assert created == N
    return messages


def scalar(sql: str):
    return db.session.execute(text(sql)).scalar()


def test_every_claim_balances_and_equals_the_sum_of_its_lines(bulk):
    assert scalar("SELECT count(*) FROM claims WHERE covered_amount + copay_amount <> total_amount "
                  "OR covered_amount < 0 OR copay_amount < 0") == 0
    assert scalar("SELECT count(*) FROM claim_items WHERE covered_amount + copay_amount <> line_total "
                  "OR line_total <> quantity * unit_price") == 0
    mismatched = scalar("""
        SELECT count(*) FROM claims c JOIN (
            SELECT claim_id, sum(line_total) AS t, sum(covered_amount) AS cv, sum(copay_amount) AS cp, count(*) AS n
            FROM claim_items GROUP BY claim_id) s ON s.claim_id = c.id
        WHERE s.t <> c.total_amount OR s.cv <> c.covered_amount OR s.cp <> c.copay_amount""")
    assert mismatched == 0
    assert scalar("SELECT count(*) FROM claims c WHERE NOT EXISTS "
                  "(SELECT 1 FROM claim_items i WHERE i.claim_id = c.id)") == 0
    # lines are the engine's: the covered amount never exceeds the rate applied to the capped price
    assert scalar("SELECT count(*) FROM claim_items WHERE covered_amount > quantity * capped_unit_price "
                  "OR capped_unit_price > unit_price") == 0


def test_spread_over_statuses_types_providers_and_months(bulk):
    statuses = dict(db.session.execute(select(Claim.status, func.count()).group_by(Claim.status)).all())
    assert set(statuses) == set(CLAIM_STATUSES), statuses
    assert statuses["approved"] > statuses["pending"] and statuses["approved"] > N // 4
    types = dict(db.session.execute(select(Claim.type, func.count()).group_by(Claim.type)).all())
    assert set(types) == set(CLAIM_TYPES) and types["pharmacy"] > types["hospitalization"]
    assert db.session.scalar(select(func.count(func.distinct(Claim.provider_id)))) >= 8
    dates = db.session.scalars(select(Claim.care_date)).all()
    assert min(dates) >= date(2026, 1, 1)  # the demo conventions start on 1 January
    assert max(dates) <= TODAY and min(dates) >= TODAY - timedelta(days=364)
    assert len({(d.year, d.month) for d in dates}) == 11
    reasons = set(db.session.scalars(select(Claim.reason_code).where(Claim.status == "rejected")))
    assert {"CONTRACT_INACTIVE", "EXCLUDED"} <= reasons
    assert set(db.session.scalars(select(Claim.reason_code).where(Claim.status == "pending_review"))) \
        >= {"FRAUD_REVIEW", "PRIOR_APPROVAL"}
    flags = db.session.scalars(select(Claim.fraud_flags_json).where(Claim.status == "blocked")).all()
    assert all({f["code"] for f in fl} >= {"DUPLICATE", "UNUSUAL_AMOUNT"} for fl in flags)


def test_providers_match_the_care_type_and_have_a_convention(bulk):
    assert scalar("""SELECT count(*) FROM claims c JOIN providers p ON p.id = c.provider_id WHERE NOT (
        (c.type = 'pharmacy' AND p.type = 'pharmacist') OR (c.type = 'consultation' AND p.type = 'doctor')
        OR (c.type = 'lab' AND p.type = 'lab') OR (c.type = 'hospitalization' AND p.type = 'clinic'))""") == 0
    assert scalar("""SELECT count(*) FROM claims c WHERE NOT EXISTS (SELECT 1 FROM conventions v
        WHERE v.insurer_id = c.insurer_id AND v.provider_id = c.provider_id AND v.start_date <= c.care_date)""") == 0
    assert scalar("SELECT count(*) FROM claims c JOIN contracts k ON k.id = c.contract_id "
                  "WHERE k.insurer_id <> c.insurer_id OR k.adherent_id <> c.adherent_id") == 0


def test_annual_limits_hold_per_contract_year(bulk):
    from dhamen.claims.queries import terms_of
    from dhamen.domain.eligibility import contract_year

    contracts = {c.id: c for c in db.session.scalars(select(Contract).where(Contract.annual_limit.is_not(None)))}
    used: dict = {}
    for contract_id, care_date, covered in db.session.execute(
            select(Claim.contract_id, Claim.care_date, Claim.covered_amount)
            .where(Claim.status.not_in(("rejected", "blocked")), Claim.contract_id.in_(contracts))):
        c = contracts[contract_id]
        key = (contract_id, contract_year(terms_of(c), care_date)[0])
        used[key] = used.get(key, 0) + covered
    assert used and all(total <= contracts[cid].annual_limit for (cid, _), total in used.items())


def test_paid_claims_sit_in_paid_reconciliations_with_exact_totals(bulk):
    assert scalar("SELECT count(*) FROM claims WHERE status = 'paid' AND reconciliation_id IS NULL") == 0
    assert scalar("SELECT count(*) FROM claims WHERE status <> 'paid' AND reconciliation_id IS NOT NULL") == 0
    assert scalar("SELECT count(*) FROM claims c JOIN reconciliations r ON r.id = c.reconciliation_id "
                  "WHERE r.insurer_id <> c.insurer_id OR c.care_date < r.period_start "
                  "OR c.care_date > r.period_end") == 0
    for rec in db.session.scalars(select(Reconciliation)):
        n, total, covered = db.session.execute(
            select(func.count(), func.sum(Claim.total_amount), func.sum(Claim.covered_amount))
            .where(Claim.reconciliation_id == rec.id)).one()
        assert rec.status == "paid" and rec.paid_at is not None
        assert (rec.total_claims, rec.total_amount, rec.total_covered) == (n, total, covered)
        assert rec.total_net_payable == rec.total_covered - rec.total_retentions
        assert 0 < rec.total_retentions < rec.total_covered * 0.03


def test_ids_times_and_marks(bulk):
    claims = db.session.scalars(select(Claim)).all()
    assert all(c.created_by == BULK_MARK and len(c.id) == 26 for c in claims)
    assert all(c.created_at.date() in (c.care_date, c.care_date - timedelta(days=1)) or c.care_date == TODAY
               for c in claims)
    assert all(c.validated_at is not None for c in claims if c.status in ("approved", "paid"))
    hosp = [c for c in claims if c.type == "hospitalization"]
    assert hosp and all(c.details_json["admissionDate"] == c.care_date.isoformat() for c in hosp)
    assert db.session.scalar(select(func.count()).select_from(AuditLog).where(AuditLog.action == "seed.claims")) == 1
    assert any("600/600" in m for m in bulk)


def test_seeding_again_tops_up_to_n(bulk):
    with time_machine.travel(datetime(2026, 11, 25, 17, tzinfo=UTC), tick=False):
        assert generate_claims(N, progress=lambda m: None) == 0
        assert db.session.scalar(select(func.count()).select_from(Claim)) == N
        assert generate_claims(N + 50, progress=lambda m: None) == 50
    assert db.session.scalar(select(func.count()).select_from(Claim).where(Claim.created_by == BULK_MARK)) == N + 50
    assert scalar("SELECT count(*) FROM claims WHERE covered_amount + copay_amount <> total_amount") == 0


def test_counters_follow_the_generated_claims(bulk, app):
    from claims_helpers import insurer_counters

    from dhamen.models import Insurer

    total = 0
    for insurer in db.session.scalars(select(Insurer)):
        counters = insurer_counters(insurer.id)
        n = db.session.scalar(select(func.count()).select_from(Claim).where(Claim.insurer_id == insurer.id))
        assert counters.get("claims", 0) == n
        total += n
    assert total == N


def test_without_reference_data_it_seeds_the_demo_first(ctx):
    with time_machine.travel(datetime(2026, 11, 25, 16, tzinfo=UTC), tick=False):
        messages = []
        assert generate_claims(40, batch_size=100, progress=messages.append) == 40
    assert any("Données de démonstration ajoutées" in m for m in messages)
    assert db.session.scalar(select(func.count()).select_from(Claim)) == 40
