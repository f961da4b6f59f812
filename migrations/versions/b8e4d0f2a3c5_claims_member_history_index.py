"""claims: (provider_id, adherent_id, created_at, id) for the history filtered by member; the
annual-limit index loses its INCLUDE columns

- idx_claims_provider_member_created: the counter's history filtered by a member's name finds the
  members first (at most 100), then their claims at the provider from this index — the members'
  claims here, newest first, instead of a walk of the provider's whole history;
- idx_claims_contract_care_date: the annual-limit sum now reads ``contract_usage`` (migration
  a7d3c9e1f2b4), so its INCLUDE columns (PostgreSQL) only cost writes: rebuilt without them.

Built ``CONCURRENTLY`` on PostgreSQL (claims keep being written), plainly on SQLite.

Revision ID: b8e4d0f2a3c5
Revises: a7d3c9e1f2b4
Create Date: 2026-11-30 02:00:00

"""
from alembic import op

revision = 'b8e4d0f2a3c5'
down_revision = 'a7d3c9e1f2b4'
branch_labels = None
depends_on = None

MEMBER = ("idx_claims_provider_member_created", ["provider_id", "adherent_id", "created_at", "id"])
CONTRACT = ("idx_claims_contract_care_date", ["contract_id", "care_date"])
CONTRACT_INCLUDE = ["adherent_id", "status", "covered_amount"]


def _build(name, columns, include=None, drop_first=True):
    if op.get_bind().dialect.name == "postgresql":
        with op.get_context().autocommit_block():
            if drop_first:
                op.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {name}")
            op.create_index(name, "claims", columns, postgresql_concurrently=True, postgresql_include=include or [])
        return
    if drop_first:
        op.drop_index(name, table_name="claims", if_exists=True)
    op.create_index(name, "claims", columns)


def _drop(name):
    if op.get_bind().dialect.name == "postgresql":
        with op.get_context().autocommit_block():
            op.drop_index(name, table_name="claims", postgresql_concurrently=True, if_exists=True)
        return
    op.drop_index(name, table_name="claims")


def upgrade():
    _build(*MEMBER)
    if op.get_bind().dialect.name == "postgresql":
        # Built under a temporary name, then swapped: the FK to contracts keeps an index meanwhile.
        _build("idx_claims_contract_care_date_new", CONTRACT[1])
        _drop(CONTRACT[0])
        op.execute(f"ALTER INDEX idx_claims_contract_care_date_new RENAME TO {CONTRACT[0]}")


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        _build("idx_claims_contract_care_date_old", CONTRACT[1], CONTRACT_INCLUDE)
        _drop(CONTRACT[0])
        op.execute(f"ALTER INDEX idx_claims_contract_care_date_old RENAME TO {CONTRACT[0]}")
    _drop(MEMBER[0])
