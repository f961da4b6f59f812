"""contract_usage: the payable covered amount per contract × care date, kept by triggers

The annual-limit usage read at every claim (and by the insurer's decision) sums a contract
year's covered amounts of the claims not ``rejected`` nor ``blocked``: at a million claims a
busy contract holds thousands in its year.  This table holds that sum per care date (at most
366 rows a contract year, whatever the volume), kept by triggers on ``claims`` — the same
mechanism as the day roll-up ``claim_day_totals`` (migration c3d9e8f1a2b4) — in the transaction
that inserts a claim or changes its status, covered amount, contract or care date, whatever
the code path (counter, insurer decision, payment of a bordereau, seed, SQL).  The claim path
reads it under the contract's row lock (``FOR UPDATE``), so two claims on one contract never
spend the limit twice.

Upgrade: the table, the triggers (creating a trigger locks ``claims`` against writes until the
migration commits: no claim is missed or counted twice), then the backfill in batches of claims
(keyset on the primary key, one aggregated upsert per batch).

Revision ID: a7d3c9e1f2b4
Revises: c3d9e8f1a2b4
Create Date: 2026-11-30 01:50:00

"""
from alembic import op
import sqlalchemy as sa

revision = 'a7d3c9e1f2b4'
down_revision = 'c3d9e8f1a2b4'
branch_labels = None
depends_on = None

BATCH = 200_000
NOT_PAYABLE = "('rejected', 'blocked')"

# --- PostgreSQL: one row-level plpgsql function for insert, update and delete ---------------------

_PG_UPSERT = """
    INSERT INTO contract_usage AS u (contract_id, care_date, covered_amount) VALUES ({contract}, {day}, {amount})
    ON CONFLICT (contract_id, care_date) DO UPDATE SET covered_amount = u.covered_amount + excluded.covered_amount;
"""
PG_FUNCTION = f"""
CREATE FUNCTION contract_usage_apply() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    old_cov bigint := 0;
    new_cov bigint := 0;
BEGIN
    IF TG_OP <> 'INSERT' AND OLD.status NOT IN {NOT_PAYABLE} THEN old_cov := OLD.covered_amount; END IF;
    IF TG_OP <> 'DELETE' AND NEW.status NOT IN {NOT_PAYABLE} THEN new_cov := NEW.covered_amount; END IF;
    IF TG_OP = 'UPDATE' AND OLD.contract_id = NEW.contract_id AND OLD.care_date = NEW.care_date THEN
        IF new_cov <> old_cov THEN
            {_PG_UPSERT.format(contract="NEW.contract_id", day="NEW.care_date", amount="new_cov - old_cov")}
        END IF;
        RETURN NULL;
    END IF;
    IF old_cov <> 0 THEN
        {_PG_UPSERT.format(contract="OLD.contract_id", day="OLD.care_date", amount="-old_cov")}
    END IF;
    IF new_cov <> 0 THEN
        {_PG_UPSERT.format(contract="NEW.contract_id", day="NEW.care_date", amount="new_cov")}
    END IF;
    RETURN NULL;
END
$$
"""
# An update that changes none of these columns (reconciliation_id, details, approved → paid with the same
# amount, …) fires nothing.
_CHANGED = " OR ".join(f"OLD.{c} {{ne}} NEW.{c}" for c in ("status", "covered_amount", "contract_id", "care_date"))
PG_TRIGGERS = [
    "CREATE TRIGGER contract_usage_ins AFTER INSERT ON claims FOR EACH ROW EXECUTE FUNCTION contract_usage_apply()",
    f"CREATE TRIGGER contract_usage_upd AFTER UPDATE ON claims FOR EACH ROW "
    f"WHEN ({_CHANGED.format(ne='IS DISTINCT FROM')}) EXECUTE FUNCTION contract_usage_apply()",
    "CREATE TRIGGER contract_usage_del AFTER DELETE ON claims FOR EACH ROW EXECUTE FUNCTION contract_usage_apply()",
    # TRUNCATE claims empties the usage too.
    "CREATE FUNCTION contract_usage_trunc() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
    "DELETE FROM contract_usage; RETURN NULL; END $$",
    "CREATE TRIGGER contract_usage_trunc AFTER TRUNCATE ON claims FOR EACH STATEMENT "
    "EXECUTE FUNCTION contract_usage_trunc()",
]
PG_DROP = ["DROP TRIGGER IF EXISTS contract_usage_ins ON claims", "DROP TRIGGER IF EXISTS contract_usage_upd ON claims",
           "DROP TRIGGER IF EXISTS contract_usage_del ON claims", "DROP TRIGGER IF EXISTS contract_usage_trunc ON claims",
           "DROP FUNCTION IF EXISTS contract_usage_apply()", "DROP FUNCTION IF EXISTS contract_usage_trunc()"]

