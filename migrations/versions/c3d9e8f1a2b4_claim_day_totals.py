"""claims added up per day: claim_day_totals and claim_day_flags, kept by triggers, backfilled in batches

``claim_day_totals``: one row per insurer × day × status × care type × provider
(count, amount asked, amount covered); ``claim_day_flags``: per insurer × day ×
fraud flag code, the flags with points raised on claims with a score.  The day is
the Tunisian calendar day of ``claims.created_at`` (PostgreSQL: ``AT TIME ZONE
'Africa/Tunis'``; SQLite, development only: UTC + 1 h, Tunisia's offset since 2009,
no summer time).

Kept by triggers on ``claims``, in the writing statement's own transaction, so the
roll-up is exact at every commit whatever writes the claims (the counter's Core
insert, the bulk seed, an agent's decision, a reconciliation's bulk payment, a
deletion): PostgreSQL: statement-level AFTER triggers reading the transition tables
(one grouped upsert per statement, 5 000 claims paid at once are one statement);
SQLite: row triggers.  A status change moves the claim from one row to another;
zero rows stay (readers ignore them).  Rows are upserted in key order, so two
transactions never lock two of them in opposite orders.

Backfill (PostgreSQL): the triggers first, then one month of days per transaction:
``LOCK TABLE claims IN SHARE MODE`` (writers wait for the batch, a second or so, not
for the whole backfill), the month's roll-up rows replaced by a ``GROUP BY`` of its
claims — whatever the triggers wrote for those days meanwhile is replaced by the
truth read under the lock, so the result is exact while the portal keeps running.

Revision ID: c3d9e8f1a2b4
Revises: b7e4d2a9c1f0
Create Date: 2026-11-30 02:00:00
"""
from datetime import date, datetime, timedelta

from alembic import op
import sqlalchemy as sa

revision = "c3d9e8f1a2b4"
down_revision = "b7e4d2a9c1f0"
branch_labels = None
depends_on = None

KEY = "insurer_id, day, status, type, provider_id"
PG_DAY = "(created_at AT TIME ZONE 'Africa/Tunis')::date"
SQLITE_DAY = "date({row}created_at, '+1 hours')"


