"""claims: indexes matching the queries (keyset lists, annual-limit sum)

Issue 11.  Lists read newest first per organisation, ``ORDER BY created_at
DESC, id DESC`` with a keyset bound ``(created_at, id) < (…)``: one index per
organisation column, with and without the status filter, ends with
``created_at, id`` so a page reads ``per_page + 1`` index entries at any
depth; filtered on care dates, the lists are ordered by ``care_date, id``
(``(org, care_date, id)``).  ``(contract_id, care_date)`` serves the
annual-limit sum read at every claim.  The single-column indexes they make redundant (``provider_id``,
``insurer_id``, ``adherent_id`` — a prefix of ``(adherent_id, care_date)`` —
and ``(provider_id, created_at)``) are dropped: fewer indexes to write per claim.

On PostgreSQL the indexes are built and dropped ``CONCURRENTLY`` (outside the
migration's transaction: claims keep being written while a large table is
indexed); a build interrupted half-way leaves an invalid index, dropped before
the next attempt.  SQLite (development) builds them plainly.

Revision ID: 7f3c2a91d5e4
Revises: 5e1c0a7d13aa
Create Date: 2026-11-29 23:00:00
"""
from alembic import op

revision = "7f3c2a91d5e4"
down_revision = "5e1c0a7d13aa"
branch_labels = None
depends_on = None

NEW = {
    "idx_claims_provider_created_id": ["provider_id", "created_at", "id"],
    "idx_claims_insurer_created_id": ["insurer_id", "created_at", "id"],
    "idx_claims_provider_status_created": ["provider_id", "status", "created_at", "id"],
    "idx_claims_insurer_status_created": ["insurer_id", "status", "created_at", "id"],
    "idx_claims_provider_care_date": ["provider_id", "care_date", "id"],
    "idx_claims_insurer_care_date": ["insurer_id", "care_date", "id"],
    "idx_claims_contract_care_date": ["contract_id", "care_date"],
}
OLD = {
    "idx_claims_provider": ["provider_id"],
    "idx_claims_insurer": ["insurer_id"],
    "idx_claims_adherent": ["adherent_id"],
    "idx_claims_provider_created": ["provider_id", "created_at"],
}


# PostgreSQL only: the day/month figures (counter home, insurer dashboard) read these
# columns from the index (index-only scan) instead of the table,
INCLUDE = {"idx_claims_provider_created_id": ["status", "total_amount", "covered_amount"],
           "idx_claims_insurer_created_id": ["status", "total_amount", "covered_amount"],
           # and the annual-limit sum read at every claim, from the index alone
           "idx_claims_contract_care_date": ["adherent_id", "status", "covered_amount"]}


def _swap(create: dict, drop: dict) -> None:
    if op.get_bind().dialect.name == "postgresql":
        with op.get_context().autocommit_block():
            for name, columns in create.items():
                op.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {name}")  # left invalid by an interrupted build
                op.create_index(name, "claims", columns, postgresql_concurrently=True,
                                postgresql_include=INCLUDE.get(name, []))
            for name in drop:
                op.drop_index(name, table_name="claims", postgresql_concurrently=True, if_exists=True)
        return
    for name, columns in create.items():
        op.create_index(name, "claims", columns)
    for name in drop:
        op.drop_index(name, table_name="claims")


def upgrade():
    _swap(NEW, OLD)


def downgrade():
    _swap(OLD, NEW)
