"""claim history and annual-limit reads from covering indexes

Every claim reads the member's claims around its care date with their lines of the claim's codes,
and its contract year's usage (dhamen.claims.queries._HISTORY).  At a million claims the rows a
member or a contract has are spread over as many heap pages as there are rows, most of them
outside PostgreSQL's buffers: the read went from 0.3 ms on an empty database to 0.9 ms.  With
the columns it reads in the indexes (INCLUDE, PostgreSQL), the read is index-only:

- idx_claims_adherent_care_date (adherent_id, care_date) INCLUDE (status, id, provider_id, type,
  total_amount, contract_id); a hospitalization's stay is fetched from the claim itself;
- idx_claim_items_claim (claim_id) becomes (claim_id, code) INCLUDE (quantity, covered_amount);
- idx_contract_usage_covered (contract_id, care_date) INCLUDE (covered_amount), new.

Built ``CONCURRENTLY`` on PostgreSQL under a temporary name, then swapped (claims keep being
written, and the foreign keys keep an index meanwhile); plainly on SQLite, where INCLUDE does not
exist (only the lines' index changes its columns there).

Revision ID: d2f7a1c4e8b6
Revises: b8e4d0f2a3c5
Create Date: 2026-11-30 05:30:00

"""
from alembic import op

revision = 'd2f7a1c4e8b6'
down_revision = 'b8e4d0f2a3c5'
branch_labels = None
depends_on = None

MEMBER = ("idx_claims_adherent_care_date", "claims", ["adherent_id", "care_date"],
          ["status", "id", "provider_id", "type", "total_amount", "contract_id"])
LINES = ("idx_claim_items_claim", "claim_items", ["claim_id", "code"], ["quantity", "covered_amount"])
LINES_BEFORE = ("idx_claim_items_claim", "claim_items", ["claim_id"], [])
MEMBER_BEFORE = ("idx_claims_adherent_care_date", "claims", ["adherent_id", "care_date"], [])
USAGE = ("idx_contract_usage_covered", "contract_usage", ["contract_id", "care_date"], ["covered_amount"])


def _postgresql() -> bool:
    return op.get_bind().dialect.name == "postgresql"


def _create(name, table, columns, include):
    if _postgresql():
        with op.get_context().autocommit_block():
            op.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {name}")  # left invalid by an interrupted build
            op.create_index(name, table, columns, postgresql_concurrently=True, postgresql_include=include)
    else:
        op.create_index(name, table, columns)


def _drop(name, table):
    if _postgresql():
        with op.get_context().autocommit_block():
            op.drop_index(name, table_name=table, postgresql_concurrently=True, if_exists=True)
    else:
        op.drop_index(name, table_name=table)


def _swap(name, table, columns, include):
    """Rebuild ``name`` with these columns: on PostgreSQL built beside the old one, then renamed."""
    if _postgresql():
        _create(f"{name}_new", table, columns, include)
        _drop(name, table)
        op.execute(f"ALTER INDEX {name}_new RENAME TO {name}")
    else:
        _drop(name, table)
        _create(name, table, columns, include)


def upgrade():
    if _postgresql():  # SQLite: the same key columns, nothing to include
        _swap(*MEMBER)
    _swap(*LINES)
    _create(*USAGE)


def downgrade():
    _drop(USAGE[0], USAGE[1])
    _swap(*LINES_BEFORE)
    if _postgresql():
        _swap(*MEMBER_BEFORE)