def _tables():
    op.create_table(
        "claim_day_totals",
        sa.Column("insurer_id", sa.String(length=26), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("type", sa.String(length=20), nullable=False),
        sa.Column("provider_id", sa.String(length=26), nullable=False),
        sa.Column("claims", sa.BigInteger(), nullable=False),
        sa.Column("total_amount", sa.BigInteger(), nullable=False),
        sa.Column("covered_amount", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("insurer_id", "day", "status", "type", "provider_id",
                                name=op.f("pk_claim_day_totals")),
    )
    op.create_index("idx_claim_day_totals_provider", "claim_day_totals", ["provider_id", "day"])
    # The queue's size (an insurer's claims of a status, every day): an index-only sum.
    op.create_index("idx_claim_day_totals_status", "claim_day_totals", ["insurer_id", "status", "day"],
                    postgresql_include=["type", "provider_id", "claims"])
    op.create_table(
        "claim_day_flags",
        sa.Column("insurer_id", sa.String(length=26), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("code", sa.String(length=40), nullable=False),
        sa.Column("claims", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("insurer_id", "day", "code", name=op.f("pk_claim_day_flags")),
    )


# --- PostgreSQL: statement triggers over the transition tables ------------------------------

def _pg_rows(table: str, sign: int) -> str:
    return (f"SELECT insurer_id, {PG_DAY} AS day, status, type, provider_id, {sign} AS n, "
            f"{sign} * total_amount AS total, {sign} * covered_amount AS covered FROM {table}")


def _pg_flags(table: str, sign: int) -> str:
    return (f"SELECT c.insurer_id, (c.created_at AT TIME ZONE 'Africa/Tunis')::date AS day, "
            f"e.value->>'code' AS code, {sign} AS n FROM {table} c "
            "CROSS JOIN LATERAL jsonb_array_elements(CASE WHEN jsonb_typeof(c.fraud_flags_json) = 'array' "
            "THEN c.fraud_flags_json ELSE '[]'::jsonb END) e "
            "WHERE c.fraud_score > 0 AND e.value->>'code' IS NOT NULL "
            "AND (e.value->>'points') ~ '^[0-9]+$' AND (e.value->>'points')::bigint > 0")


def _pg_apply(totals: str, flags: str) -> str:
    """One grouped upsert of the signed rows into each roll-up, in key order."""
    return f"""
    INSERT INTO claim_day_totals AS t ({KEY}, claims, total_amount, covered_amount)
    SELECT {KEY}, sum(n), sum(total), sum(covered) FROM ({totals}) AS d
    GROUP BY {KEY} HAVING sum(n) <> 0 OR sum(total) <> 0 OR sum(covered) <> 0 ORDER BY {KEY}
    ON CONFLICT ({KEY}) DO UPDATE SET claims = t.claims + excluded.claims,
        total_amount = t.total_amount + excluded.total_amount,
        covered_amount = t.covered_amount + excluded.covered_amount;
    INSERT INTO claim_day_flags AS f (insurer_id, day, code, claims)
    SELECT insurer_id, day, code, sum(n) FROM ({flags}) AS d
    GROUP BY insurer_id, day, code HAVING sum(n) <> 0 ORDER BY insurer_id, day, code
    ON CONFLICT (insurer_id, day, code) DO UPDATE SET claims = f.claims + excluded.claims;"""


PG_TRIGGERS = {
    # name: (event, transition tables, body)
    "claim_day_totals_ins": ("INSERT", "NEW TABLE AS new_rows",
                             _pg_apply(_pg_rows("new_rows", 1), _pg_flags("new_rows", 1))),
    "claim_day_totals_upd": ("UPDATE", "OLD TABLE AS old_rows NEW TABLE AS new_rows",
                             _pg_apply(f"{_pg_rows('old_rows', -1)} UNION ALL {_pg_rows('new_rows', 1)}",
                                       f"{_pg_flags('old_rows', -1)} UNION ALL {_pg_flags('new_rows', 1)}")),
    "claim_day_totals_del": ("DELETE", "OLD TABLE AS old_rows",
                             _pg_apply(_pg_rows("old_rows", -1), _pg_flags("old_rows", -1))),
}


def _pg_create():
    for name, (event, tables, body) in PG_TRIGGERS.items():
        op.execute(f"CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN {body} "
                   "RETURN NULL; END $$")
        op.execute(f"CREATE TRIGGER {name} AFTER {event} ON claims REFERENCING {tables} "
                   f"FOR EACH STATEMENT EXECUTE FUNCTION {name}()")
    # TRUNCATE claims empties the roll-ups too.
    op.execute("CREATE FUNCTION claim_day_totals_trunc() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
               "DELETE FROM claim_day_totals; DELETE FROM claim_day_flags; RETURN NULL; END $$")
    op.execute("CREATE TRIGGER claim_day_totals_trunc AFTER TRUNCATE ON claims "
               "FOR EACH STATEMENT EXECUTE FUNCTION claim_day_totals_trunc()")


# --- SQLite: row triggers ------------------------------------------------------------------

def _sqlite_add(row: str) -> str:
    day = SQLITE_DAY.format(row=row + ".")
    return f"""
    INSERT INTO claim_day_totals ({KEY}, claims, total_amount, covered_amount)
    VALUES ({row}.insurer_id, {day}, {row}.status, {row}.type, {row}.provider_id, 1, {row}.total_amount,
            {row}.covered_amount)
    ON CONFLICT ({KEY}) DO UPDATE SET claims = claims + excluded.claims,
        total_amount = total_amount + excluded.total_amount, covered_amount = covered_amount + excluded.covered_amount;"""


def _sqlite_sub(row: str) -> str:
    day = SQLITE_DAY.format(row=row + ".")
    return f"""
    UPDATE claim_day_totals SET claims = claims - 1, total_amount = total_amount - {row}.total_amount,
        covered_amount = covered_amount - {row}.covered_amount
    WHERE insurer_id = {row}.insurer_id AND day = {day} AND status = {row}.status AND type = {row}.type
      AND provider_id = {row}.provider_id;"""


def _sqlite_flags(row: str) -> str:
    return (f"SELECT json_extract(e.value, '$.code') AS code, count(*) AS n FROM json_each({row}.fraud_flags_json) e "
            f"WHERE {row}.fraud_score > 0 AND json_extract(e.value, '$.code') IS NOT NULL "
            "AND CAST(json_extract(e.value, '$.points') AS INTEGER) > 0 GROUP BY 1")


def _sqlite_flags_add(row: str) -> str:
    day = SQLITE_DAY.format(row=row + ".")
    return f"""
    INSERT INTO claim_day_flags (insurer_id, day, code, claims)
    SELECT {row}.insurer_id, {day}, code, n FROM ({_sqlite_flags(row)}) WHERE true
    ON CONFLICT (insurer_id, day, code) DO UPDATE SET claims = claims + excluded.claims;"""


def _sqlite_flags_sub(row: str) -> str:
    day = SQLITE_DAY.format(row=row + ".")
    return f"""
    UPDATE claim_day_flags SET claims = claims - (SELECT n FROM ({_sqlite_flags(row)}) f
                                                  WHERE f.code = claim_day_flags.code)
    WHERE insurer_id = {row}.insurer_id AND day = {day}
      AND code IN (SELECT code FROM ({_sqlite_flags(row)}));"""


_TOTALS_CHANGED = " OR ".join(f"OLD.{c} IS NOT NEW.{c}" for c in (
    "insurer_id", "created_at", "status", "type", "provider_id", "total_amount", "covered_amount"))
_FLAGS_CHANGED = " OR ".join(f"OLD.{c} IS NOT NEW.{c}" for c in (
    "insurer_id", "created_at", "fraud_score", "fraud_flags_json"))

SQLITE_TRIGGERS = {
    "claim_day_totals_ins": f"AFTER INSERT ON claims BEGIN {_sqlite_add('NEW')} {_sqlite_flags_add('NEW')} END",
    "claim_day_totals_upd": f"AFTER UPDATE ON claims WHEN {_TOTALS_CHANGED} "
                            f"BEGIN {_sqlite_sub('OLD')} {_sqlite_add('NEW')} END",
    "claim_day_flags_upd": f"AFTER UPDATE ON claims WHEN {_FLAGS_CHANGED} "
                           f"BEGIN {_sqlite_flags_sub('OLD')} {_sqlite_flags_add('NEW')} END",
    "claim_day_totals_del": f"AFTER DELETE ON claims BEGIN {_sqlite_sub('OLD')} {_sqlite_flags_sub('OLD')} END",
}


# --- backfill ------------------------------------------------------------------------------

def _months(first: date, last: date):
    start = first.replace(day=1)
    while start <= last:
        end = (start + timedelta(days=32)).replace(day=1)
        yield start, end
        start = end


def _backfill_sql(day_expr: str, flags_day: str, flags_from: str, flags_where: str, bound: str) -> list[str]:
    return [
        "DELETE FROM claim_day_totals WHERE day >= :a AND day < :b",
        "DELETE FROM claim_day_flags WHERE day >= :a AND day < :b",
        f"INSERT INTO claim_day_totals ({KEY}, claims, total_amount, covered_amount) "
        f"SELECT insurer_id, {day_expr}, status, type, provider_id, count(*), sum(total_amount), sum(covered_amount) "
        f"FROM claims WHERE {bound} GROUP BY 1, 2, 3, 4, 5",
        f"INSERT INTO claim_day_flags (insurer_id, day, code, claims) SELECT c.insurer_id, {flags_day}, "
        f"{flags_where[0]}, count(*) FROM claims c {flags_from} WHERE c.fraud_score > 0 AND {flags_where[1]} "
        f"AND {bound.replace('created_at', 'c.created_at')} GROUP BY 1, 2, 3",
    ]


def _as_date(value) -> date:
    if isinstance(value, str):  # SQLite
        return date.fromisoformat(value[:10])
    return value.date() if isinstance(value, datetime) else value


def _backfill(postgres: bool) -> None:
    bind = op.get_bind()
    first, last = bind.execute(sa.text("SELECT min(created_at), max(created_at) FROM claims")).one()
    if first is None:
        return
    # Day bounds with a day of margin either side (the Tunisian day of a UTC time may be the next one).
    first, last = _as_date(first) - timedelta(days=1), _as_date(last) + timedelta(days=1)
    if postgres:
        statements = _backfill_sql(
            PG_DAY, "(c.created_at AT TIME ZONE 'Africa/Tunis')::date",
            "CROSS JOIN LATERAL jsonb_array_elements(CASE WHEN jsonb_typeof(c.fraud_flags_json) = 'array' "
            "THEN c.fraud_flags_json ELSE '[]'::jsonb END) e",
            ("e.value->>'code'", "e.value->>'code' IS NOT NULL AND (e.value->>'points') ~ '^[0-9]+$' "
                                 "AND (e.value->>'points')::bigint > 0"),
            "created_at >= CAST(:a AS timestamp) AT TIME ZONE 'Africa/Tunis' "
            "AND created_at < CAST(:b AS timestamp) AT TIME ZONE 'Africa/Tunis'")
        with op.get_context().autocommit_block():
            for a, b in _months(first, last):
                bind.exec_driver_sql("BEGIN")
                try:
                    bind.exec_driver_sql("LOCK TABLE claims IN SHARE MODE")
                    for sql in statements:
                        bind.execute(sa.text(sql), {"a": a, "b": b})
                except BaseException:
                    bind.exec_driver_sql("ROLLBACK")
                    raise
                bind.exec_driver_sql("COMMIT")
        return
    statements = _backfill_sql(
        SQLITE_DAY.format(row=""), SQLITE_DAY.format(row="c."), ", json_each(c.fraud_flags_json) e",
        ("json_extract(e.value, '$.code')", "json_extract(e.value, '$.code') IS NOT NULL "
                                            "AND CAST(json_extract(e.value, '$.points') AS INTEGER) > 0"),
        "1 = 1")  # one pass: SQLite (development) has a single writer and migrates in one transaction
    for sql in statements:
        bind.execute(sa.text(sql), {"a": first.isoformat(), "b": last.isoformat()})


def upgrade():
    _tables()
    postgres = op.get_bind().dialect.name == "postgresql"
    if postgres:
        _pg_create()
    else:
        for name, body in SQLITE_TRIGGERS.items():
            op.execute(f"CREATE TRIGGER {name} {body}")
    _backfill(postgres)


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        for name in (*PG_TRIGGERS, "claim_day_totals_trunc"):
            op.execute(f"DROP TRIGGER IF EXISTS {name} ON claims")
            op.execute(f"DROP FUNCTION IF EXISTS {name}()")
    else:
        for name in SQLITE_TRIGGERS:
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
    op.drop_table("claim_day_flags")
    op.drop_index("idx_claim_day_totals_status", table_name="claim_day_totals")
    op.drop_index("idx_claim_day_totals_provider", table_name="claim_day_totals")
    op.drop_table("claim_day_totals")
