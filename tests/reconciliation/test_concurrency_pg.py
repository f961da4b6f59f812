"""Two generations for the same insurer and period at the same time, on PostgreSQL:
one wins, the other waits for it then finds nothing left; no claim counted twice, none lost."""

from __future__ import annotations

import threading

import pytest
from claims_helpers import shop_fixture  # noqa: F401
from recon_helpers import PERIOD_END, PERIOD_START, add_claims
from sqlalchemy import func, select

from dhamen.extensions import db
from dhamen.models import Claim, Reconciliation, ReconciliationRun
from dhamen.reconciliation.generation import Period, request_generation, run_generation

pytestmark = pytest.mark.postgres


def test_two_concurrent_generations_take_each_claim_once(app, shop):
    if db.engine.dialect.name != "postgresql":
        pytest.skip("needs PostgreSQL (DATABASE_URL)")
    claims = add_claims(shop, 300) + add_claims(shop, 40, provider="doctor")
    period = Period(PERIOD_START, PERIOD_END)
    run_ids = []
    for _ in range(2):
        run_ids.append(request_generation(shop.insurers["A"].id, period, "api").id)
    db.session.info.pop("dhamen_jobs", None)  # the test runs the two jobs itself, at once
    db.session.commit()
    db.session.info.pop("dhamen_inline", None)

    barrier = threading.Barrier(2)
    outcomes, errors = {}, []

    def work(run_id):
        try:
            with app.app_context():
                barrier.wait(timeout=30)
                outcomes[run_id] = run_generation(run_id)
                db.session.remove()
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(rid,)) for rid in run_ids]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    assert not errors, errors
    assert sorted(outcomes.values()) == ["done", "empty"]

    db.session.expire_all()
    recons = db.session.scalars(select(Reconciliation)).all()
    assert len(recons) == 1
    recon = recons[0]
    taken = db.session.execute(select(Claim.reconciliation_id, func.count()).where(
        Claim.id.in_([c.id for c in claims])).group_by(Claim.reconciliation_id)).all()
    assert taken == [(recon.id, len(claims))]  # every claim, in the one reconciliation
    assert recon.total_claims == len(claims)
    assert recon.total_amount == sum(c.total_amount for c in claims)
    assert recon.total_covered == sum(c.covered_amount for c in claims)
    runs = {r.id: r for r in db.session.scalars(select(ReconciliationRun))}
    winner = next(rid for rid, state in outcomes.items() if state == "done")
    assert runs[winner].reconciliation_id == recon.id and recon.pdf_path
