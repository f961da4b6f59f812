"""review queue: partial index of the claims waiting for an insurer's decision

- idx_claims_review_queue: (insurer_id, created_at, id) of the claims in
  pending_review / blocked — the insurer's review queue in keyset order (oldest
  first, or newest first read backwards); a small part of the table, so filters
  on top of it stay cheap at millions of claims.

Revision ID: f1a2b3c4d5e6
Revises: bcc02a4ea25d
Create Date: 2026-11-29 23:05:00

"""
from alembic import op
import sqlalchemy as sa

revision = 'f1a2b3c4d5e6'
down_revision = 'bcc02a4ea25d'
branch_labels = None
depends_on = None

_WHERE = sa.text("status IN ('pending_review', 'blocked')")


def upgrade():
    op.create_index('idx_claims_review_queue', 'claims', ['insurer_id', 'created_at', 'id'], unique=False,
                    postgresql_where=_WHERE, sqlite_where=_WHERE)


def downgrade():
    op.drop_index('idx_claims_review_queue', table_name='claims')
