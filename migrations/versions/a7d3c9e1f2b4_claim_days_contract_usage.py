"""claims roll-ups kept by triggers: claim_days (per day × insurer × provider × status × care type)
and contract_usage (payable covered amount per contract × care date)

One mechanism for every aggregate read at scale (issue 11): the counter home's today/month card,
the insurer dashboard's day/month figures, and the annual-limit usage read at every claim.  The
triggers run in the transaction that inserts a claim or changes its status or amounts, whatever
the code path (counter, insurer decision, payment of a bordereau, seed, SQL): the roll-ups never
drift from the claims.  ``claim_days.day`` is the UTC date of ``created_at``.

Upgrade: tables, then triggers (on PostgreSQL creating a trigger locks ``claims`` against writes
until the migration commits, so no claim is missed or counted twice), then the backfill, in
batches of claims (keyset on the primary key, one aggregated upsert per batch).

Revision ID: a7d3c9e1f2b4
Revises: f16a0b1c2d3e
Create Date: 2026-11-30 01:50:00

"""
from alembic import op
import sqlalchemy as sa

revision = 'a7d3c9e1f2b4'
down_revision = 'f16a0b1c2d3e'
branch_labels = None
depends_on = None

BATCH = 200_000
NOT_PAYABLE = "('rejected', 'blocked')"
DAY_KEY = "insurer_id, day, provider_id, status, type"
DAY_COLS = f"{DAY_KEY}, claims, total_amount, covered_amount"

# --- PostgreSQL: one plpgsql function for insert, update and delete -------------------------------

_PG_DAY_UPSERT = """
    INSERT INTO claim_days AS d ({cols})
    VALUES ({r}.insurer_id, ({r}.created_at AT TIME ZONE 'UTC')::date, {r}.provider_id, {r}.status, {r}.type,
            {sign}1, {sign}{r}.total_amount, {sign}{r}.covered_amount)
    ON CONFLICT ({key}) DO UPDATE SET claims = d.claims + excluded.claims,
        total_amount = d.total_amount + excluded.total_amount, covered_amount = d.covered_amount + excluded.covered_amount;
"""
_PG_USAGE_UPSERT = """
    INSERT INTO contract_usage AS u (contract_id, care_date, covered_amount) VALUES ({contract}, {day}, {amount})
    ON CONFLICT (contract_id, care_date) DO UPDATE SET covered_amount = u.covered_amount + excluded.covered_amount;
"""
PG_FUNCTION = f"""
CREATE FUNCTION claims_rollup() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    old_cov bigint := 0;
    new_cov bigint := 0;
BEGIN
    IF TG_OP <> 'INSERT' THEN
        {_PG_DAY_UPSERT.format(cols=DAY_COLS, key=DAY_KEY, r="OLD", sign="-")}
        IF OLD.status NOT IN {NOT_PAYABLE} THEN old_cov := OLD.covered_amount; END IF;
    END IF;
    IF TG_OP <> 'DELETE' THEN
        {_PG_DAY_UPSERT.format(cols=DAY_COLS, key=DAY_KEY, r="NEW", sign="")}
        IF NEW.status NOT IN {NOT_PAYABLE} THEN new_cov := NEW.covered_amount; END IF;
    END IF;
    IF TG_OP = 'UPDATE' AND OLD.contract_id = NEW.contract_id AND OLD.care_date = NEW.care_date THEN
        IF new_cov <> old_cov THEN
            {_PG_USAGE_UPSERT.format(contract="NEW.contract_id", day="NEW.care_date", amount="new_cov - old_cov")}
        END IF;
    ELSE
        IF TG_OP <> 'INSERT' AND OLD.status NOT IN {NOT_PAYABLE} THEN
            {_PG_USAGE_UPSERT.format(contract="OLD.contract_id", day="OLD.care_date", amount="-old_cov")}
        END IF;
        IF TG_OP <> 'DELETE' AND NEW.status NOT IN {NOT_PAYABLE} THEN
            {_PG_USAGE_UPSERT.format(contract="NEW.contract_id", day="NEW.care_date", amount="new_cov")}
        END IF;
    END IF;
    RETURN NULL;
END
$$
"""
# An update that changes none of the roll-ups' columns (reconciliation_id, details, …) fires nothing.
_CHANGED = " OR ".join(f"OLD.{c} {{ne}} NEW.{c}" for c in (
    "status", "total_amount", "covered_amount", "insurer_id", "provider_id", "type", "created_at", "contract_id",
    "care_date"))
PG_TRIGGERS = [
    "CREATE TRIGGER claims_rollup_insert AFTER INSERT ON claims FOR EACH ROW EXECUTE FUNCTION claims_rollup()",
    f"CREATE TRIGGER claims_rollup_update AFTER UPDATE ON claims FOR EACH ROW WHEN ({_CHANGED.format(ne='IS DISTINCT FROM')}) "
    "EXECUTE FUNCTION claims_rollup()",
    "CREATE TRIGGER claims_rollup_delete AFTER DELETE ON claims FOR EACH ROW EXECUTE FUNCTION claims_rollup()",
]

