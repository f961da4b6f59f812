"""Migration 7f3c2a91d5e4 (issue 11): the claims indexes go up and down, concurrently on PostgreSQL."""

import sqlalchemy as sa
from flask_migrate import downgrade, upgrade
from test_migrations import _fresh_url

from dhamen import create_app
from dhamen.extensions import db

NEW = {"idx_claims_provider_created_id": ["provider_id", "created_at", "id"],
       "idx_claims_insurer_created_id": ["insurer_id", "created_at", "id"],
       "idx_claims_provider_status_created": ["provider_id", "status", "created_at", "id"],
       "idx_claims_insurer_status_created": ["insurer_id", "status", "created_at", "id"],
       "idx_claims_provider_care_date": ["provider_id", "care_date", "id"],
       "idx_claims_insurer_care_date": ["insurer_id", "care_date", "id"],
       "idx_claims_contract_care_date": ["contract_id", "care_date"]}
OLD = {"idx_claims_provider": ["provider_id"], "idx_claims_insurer": ["insurer_id"],
       "idx_claims_adherent": ["adherent_id"], "idx_claims_provider_created": ["provider_id", "created_at"]}


def _indexes() -> dict[str, list[str]]:
    return {i["name"]: i["column_names"] for i in sa.inspect(db.engine).get_indexes("claims")}


def _down_and_up_again(revision: str, read, before, after) -> None:
    """Down to ``revision`` restores ``before``, up again gives ``after``; then down to nothing."""
    downgrade(revision=revision)
    assert read() == before
    upgrade()
    assert read() == after
    downgrade(revision="base")
    db.engine.dispose()


def test_claims_indexes_up_and_down(app_env, tmp_path):
    app = create_app(dict(app_env, DHAMEN_INSTANCE_PATH=str(tmp_path), DATABASE_URL=_fresh_url(app_env, tmp_path)))
    with app.app_context():
        upgrade(revision="5e1c0a7d13aa")
        before = _indexes()
        assert OLD.items() <= before.items() and not set(NEW) & set(before)
        upgrade()
        after = _indexes()
        assert NEW.items() <= after.items() and not set(OLD) & set(after)
        assert {"idx_claims_adherent_care_date", "idx_claims_status", "idx_claims_date"} <= set(after)
        if db.engine.dialect.name == "postgresql":  # built concurrently, and valid
            with db.engine.connect() as conn:
                invalid = conn.scalar(sa.text("SELECT count(*) FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
                                              "WHERE c.relname LIKE 'idx_claims_%' AND NOT i.indisvalid"))
            assert invalid == 0
        _down_and_up_again("5e1c0a7d13aa", _indexes, before, after)


def _index_defs(tables=("claims", "claim_items", "contract_usage")) -> dict[str, list[str]]:
    inspector = sa.inspect(db.engine)
    return {i["name"]: i["column_names"] for t in tables for i in inspector.get_indexes(t)}


def test_history_covering_indexes_up_and_down(app_env, tmp_path):
    """Migration d2f7a1c4e8b6: the claim's history and annual-limit reads become index-only on
    PostgreSQL (INCLUDE columns); built concurrently and valid; down restores the previous indexes."""
    app = create_app(dict(app_env, DHAMEN_INSTANCE_PATH=str(tmp_path), DATABASE_URL=_fresh_url(app_env, tmp_path)))
    with app.app_context():
        upgrade(revision="b8e4d0f2a3c5")
        before = _index_defs()
        assert before["idx_claim_items_claim"] == ["claim_id"] and "idx_contract_usage_covered" not in before
        upgrade()
        after = _index_defs()
        assert after["idx_claim_items_claim"] == ["claim_id", "code"]
        assert after["idx_contract_usage_covered"] == ["contract_id", "care_date"]
        assert after["idx_claims_adherent_care_date"] == ["adherent_id", "care_date"]
        if db.engine.dialect.name == "postgresql":
            with db.engine.connect() as conn:
                defs = dict(conn.execute(sa.text(
                    "SELECT c.relname, pg_get_indexdef(c.oid) FROM pg_class c WHERE c.relname IN "
                    "('idx_claims_adherent_care_date', 'idx_claim_items_claim', 'idx_contract_usage_covered')")).all())
                invalid = conn.scalar(sa.text("SELECT count(*) FROM pg_index i WHERE NOT i.indisvalid"))
            assert "INCLUDE (status, id, provider_id, type, total_amount, contract_id)" in defs[
                "idx_claims_adherent_care_date"]
            assert "INCLUDE (quantity, covered_amount)" in defs["idx_claim_items_claim"]
            assert "INCLUDE (covered_amount)" in defs["idx_contract_usage_covered"]
            assert invalid == 0
        _down_and_up_again("b8e4d0f2a3c5", _index_defs, before, after)