# --- SQLite: the same arithmetic, one trigger per event -------------------------------------------


def _sqlite_usage(r: str, sign: str) -> str:
    return (f"INSERT INTO contract_usage (contract_id, care_date, covered_amount) "
            f"SELECT {r}.contract_id, {r}.care_date, {sign}{r}.covered_amount WHERE {r}.status NOT IN {NOT_PAYABLE} "
            "ON CONFLICT (contract_id, care_date) DO UPDATE SET covered_amount = covered_amount + excluded.covered_amount;")


SQLITE_TRIGGERS = [
    f"CREATE TRIGGER contract_usage_ins AFTER INSERT ON claims BEGIN {_sqlite_usage('NEW', '')} END",
    f"CREATE TRIGGER contract_usage_upd AFTER UPDATE ON claims WHEN {_CHANGED.format(ne='IS NOT')} BEGIN "
    f"{_sqlite_usage('OLD', '-')} {_sqlite_usage('NEW', '')} END",
    f"CREATE TRIGGER contract_usage_del AFTER DELETE ON claims BEGIN {_sqlite_usage('OLD', '-')} END",
]
SQLITE_DROP = ["DROP TRIGGER IF EXISTS contract_usage_ins", "DROP TRIGGER IF EXISTS contract_usage_upd",
               "DROP TRIGGER IF EXISTS contract_usage_del"]


def _backfill(conn) -> None:
    low = ""
    while True:
        high = conn.scalar(sa.text("SELECT id FROM claims WHERE id > :low ORDER BY id LIMIT 1 OFFSET :skip"),
                           {"low": low, "skip": BATCH - 1})
        where = "id > :low" + (" AND id <= :high" if high is not None else "")
        conn.execute(sa.text(
            "INSERT INTO contract_usage AS u (contract_id, care_date, covered_amount) "
            f"SELECT contract_id, care_date, sum(covered_amount) FROM claims "
            f"WHERE {where} AND status NOT IN {NOT_PAYABLE} GROUP BY contract_id, care_date "
            "ON CONFLICT (contract_id, care_date) DO UPDATE SET covered_amount = u.covered_amount + excluded.covered_amount"),
            {"low": low, "high": high})
        if high is None:
            return
        low = high


def upgrade():
    op.create_table(
        'contract_usage',
        sa.Column('contract_id', sa.String(length=26), nullable=False),
        sa.Column('care_date', sa.Date(), nullable=False),
        sa.Column('covered_amount', sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint('contract_id', 'care_date', name=op.f('pk_contract_usage')),
    )
    conn = op.get_bind()
    if conn.dialect.name == "postgresql":
        op.execute(PG_FUNCTION)
        for statement in PG_TRIGGERS:
            op.execute(statement)
    else:
        for statement in SQLITE_TRIGGERS:
            op.execute(statement)
    _backfill(conn)


def downgrade():
    for statement in PG_DROP if op.get_bind().dialect.name == "postgresql" else SQLITE_DROP:
        op.execute(statement)
    op.drop_table('contract_usage')
