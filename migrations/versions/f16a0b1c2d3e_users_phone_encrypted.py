"""users.phone encrypted at rest (users.phone_encrypted), existing numbers encrypted

The number that receives MFA codes is personal data, like the members'
phones: AES-256-GCM with the keyring of ``DATA_ENCRYPTION_KEYS`` and the
associated data ``users.phone_encrypted`` (what ``EncryptedText`` writes).
Reversible: the downgrade decrypts into a clear ``phone`` column again.

The keyring is the one exception to "migrations import no application
code": the ciphertext format is the application's (``dhamen.core.crypto``),
and its keys come from the environment of the ``flask db`` command.

Revision ID: f16a0b1c2d3e
Revises: f1a2b3c4d5e6
Create Date: 2026-11-29 23:20:00

"""
from alembic import op
import sqlalchemy as sa

revision = 'f16a0b1c2d3e'
down_revision = 'f1a2b3c4d5e6'
branch_labels = None
depends_on = None

AAD = "users.phone_encrypted"
_users = sa.table("users", sa.column("id", sa.String), sa.column("phone", sa.String),
                  sa.column("phone_encrypted", sa.Text))


def _keyring():
    from dhamen.core import crypto

    return crypto.keyring()


def upgrade():
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('phone_encrypted', sa.Text(), nullable=True))
    conn = op.get_bind()
    rows = conn.execute(sa.select(_users.c.id, _users.c.phone).where(_users.c.phone.is_not(None))).all()
    if rows:
        keyring = _keyring()
        for user_id, phone in rows:
            conn.execute(_users.update().where(_users.c.id == user_id)
                         .values(phone_encrypted=keyring.encrypt(phone, AAD)))
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('phone')


def downgrade():
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('phone', sa.String(length=30), nullable=True))
    conn = op.get_bind()
    rows = conn.execute(sa.select(_users.c.id, _users.c.phone_encrypted)
                        .where(_users.c.phone_encrypted.is_not(None))).all()
    if rows:
        keyring = _keyring()
        for user_id, token in rows:
            conn.execute(_users.update().where(_users.c.id == user_id)
                         .values(phone=keyring.decrypt(token, AAD)[:30]))
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('phone_encrypted')
