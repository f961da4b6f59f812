"""Migrations build the models' schema from empty and tear it down again,
on SQLite and (in CI's second pass) PostgreSQL."""

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from db_helpers import fresh_database_url as _fresh_url
from flask_migrate import downgrade, upgrade

from dhamen import create_app
from dhamen.extensions import db


def test_upgrade_then_downgrade_and_no_pending_diff(app_env, tmp_path):
    app = create_app(dict(app_env, DHAMEN_INSTANCE_PATH=str(tmp_path), DATABASE_URL=_fresh_url(app_env, tmp_path)))
    with app.app_context():
        upgrade()
        inspector = sa.inspect(db.engine)
        tables = set(inspector.get_table_names())
        expected = {"insurers", "adherents", "providers", "users", "contracts", "claims", "claim_items",
                    "reconciliations", "audit_logs", "conventions"}
        assert expected <= tables
        assert {"idx_claims_status", "idx_claims_reconciliation", "idx_claims_date"} <= {
            i["name"] for i in inspector.get_indexes("claims")}
        assert {"idx_adherents_national_id"} <= {i["name"] for i in inspector.get_indexes("adherents")}
        with db.engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), db.metadata)
        assert diff == [], f"models and migrations disagree: {diff}"
        downgrade(revision="base")
        left = set(sa.inspect(db.engine).get_table_names()) - {"alembic_version"}
        assert left == set()
        db.engine.dispose()


def test_sqlite_foreign_keys_enforced(ctx):
    if db.engine.dialect.name != "sqlite":
        return
    import pytest

    with db.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        with pytest.raises(sa.exc.IntegrityError):
            conn.execute(sa.text(
                "INSERT INTO users (id, email, password_hash, role, first_name, last_name, provider_id, mfa_enabled, "
                "is_active, created_at, updated_at) VALUES ('x', 'a@b.c', 'h', 'PHARMACIST', 'a', 'b', 'missing', 0, 1, "
                "'2026-01-01', '2026-01-01')"))


def test_check_constraints_hold(ctx):
    import pytest

    with db.engine.connect() as conn:
        with pytest.raises(sa.exc.IntegrityError):
            conn.execute(sa.text(
                "INSERT INTO providers (id, type, name, license_no, address, city, is_active, created_at, updated_at) "
                "VALUES ('p', 'vet', 'x', 'L1', 'a', 'c', true, '2026-01-01', '2026-01-01')"))


def test_claim_references_are_backfilled(app_env, tmp_path):
    """Claims stored before the reference column get one each, valid and unique."""
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from claims_helpers import build_shop

    from dhamen.domain import reference
    from dhamen.models import Claim

    app = create_app(dict(app_env, DHAMEN_INSTANCE_PATH=str(tmp_path), DATABASE_URL=_fresh_url(app_env, tmp_path)))
    with app.app_context():
        upgrade()
        shop = build_shop()
        for n in range(3):
            c = shop.contracts["active"]
            db.session.add(Claim(type="lab", contract_id=c.id, provider_id=shop.providers["lab"].id,
                                 adherent_id=c.adherent_id, insurer_id=c.insurer_id, care_date=c.start_date,
                                 total_amount=1_000 + n, covered_amount=800, copay_amount=200 + n, status="approved"))
        db.session.commit()
        db.session.remove()
        downgrade(revision="bcc02a4ea25d")
        assert "reference" not in {c["name"] for c in sa.inspect(db.engine).get_columns("claims")}
        upgrade()
        with db.engine.connect() as conn:
            rows = conn.execute(sa.text("SELECT type, reference FROM claims")).all()
        assert len(rows) == 4 and len({ref for _t, ref in rows}) == 4
        assert all(reference.normalise(ref) == ref and ref[:2] == reference.PREFIXES[t] for t, ref in rows)
        db.session.remove()
        downgrade(revision="base")
        db.engine.dispose()
