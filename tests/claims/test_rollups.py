"""``contract_usage``, kept by triggers on claims (migration a7d3c9e1f2b4), always equals a GROUP BY of
the claims — after inserts, status changes and amount changes, whatever the path (SQL, the counter, an
insurer's decision, a payment) — on SQLite and PostgreSQL; and the counter home's month figures, read
from the day roll-up ``claim_day_totals`` (migration c3d9e8f1a2b4, its own tests in tests/insurer)
plus today's claims, equal a scan of the month's claims."""

from __future__ import annotations

import importlib.util
import os
from collections import Counter
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path

import pytest
import sqlalchemy as sa
from claims_helpers import acting_as, claim_body, drug, post_claim, post_together
from db_helpers import fresh_database_url
from flask_migrate import downgrade, upgrade
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dhamen import create_app
from dhamen.claims import figures, queries
from dhamen.core.sqltypes import new_id
from dhamen.extensions import db
from dhamen.models import Claim, ContractUsage

NOT_PAYABLE = ("rejected", "blocked")
MIGRATION = Path(__file__).resolve().parents[2] / "migrations" / "versions" / "a7d3c9e1f2b4_contract_usage.py"
_C = Claim.__table__.c


def expected() -> dict:
    """The usage recomputed from the claims, in Python."""
    usage: Counter = Counter()
    for r in db.session.execute(sa.select(_C.contract_id, _C.care_date, _C.status, _C.covered_amount)):
        if r.status not in NOT_PAYABLE:
            usage[(r.contract_id, r.care_date)] += r.covered_amount
    return _nonzero(usage)


def stored() -> dict:
    return _nonzero(Counter({(r.contract_id, r.care_date): r.covered_amount
                             for r in db.session.scalars(sa.select(ContractUsage))}))


def _nonzero(counter: Counter) -> dict:
    return {k: v for k, v in counter.items() if v}


def assert_usage_exact():
    assert stored() == expected()


# --- any sequence of changes, through SQL ---------------------------------------------------------

STATUSES = ("pending", "eligible", "approved", "pending_review", "blocked", "rejected")
_insert = st.tuples(st.just("insert"), st.sampled_from(("active", "unlimited", "limited", "foreign")),
                    st.sampled_from(("pharmacist", "pharmacist2")), st.sampled_from(STATUSES),
                    st.integers(0, 500_000), st.integers(0, 100), st.integers(-40 * 24, 0), st.integers(0, 30))
