"""claims: short human reference (PH-26-4K7Q-9MXC), unique, backfilled

Each claim gets a reference a person can read over the phone (see
dhamen.domain.reference): care-type prefix, year of entry, 7 random symbols of
Crockford's base 32 and a Luhn mod 32 check symbol.  Existing claims get one
here, in batches; then the column becomes NOT NULL with a unique index.

Revision ID: d41c7e2a9b10
Revises: bcc02a4ea25d
Create Date: 2026-11-29 22:45:00

"""
from datetime import date

import sqlalchemy as sa
from alembic import op

revision = 'd41c7e2a9b10'
down_revision = 'bcc02a4ea25d'
branch_labels = None
depends_on = None

BATCH = 5000


def _backfill(bind) -> None:
    from dhamen.domain.reference import new_reference

    claims = sa.table("claims", sa.column("id", sa.String), sa.column("type", sa.String),
                      sa.column("created_at", sa.DateTime), sa.column("reference", sa.String))
    update = sa.update(claims).where(claims.c.id == sa.bindparam("claim_id")).values(reference=sa.bindparam("ref"))
    seen: set[str] = set()
    while True:
        rows = bind.execute(sa.select(claims.c.id, claims.c.type, claims.c.created_at)
                            .where(claims.c.reference.is_(None)).order_by(claims.c.id).limit(BATCH)).all()
        if not rows:
            return
        params = []
        for claim_id, care_type, created_at in rows:
            on = created_at.date() if created_at is not None else date.today()
            ref = new_reference(care_type, on)
            while ref in seen:  # a collision among the rows backfilled here: draw again
                ref = new_reference(care_type, on)
            seen.add(ref)
            params.append({"claim_id": claim_id, "ref": ref})
        bind.execute(update, params)


def upgrade():
    with op.batch_alter_table('claims', schema=None) as batch_op:
        batch_op.add_column(sa.Column('reference', sa.String(length=20), nullable=True))
    _backfill(op.get_bind())
    with op.batch_alter_table('claims', schema=None) as batch_op:
        batch_op.alter_column('reference', existing_type=sa.String(length=20), nullable=False)
        batch_op.create_index('idx_claims_reference', ['reference'], unique=True)


def downgrade():
    with op.batch_alter_table('claims', schema=None) as batch_op:
        batch_op.drop_index('idx_claims_reference')
        batch_op.drop_column('reference')
