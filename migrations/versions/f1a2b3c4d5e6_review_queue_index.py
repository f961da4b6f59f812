"""insurer portal: review queue and dashboard indexes

- idx_claims_review_queue: (insurer_id, created_at, id) of the claims in
  pending_review / blocked — the insurer's review queue in keyset order (oldest
  first, or newest first read backwards); a small part of the table, so filters
  on top of it stay cheap at millions of claims;
- idx_claims_insurer_created: (insurer_id, created_at) with the dashboard's
  columns included (PostgreSQL): the month's figures by status, care type and
  provider are read from the index alone (index-only scan), not the table.

Revision ID: f1a2b3c4d5e6
Revises: 7f3c2a91d5e4
Create Date: 2026-11-29 23:05:00

"""
from alembic import op
import sqlalchemy as sa

revision = 'f1a2b3c4d5e6'
down_revision = '7f3c2a91d5e4'
branch_labels = None
depends_on = None

_WHERE = sa.text("status IN ('pending_review', 'blocked')")
_INCLUDE = ['status', 'type', 'total_amount', 'covered_amount', 'provider_id', 'fraud_score']


def upgrade():
    op.create_index('idx_claims_review_queue', 'claims', ['insurer_id', 'created_at', 'id'], unique=False,
                    postgresql_where=_WHERE, sqlite_where=_WHERE)
    op.create_index('idx_claims_insurer_created', 'claims', ['insurer_id', 'created_at'], unique=False,
                    postgresql_include=_INCLUDE)


def downgrade():
    op.drop_index('idx_claims_insurer_created', table_name='claims')
    op.drop_index('idx_claims_review_queue', table_name='claims')