# --- SQLite: the same arithmetic, one trigger per event -------------------------------------------

def _sqlite_day(r: str, sign: str) -> str:
    return (f"INSERT INTO claim_days ({DAY_COLS}) SELECT {r}.insurer_id, date({r}.created_at), {r}.provider_id, "
            f"{r}.status, {r}.type, {sign}1, {sign}{r}.total_amount, {sign}{r}.covered_amount WHERE true "
            f"ON CONFLICT ({DAY_KEY}) DO UPDATE SET claims = claims + excluded.claims, "
            "total_amount = total_amount + excluded.total_amount, covered_amount = covered_amount + excluded.covered_amount;")


def _sqlite_usage(r: str, sign: str) -> str:
    return (f"INSERT INTO contract_usage (contract_id, care_date, covered_amount) "
            f"SELECT {r}.contract_id, {r}.care_date, {sign}{r}.covered_amount WHERE {r}.status NOT IN {NOT_PAYABLE} "
            "ON CONFLICT (contract_id, care_date) DO UPDATE SET covered_amount = covered_amount + excluded.covered_amount;")


SQLITE_TRIGGERS = [
    f"CREATE TRIGGER claims_rollup_insert AFTER INSERT ON claims BEGIN {_sqlite_day('NEW', '')} "
    f"{_sqlite_usage('NEW', '')} END",
    f"CREATE TRIGGER claims_rollup_update AFTER UPDATE ON claims WHEN {_CHANGED.format(ne='IS NOT')} BEGIN "
    f"{_sqlite_day('OLD', '-')} {_sqlite_usage('OLD', '-')} {_sqlite_day('NEW', '')} {_sqlite_usage('NEW', '')} END",
    f"CREATE TRIGGER claims_rollup_delete AFTER DELETE ON claims BEGIN {_sqlite_day('OLD', '-')} "
    f"{_sqlite_usage('OLD', '-')} END",
]
TRIGGERS = ("claims_rollup_insert", "claims_rollup_update", "claims_rollup_delete")


def _backfill(conn) -> None:
    day = "(created_at AT TIME ZONE 'UTC')::date" if conn.dialect.name == "postgresql" else "date(created_at)"
    low = ""
    while True:
        high = conn.scalar(sa.text("SELECT id FROM claims WHERE id > :low ORDER BY id LIMIT 1 OFFSET :skip"),
                           {"low": low, "skip": BATCH - 1})
        where = "id > :low" + (" AND id <= :high" if high is not None else "")
        params = {"low": low, "high": high}
        conn.execute(sa.text(
            f"INSERT INTO claim_days AS d ({DAY_COLS}) "
            f"SELECT insurer_id, {day}, provider_id, status, type, count(*), sum(total_amount), sum(covered_amount) "
            f"FROM claims WHERE {where} GROUP BY insurer_id, {day}, provider_id, status, type "
            f"ON CONFLICT ({DAY_KEY}) DO UPDATE SET claims = d.claims + excluded.claims, "
            "total_amount = d.total_amount + excluded.total_amount, "
            "covered_amount = d.covered_amount + excluded.covered_amount"), params)
        conn.execute(sa.text(
            "INSERT INTO contract_usage AS u (contract_id, care_date, covered_amount) "
            f"SELECT contract_id, care_date, sum(covered_amount) FROM claims "
            f"WHERE {where} AND status NOT IN {NOT_PAYABLE} GROUP BY contract_id, care_date "
            "ON CONFLICT (contract_id, care_date) DO UPDATE SET covered_amount = u.covered_amount + excluded.covered_amount"),
            params)
        if high is None:
            return
        low = high


def upgrade():
    op.create_table(
        'claim_days',
        sa.Column('insurer_id', sa.String(length=26), nullable=False),
        sa.Column('day', sa.Date(), nullable=False),
        sa.Column('provider_id', sa.String(length=26), nullable=False),
        sa.Column('status', sa.String(length=20), nullable=False),
        sa.Column('type', sa.String(length=20), nullable=False),
        sa.Column('claims', sa.BigInteger(), nullable=False),
        sa.Column('total_amount', sa.BigInteger(), nullable=False),
        sa.Column('covered_amount', sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint('insurer_id', 'day', 'provider_id', 'status', 'type', name=op.f('pk_claim_days')),
    )
    op.create_index('idx_claim_days_provider', 'claim_days', ['provider_id', 'day'], unique=False)
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
    conn = op.get_bind()
    for name in TRIGGERS:
        op.execute(f"DROP TRIGGER IF EXISTS {name}" + (" ON claims" if conn.dialect.name == "postgresql" else ""))
    if conn.dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS claims_rollup()")
    op.drop_table('contract_usage')
    op.drop_index('idx_claim_days_provider', table_name='claim_days')
    op.drop_table('claim_days')
