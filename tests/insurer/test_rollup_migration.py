"""Migration c3d9e8f1a2b4: the roll-ups are backfilled from the claims already there (month by month,
days in Tunis), go down and up again; b7e4d2a9c1f0: the review indexes swap both ways."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import sqlalchemy as sa
from db_helpers import fresh_database_url
from flask_migrate import downgrade, upgrade

from dhamen import create_app
from dhamen.extensions import db

BEFORE = "b7e4d2a9c1f0"


def _indexes() -> set[str]:
    return {i["name"] for i in sa.inspect(db.engine).get_indexes("claims")}


def test_backfill_then_down_and_up(app_env, tmp_path):
    from claims_helpers import build_shop
    from test_rollup import assert_exact, stored

    from dhamen.core.sqltypes import new_id
    from dhamen.models import Claim

    app = create_app(dict(app_env, DHAMEN_INSTANCE_PATH=str(tmp_path),
                          DATABASE_URL=fresh_database_url(app_env, tmp_path, "rollup")))
    with app.app_context():
        upgrade(revision="f16a0b1c2d3e")
        assert {"idx_claims_review_queue", "idx_claims_insurer_created"} <= _indexes()
        upgrade(revision=BEFORE)
        assert not {"idx_claims_review_queue", "idx_claims_insurer_created"} & _indexes()
        assert {"idx_claims_review_created", "idx_claims_review_amount", "idx_claims_review_score",
                "idx_claims_review_care"} <= _indexes()
        downgrade(revision="f16a0b1c2d3e")
        assert {"idx_claims_review_queue", "idx_claims_insurer_created"} <= _indexes()
        upgrade(revision=BEFORE)
        shop = build_shop()
        c, other = shop.contracts["active"], shop.contracts["foreign"]
        start = datetime(2025, 12, 30, 22, 30, tzinfo=UTC)  # three months, across a new year, in Tunis days
        rows = []
        for i in range(240):
            contract = other if i % 5 == 0 else c
            status = ("approved", "pending_review", "rejected", "blocked")[i % 4]
            rows.append(dict(id=new_id(), reference=f"PH-MIG-{i:04d}", type=("pharmacy", "lab")[i % 2],
                             contract_id=contract.id, provider_id=shop.providers[("pharmacist", "lab")[i % 2]].id,
                             adherent_id=contract.adherent_id, insurer_id=contract.insurer_id,
                             care_date=date(2025, 12, 30), total_amount=1_000 + i, covered_amount=800,
                             copay_amount=200 + i, status=status, created_at=start + timedelta(hours=9 * i),
                             fraud_score=45 if i % 3 == 0 else 0,
                             fraud_flags_json=[{"code": "DUPLICATE", "points": 45}] if i % 3 == 0 else []))
        db.session.execute(sa.insert(Claim), rows)
        db.session.commit()
        db.session.remove()

        upgrade()  # the backfill
        totals, flags = stored()
        assert sum(v[0] for v in totals.values()) == 241  # and the shop's own claim
        assert date(2025, 12, 31) in {k[1] for k in totals}  # 22:30 UTC on 30 December: 31 December in Tunis
        assert flags
        assert_exact()
        db.session.remove()
        downgrade(revision=BEFORE)
        assert not {"claim_day_totals", "claim_day_flags"} & set(sa.inspect(db.engine).get_table_names())
        with db.engine.begin() as conn:  # claims written while the roll-up is down…
            conn.execute(sa.text("UPDATE claims SET status = 'approved' WHERE status = 'pending_review'"))
        upgrade()  # …are in it once it is back
        assert_exact()
        db.session.remove()
        downgrade(revision="base")
        db.engine.dispose()
