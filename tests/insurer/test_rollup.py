"""The claims' day roll-ups (claim_day_totals, claim_day_flags) equal a GROUP BY of the claims.

They are kept by database triggers (migration c3d9e8f1a2b4), so every way of writing
claims is covered: the counter's API, an ORM insert, agents' decisions (full, partial,
reject), a reconciliation's bulk UPDATEs and payment, deletions, and — the property test —
any sequence of Core inserts/updates/deletes.  On SQLite and PostgreSQL.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from claims_helpers import post_claim
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from insurer_helpers import stay_claim
from sqlalchemy import delete, insert, select, update

from dhamen.core.sqltypes import new_id, utcnow
from dhamen.extensions import db
from dhamen.models import Claim, ClaimDayFlag, ClaimDayTotal, Reconciliation

TZ = ZoneInfo("Africa/Tunis")


def expected() -> tuple[dict, dict]:
    """The roll-ups recomputed from the claims, in Python (Tunisian day of created_at)."""
    totals: dict = {}
    flags: Counter = Counter()
    for c in db.session.execute(select(Claim.insurer_id, Claim.created_at, Claim.status, Claim.type,
                                       Claim.provider_id, Claim.total_amount, Claim.covered_amount,
                                       Claim.fraud_score, Claim.fraud_flags_json)):
        day = c.created_at.astimezone(TZ).date()
        key = (c.insurer_id, day, c.status, c.type, c.provider_id)
        n, asked, covered = totals.get(key, (0, 0, 0))
        totals[key] = (n + 1, asked + c.total_amount, covered + c.covered_amount)
        if c.fraud_score > 0:
            for f in c.fraud_flags_json or ():
                if f.get("code") and int(f.get("points", 0)) > 0:
                    flags[(c.insurer_id, day, f["code"])] += 1
    return totals, dict(flags)


def stored() -> tuple[dict, dict]:
    """The roll-ups as the triggers keep them (rows gone to zero left out)."""
    t, f = ClaimDayTotal, ClaimDayFlag
    totals = {(r.insurer_id, r.day, r.status, r.type, r.provider_id): (r.claims, r.total_amount, r.covered_amount)
              for r in db.session.execute(select(t))
              .scalars() if (r.claims, r.total_amount, r.covered_amount) != (0, 0, 0)}
    flags = {(r.insurer_id, r.day, r.code): r.claims for r in db.session.execute(select(f)).scalars() if r.claims}
    return totals, flags


def assert_exact() -> None:
    db.session.expire_all()
    want, got = expected(), stored()
    assert got[0] == want[0]
    assert got[1] == want[1]


def test_counter_claims_decisions_payment_and_deletion(app, client, shop):
    from dhamen.insurer import decisions
    from dhamen.reconciliation.operations import mark_paid

    stay = stay_claim(client, shop)  # hospitalization: pending_review
    stay2 = stay_claim(client, shop, days_ago=8)
    for _ in range(3):
        assert post_claim(client, shop).status_code == 201  # approved pharmacy claims
    assert post_claim(client, shop, "consultation", "doctor").status_code == 201
    assert_exact()
    assert stored()[0], "the triggers wrote nothing"

    agent = shop.users["agentA"]
    with app.test_request_context():
        decisions.decide(agent, stay["id"], "approve")
        db.session.commit()
        assert_exact()
        decisions.decide(agent, stay2["id"], "reject", "Séjour non justifié")
        db.session.commit()
    assert_exact()

    # A reconciliation: the generation's bulk UPDATE (reconciliation_id), then the payment's (status → paid).
    approved = db.session.scalars(select(Claim).where(Claim.status == "approved")).all()
    recon = Reconciliation(insurer_id=approved[0].insurer_id, period_start=date.today() - timedelta(days=30),
                           period_end=date.today(), total_claims=len(approved),
                           total_amount=sum(c.total_amount for c in approved),
                           total_covered=sum(c.covered_amount for c in approved),
                           total_net_payable=sum(c.covered_amount for c in approved), status="sent",
                           pdf_path="bordereaux/x.pdf")
    db.session.add(recon)
    db.session.flush()
    db.session.execute(update(Claim).where(Claim.id.in_([c.id for c in approved])).values(reconciliation_id=recon.id))
    db.session.commit()
    assert_exact()
    with app.test_request_context():
        assert mark_paid(db.session.get(Reconciliation, recon.id), date.today(), "VIR-1",
                         shop.users["admin"]) == len(approved)
        db.session.commit()
    assert_exact()
    paid = stored()[0]
    assert sum(v[0] for k, v in paid.items() if k[2] == "paid") == len(approved)

    # A rolled-back change leaves the roll-up as it was.
    pending = db.session.scalars(select(Claim.id).where(Claim.status == "pending_review")).all()
    before = stored()
    db.session.execute(update(Claim).values(total_amount=Claim.total_amount + 0))
    if pending:
        db.session.execute(update(Claim).where(Claim.id == pending[0]).values(status="blocked"))
    db.session.rollback()
    assert stored() == before

    # Deleting claims (test data only in practice) takes them out.
    not_reconciled = db.session.scalars(select(Claim.id).where(Claim.reconciliation_id.is_(None))).all()
    from dhamen.models import ClaimItem

    db.session.execute(delete(ClaimItem).where(ClaimItem.claim_id.in_(not_reconciled)))
    db.session.execute(delete(Claim).where(Claim.id.in_(not_reconciled)))
    db.session.commit()
    assert_exact()


def test_days_are_tunisian_days(ctx, shop):
    """A claim at 23:30 UTC on 31 March counts for 1 April in Tunis (UTC+1)."""
    c = shop.contracts["active"]
    late = datetime(2026, 3, 31, 23, 30, tzinfo=UTC)
    db.session.execute(insert(Claim), [dict(
        id=new_id(), reference=f"PH-TZ-{i}", type="pharmacy", contract_id=c.id,
        provider_id=shop.providers["pharmacist"].id, adherent_id=c.adherent_id, insurer_id=c.insurer_id,
        care_date=date(2026, 3, 31), total_amount=1_000, covered_amount=800, copay_amount=200, status="approved",
        created_at=late + timedelta(minutes=i * 40), fraud_score=0, fraud_flags_json=[]) for i in range(2)])
    db.session.commit()
    days = {k[1] for k in stored()[0] if k[0] == c.insurer_id and k[2] == "approved" and k[3] == "pharmacy"}
    assert date(2026, 4, 1) in days and date(2026, 3, 31) not in days
    assert_exact()


_FLAGS = st.lists(st.fixed_dictionaries({"code": st.sampled_from(["DUPLICATE", "HIGH_FREQUENCY", "FAR_PROVIDER"]),
                                         "points": st.sampled_from([0, 10, 45])}), max_size=3)
_OPS = st.lists(st.one_of(
    st.tuples(st.just("insert"), st.integers(1, 4), st.sampled_from(["A", "B"]),
              st.sampled_from(["pending_review", "approved", "rejected", "blocked"]),
              st.integers(-40, 0), st.integers(1, 50_000), st.integers(0, 60), _FLAGS),
    st.tuples(st.just("decide"), st.integers(0, 30), st.sampled_from(["approved", "rejected", "blocked", "paid"]),
              st.integers(0, 100)),
    st.tuples(st.just("flags"), st.integers(0, 30), st.integers(0, 60), _FLAGS),
    st.tuples(st.just("delete"), st.integers(0, 30)),
), min_size=1, max_size=12)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=_OPS)
def test_any_sequence_of_writes_keeps_the_rollup_exact(ctx, shop, ops):
    """Core INSERT (several rows per statement), UPDATE of status / covered amount / flags, DELETE:
    after each committed statement the roll-ups equal the GROUP BY of the claims."""
    db.session.execute(delete(Claim).where(Claim.created_by == "prop"))
    db.session.commit()
    recon_id = None
    now = utcnow()
    for op in ops:
        ids = db.session.scalars(select(Claim.id).where(Claim.created_by == "prop").order_by(Claim.id)).all()
        if op[0] == "insert":
            _, n, insurer, status, days, amount, score, flags = op
            c = shop.contracts["active" if insurer == "A" else "foreign"]
            rows = [dict(id=new_id(), reference=f"PROP-{new_id()[-12:]}", type="pharmacy", contract_id=c.id,
                         provider_id=shop.providers["pharmacist"].id, adherent_id=c.adherent_id,
                         insurer_id=c.insurer_id, care_date=date.today(), total_amount=amount + i,
                         covered_amount=(amount + i) // 2, copay_amount=amount + i - (amount + i) // 2,
                         status=status, created_at=now + timedelta(days=days, hours=i * 7), fraud_score=score,
                         fraud_flags_json=flags, created_by="prop") for i in range(n)]
            db.session.execute(insert(Claim), rows)
        elif op[0] == "decide" and ids:
            _, pick, status, percent = op
            claim_id = ids[pick % len(ids)]
            values = {"status": status}
            if status == "paid":
                if recon_id is None:
                    recon = Reconciliation(insurer_id=shop.contracts["active"].insurer_id, period_start=date.today(),
                                           period_end=date.today(), total_claims=0, total_amount=0, total_covered=0,
                                           total_net_payable=0)
                    db.session.add(recon)
                    db.session.flush()
                    recon_id = recon.id
                current = db.session.scalar(select(Claim.reconciliation_id).where(Claim.id == claim_id))
                values = {"status": "approved"} if current is None else {"status": "paid"}
                if current is None:
                    values["reconciliation_id"] = recon_id
            else:
                if db.session.scalar(select(Claim.reconciliation_id).where(Claim.id == claim_id)) is not None:
                    continue  # a reconciled claim keeps its status (approved / paid)
                total = db.session.scalar(select(Claim.total_amount).where(Claim.id == claim_id))
                covered = total * percent // 100
                values |= {"covered_amount": covered, "copay_amount": total - covered}
            db.session.execute(update(Claim).where(Claim.id == claim_id).values(**values))
        elif op[0] == "flags" and ids:
            _, pick, score, flags = op
            db.session.execute(update(Claim).where(Claim.id == ids[pick % len(ids)])
                               .values(fraud_score=score, fraud_flags_json=flags))
        elif op[0] == "delete" and ids:
            claim_id = ids[op[1] % len(ids)]
            if db.session.scalar(select(Claim.reconciliation_id).where(Claim.id == claim_id)) is None:
                db.session.execute(delete(Claim).where(Claim.id == claim_id))
        db.session.commit()
        assert_exact()
