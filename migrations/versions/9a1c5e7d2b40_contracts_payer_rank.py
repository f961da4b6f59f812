"""contracts.payer_rank: which of a member's contracts pays first

Issue 9 (double coverage): a member holding several contracts (e.g. STAR and
COMAR) has one that pays first (rank 1), the others complete it (2, 3...).
No CHECK constraint: adding one makes SQLite rebuild ``contracts``, which other tables
reference (1 = first payer is the default; the admin forms check the value). The counter
shows it in the rights panel; the same care billed under two
contracts waits for review at whichever insurer comes second.

Revision ID: 9a1c5e7d2b40
Revises: a14d0a1b2c3d
Create Date: 2026-11-29 22:50:00

"""
from alembic import op
import sqlalchemy as sa

# revision identifiers, used by Alembic.
revision = '9a1c5e7d2b40'
down_revision = 'a14d0a1b2c3d'
branch_labels = None
depends_on = None


def upgrade():
    # Plain ALTER TABLE (SQLite 3.35+ too): a batch rebuild of ``contracts`` would fail once claims point at it.
    op.add_column('contracts', sa.Column('payer_rank', sa.SmallInteger(), server_default='1', nullable=False))


def downgrade():
    op.drop_column('contracts', 'payer_rank')
