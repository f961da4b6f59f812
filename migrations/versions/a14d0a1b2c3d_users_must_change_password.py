"""users: must_change_password (a password set by an admin is temporary)

Revision ID: a14d0a1b2c3d
Revises: d41c7e2a9b10
Create Date: 2026-11-29 22:35:00

"""
from alembic import op
import sqlalchemy as sa

# revision identifiers, used by Alembic.
revision = 'a14d0a1b2c3d'
down_revision = 'd41c7e2a9b10'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('must_change_password', sa.Boolean(), server_default='0', nullable=False))


def downgrade():
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('must_change_password')
