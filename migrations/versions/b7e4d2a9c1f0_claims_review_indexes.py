"""claims: one (insurer_id, created_at…) index instead of two; a review-queue index that filters alone

- ``idx_claims_insurer_created`` (migration f1a2b3c4d5e6: ``(insurer_id, created_at)``
  with six INCLUDE columns, for the dashboard's month scan) overlapped
  ``idx_claims_insurer_created_id`` (migration 7f3c2a91d5e4: ``(insurer_id,
  created_at, id)`` INCLUDE ``status, total_amount, covered_amount``, the insurer's keyset
  lists).  The dashboard now reads the daily roll-up (migration c3d9e8f1a2b4), not the
  month's claims: the wide one goes, one index fewer written per claim.
- ``idx_claims_review_queue`` (insurer_id, created_at, id) of the claims waiting for a
  decision becomes ``idx_claims_review_created`` with, on PostgreSQL, the queue's filter
  columns INCLUDEd (status, care type, provider, care date, amount, fraud score): the
  queue's page with filters walks this (partial, small) index in keyset order and tests
  its filters on the index entries (index-only), reading the table for the 25 rows shown.
  Sorted by amount, risk score or care date, the queue has its own partial index each
  (``idx_claims_review_amount``, ``_score``, ``_care``): every sort is an index range.

Concurrently on PostgreSQL (claims keep being written while a large table is
indexed); an interrupted build leaves an invalid index, dropped before the next try.

Revision ID: b7e4d2a9c1f0
Revises: f16a0b1c2d3e
Create Date: 2026-11-30 01:50:00
"""
from alembic import op
import sqlalchemy as sa

revision = "b7e4d2a9c1f0"
down_revision = "f16a0b1c2d3e"
branch_labels = None
depends_on = None

_WHERE = "status IN ('pending_review', 'blocked')"
_FILTERS = ["status", "type", "provider_id", "care_date", "total_amount", "fraud_score"]

# name -> (columns, partial?, INCLUDE on PostgreSQL)
NEW = {
    "idx_claims_review_created": (["insurer_id", "created_at", "id"], True, _FILTERS),
    "idx_claims_review_amount": (["insurer_id", "total_amount", "id"], True, []),
    "idx_claims_review_score": (["insurer_id", "fraud_score", "id"], True, []),
    "idx_claims_review_care": (["insurer_id", "care_date", "id"], True, []),
}
OLD = {
    "idx_claims_review_queue": (["insurer_id", "created_at", "id"], True, []),
    "idx_claims_insurer_created": (["insurer_id", "created_at"], False,
                                   ["status", "type", "total_amount", "covered_amount", "provider_id", "fraud_score"]),
}


def _swap(create: dict, drop: dict) -> None:
    postgres = op.get_bind().dialect.name == "postgresql"

    def build(name, columns, partial, include, **kw):
        where = sa.text(_WHERE) if partial else None
        op.create_index(name, "claims", columns, postgresql_where=where, sqlite_where=where,
                        postgresql_include=include, **kw)

    if postgres:
        with op.get_context().autocommit_block():
            for name, spec in create.items():
                op.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {name}")  # left invalid by an interrupted build
                build(name, *spec, postgresql_concurrently=True)
            for name in drop:
                op.drop_index(name, table_name="claims", postgresql_concurrently=True, if_exists=True)
        return
    for name, spec in create.items():
        build(name, *spec)
    for name in drop:
        op.drop_index(name, table_name="claims")


def upgrade():
    _swap(NEW, OLD)


def downgrade():
    _swap(OLD, NEW)
