"""contracts.payer_rank: which of a member's contracts pays first

Issue 9 (double coverage): a member holding several contracts (e.g. STAR and
COMAR) has one that pays first (rank 1), the others complete it (2, 3...).
The counter shows it in the rights panel; the same care billed under two
contracts waits for review at whichever insurer comes second.

Revision ID: 9a1c5e7d2b40
Revises: bcc02a4ea25d
Create Date: 2026-11-29 22:50:00

"""
from alembic import op
import sqlalchemy as sa

# revision identifiers, used by Alembic.
revision = '9a1c5e7d2b40'
down_revision = 'bcc02a4ea25d'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('contracts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('payer_rank', sa.SmallInteger(), server_default='1', nullable=False))
        batch_op.create_check_constraint(op.f('ck_contracts_payer_rank'), 'payer_rank BETWEEN 1 AND 9')


def downgrade():
    with op.batch_alter_table('contracts', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_contracts_payer_rank'), type_='check')
        batch_op.drop_column('payer_rank')