_status = st.tuples(st.just("status"), st.integers(0, 50), st.sampled_from(STATUSES))
_covered = st.tuples(st.just("covered"), st.integers(0, 50), st.integers(0, 100))


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.one_of(_insert, _status, _covered), min_size=1, max_size=25))
def test_usage_equals_a_group_by_after_any_changes(shop, steps):
    now = datetime.now(UTC)
    ids: list[str] = []
    try:
        for step in steps:
            if step[0] == "insert":
                _, contract, provider, status, total, pct, hours, care_days = step
                c = shop.contracts[contract]
                covered = total * pct // 100
                ids.append(new_id())
                db.session.execute(sa.insert(Claim.__table__).values(
                    id=ids[-1], reference=f"T{len(ids)}{new_id()[-8:]}", type="pharmacy", contract_id=c.id,
                    provider_id=shop.providers[provider].id, adherent_id=c.adherent_id, insurer_id=c.insurer_id,
                    care_date=date.today() - timedelta(days=care_days), total_amount=total, covered_amount=covered,
                    copay_amount=total - covered, status=status, created_at=now + timedelta(hours=hours),
                    updated_at=now))
            elif ids:
                claim_id = ids[step[1] % len(ids)]
                if step[0] == "status":
                    db.session.execute(sa.update(Claim.__table__).where(_C.id == claim_id).values(status=step[2]))
                else:
                    db.session.execute(sa.update(Claim.__table__).where(_C.id == claim_id).values(
                        covered_amount=_C.total_amount * step[2] // 100,
                        copay_amount=_C.total_amount - _C.total_amount * step[2] // 100))
        assert_usage_exact()
        # An update that changes nothing the roll-ups hold leaves them alone.
        db.session.execute(sa.update(Claim.__table__).values(notes="vu"))
        assert_usage_exact()
        if ids:
            db.session.execute(sa.delete(Claim.__table__).where(_C.id == ids[0]))
            assert_usage_exact()
    finally:
        db.session.rollback()


# --- the application's paths ----------------------------------------------------------------------

def test_counter_claims_and_insurer_decisions_keep_the_usage_exact(app, client, shop):
    from dhamen.insurer import decisions

    contract = shop.contracts["active"]
    for items in ([drug("PH0009", 2, 2_100)], [drug("PH0023", 1, 25_000)], [drug("PH0038", 1, 50_000)]):
        r = post_claim(client, shop, body=claim_body(shop, items=items))
        assert r.status_code == 201, r.get_json()
    stays = []
    for days_ago in (5, 30):
        admission = date.today() - timedelta(days=days_ago)
        body = claim_body(shop, items=[{"code": "CH-J", "label": "Chambre", "quantity": 2, "unitPrice": 100_000},
                                       {"code": "BLOC", "label": "Bloc", "quantity": 1, "unitPrice": 400_000}],
                          admissionDate=admission.isoformat(), dischargeDate=(admission + timedelta(days=2)).isoformat())
        r = post_claim(client, shop, "hospitalization", "clinic", body=body)
        assert r.status_code == 201 and r.get_json()["data"]["status"] == "pending_review", r.get_json()
        stays.append(r.get_json()["data"])
    db.session.expire_all()
    assert_usage_exact()
    used_before = queries.used_in_contract_year(contract, date.today())
    agent = shop.users["agentA"]
    with acting_as(app, agent):
        approved = decisions.decide(agent, stays[0]["id"], "approve")
        db.session.commit()
    db.session.expire_all()
    assert_usage_exact()
    assert approved.covered_after > 0
    assert queries.used_in_contract_year(contract, date.today()) == \
        used_before - stays[0]["coveredAmount"] + approved.covered_after
    with acting_as(app, agent):
        decisions.decide(agent, stays[1]["id"], "reject", note="Séjour non justifié")
        db.session.commit()
    db.session.expire_all()
    assert_usage_exact()
    assert queries.used_in_contract_year(contract, date.today()) == \
        used_before - stays[0]["coveredAmount"] + approved.covered_after - stays[1]["coveredAmount"]
    # The counter home's month equals a scan of the month's claims.
    f = figures.period_figures(shop.users["pharmacist"])
    month = db.session.execute(sa.select(sa.func.count(), sa.func.sum(_C.total_amount)).where(
        _C.provider_id == shop.providers["pharmacist"].id,
        _C.created_at >= datetime.combine(date.today().replace(day=1), datetime.min.time()).astimezone(UTC))).one()
    assert (f.month.claims, f.month.total) == (month[0], month[1])


def test_payment_leaves_the_usage_alone(shop):
    """approved → paid (what paying a bordereau does, in one UPDATE of many rows): still payable."""
    from dhamen.models import Reconciliation

    recon = Reconciliation(insurer_id=shop.insurers["A"].id, period_start=date.today() - timedelta(days=30),
                           period_end=date.today(), total_claims=1, total_amount=125_000, total_covered=100_000,
                           total_net_payable=100_000, status="sent")
    db.session.add(recon)
    db.session.flush()
    usage = stored()
    assert sum(usage.values()) == 100_000
    db.session.execute(sa.update(Claim.__table__).where(_C.status == "approved").values(reconciliation_id=recon.id))
    db.session.execute(sa.update(Claim.__table__).where(_C.reconciliation_id == recon.id).values(status="paid"))
    assert_usage_exact()
    assert stored() == usage
    db.session.rollback()


@pytest.mark.parametrize("offset_hours", [0, 1, -5], ids=["server-utc", "server-tunis", "server-utc-5"])
def test_month_figures_read_the_rollup_and_today_live(shop, monkeypatch, offset_hours):
    """Whatever the server's calendar (UTC, Tunisia's, five hours behind), the roll-up days (Tunisia's)
    wholly inside the month come from the roll-up, the rest from the claims: the figures of a scan."""
    zone = timezone(timedelta(hours=offset_hours))
    monkeypatch.setattr(figures, "_local_midnight",
                        lambda day: datetime.combine(day, datetime.min.time(), tzinfo=zone).astimezone(UTC))
    c, pharmacy = shop.contracts["active"], shop.providers["pharmacist"]
    today = date(2026, 3, 17)
    at = [datetime(2026, 2, 28, 22, 59, tzinfo=UTC), datetime(2026, 2, 28, 23, 30, tzinfo=UTC),
          datetime(2026, 3, 1, 0, 30, tzinfo=UTC), datetime(2026, 3, 1, 4, 30, tzinfo=UTC),
          datetime(2026, 3, 1, 5, 30, tzinfo=UTC), datetime(2026, 3, 10, 12, 0, tzinfo=UTC),
          datetime(2026, 3, 16, 22, 10, tzinfo=UTC), datetime(2026, 3, 16, 23, 10, tzinfo=UTC),
          datetime(2026, 3, 17, 4, 0, tzinfo=UTC), datetime(2026, 3, 17, 6, 0, tzinfo=UTC),
          datetime(2026, 3, 17, 22, 59, tzinfo=UTC), datetime(2026, 3, 17, 23, 30, tzinfo=UTC),
          datetime(2026, 3, 18, 3, 0, tzinfo=UTC), datetime(2026, 3, 18, 6, 0, tzinfo=UTC)]
    statuses = ("approved", "rejected", "pending_review", "blocked")
    for n, created in enumerate(at):
        db.session.add(Claim(id=new_id(), type="pharmacy", contract_id=c.id, provider_id=pharmacy.id,
                             adherent_id=c.adherent_id, insurer_id=c.insurer_id, care_date=date(2026, 3, 1),
                             total_amount=1_000 * (n + 1), covered_amount=10 * (n + 1),
                             copay_amount=1_000 * (n + 1) - 10 * (n + 1), status=statuses[n % 4],
                             created_at=created, updated_at=created))
    db.session.flush()

    def period(lo: datetime, hi: datetime) -> figures.Period:
        inside = [(n, at[n]) for n in range(len(at)) if lo <= at[n] < hi]
        return figures.Period(len(inside), sum(1_000 * (n + 1) for n, _ in inside),
                              sum(10 * (n + 1) for n, _ in inside if statuses[n % 4] not in NOT_PAYABLE))

    local = figures._local_midnight
    f = figures.period_figures(shop.users["pharmacist"], today)
    assert f.today == period(local(today), local(today + timedelta(days=1)))
    assert f.month == period(local(date(2026, 3, 1)), local(today + timedelta(days=1)))
    assert f.month.claims >= 5
    db.session.rollback()


# --- the migration: backfill in batches, up and down ----------------------------------------------

def _load_migration():
    spec = importlib.util.spec_from_file_location("rollup_migration", MIGRATION)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_backfill_in_batches_equals_a_group_by(shop, monkeypatch):
    migration = _load_migration()
    monkeypatch.setattr(migration, "BATCH", 2)
    c = shop.contracts["active"]
    for n in range(7):
        created = datetime.now(UTC) - timedelta(days=n, hours=n)
        db.session.add(Claim(id=new_id(), type="pharmacy", contract_id=c.id, provider_id=shop.providers["pharmacist"].id,
                             adherent_id=c.adherent_id, insurer_id=c.insurer_id, care_date=date.today() - timedelta(days=n % 3),
                             total_amount=1_000 + n, covered_amount=n * 100, copay_amount=1_000 + n - n * 100,
                             status=STATUSES[n % len(STATUSES)], created_at=created, updated_at=created))
    db.session.flush()
    want = expected()
    db.session.execute(sa.delete(ContractUsage.__table__))
    migration._backfill(db.session.connection())
    assert stored() == want
    db.session.rollback()


def test_migration_up_backfills_and_down_drops(app_env, tmp_path):
    from claims_helpers import build_shop

    app = create_app(dict(app_env, DHAMEN_INSTANCE_PATH=str(tmp_path),
                          DATABASE_URL=fresh_database_url(app_env, tmp_path, "rollup")))
    with app.app_context():
        upgrade()
        shop = build_shop()
        c = shop.contracts["unlimited"]
        for n, status in enumerate(STATUSES):
            db.session.add(Claim(id=new_id(), type="pharmacy", contract_id=c.id, provider_id=shop.providers["pharmacist"].id,
                                 adherent_id=c.adherent_id, insurer_id=c.insurer_id, care_date=date.today(),
                                 total_amount=10_000, covered_amount=1_000 * n, copay_amount=10_000 - 1_000 * n,
                                 status=status))
        db.session.commit()
        other = {"contract": shop.contracts["active"].id, "adherent": shop.contracts["active"].adherent_id,
                 "insurer": shop.contracts["active"].insurer_id, "provider": shop.providers["pharmacist2"].id}
        want = expected()
        assert stored() == want
        db.session.remove()
        downgrade(revision="c3d9e8f1a2b4")
        assert "contract_usage" not in set(sa.inspect(db.engine).get_table_names())
        with db.engine.begin() as conn:  # a claim entered while the roll-ups did not exist
            conn.execute(sa.insert(Claim.__table__).values(
                id=new_id(), reference="TDOWN0001", type="pharmacy", contract_id=other["contract"],
                provider_id=other["provider"], adherent_id=other["adherent"], insurer_id=other["insurer"],
                care_date=date.today(), total_amount=7_000, covered_amount=5_000, copay_amount=2_000,
                status="approved", created_at=datetime.now(UTC), updated_at=datetime.now(UTC)))
        upgrade()
        assert stored() == expected() and stored() != want
        db.session.remove()
        downgrade(revision="base")
        db.engine.dispose()


@pytest.mark.skipif(not os.environ.get("DATABASE_URL"), reason="needs PostgreSQL (DATABASE_URL)")
def test_four_concurrent_claims_never_overspend_and_the_usage_stays_exact(app, shop, monkeypatch):
    """Four claims on one contract enter ``prepare`` together (a barrier); 50 000 left of 150 000, each
    alone would be covered 40 000.  The contract's row lock orders them; each reads the usage row its
    predecessor's trigger wrote: the year never goes over its limit, and the usage equals the claims."""
    contract = shop.contracts["limited"]
    bodies = [{"contractId": contract.id, "items": [drug(code, 1, 50_000)]}
              for code in ("PH0023", "PH0038", "PH0050", "PH0051")]
    headers = shop.auth("pharmacist")
    results = post_together(app, monkeypatch, [(body, {**headers, "Idempotency-Key": f"usage-{n}"})
                                               for n, body in enumerate(bodies)], timeout=60)
    assert all(r is not None and r.status_code == 201 for r in results), [r and r.get_json() for r in results]
    db.session.expire_all()
    used = queries.used_in_contract_year(contract, date.today())
    assert used <= 150_000
    payable = sum(r.get_json()["data"]["coveredAmount"] for r in results
                  if r.get_json()["data"]["status"] not in NOT_PAYABLE)
    assert used == 100_000 + payable and payable > 0
    assert_usage_exact()
