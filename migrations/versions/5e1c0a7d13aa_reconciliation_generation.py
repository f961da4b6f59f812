"""reconciliation: exactly once, statements, runs, payment

Issue 13:
- claims.reconciliation_id is written once: a trigger refuses to change or clear it
  once set (a claim belongs to one reconciliation, ever, whatever the code does), and
  the check ``reconciled_status`` only lets approved or paid claims into one (a paid
  claim is always in one);
- reconciliations: retention rate applied, fingerprints (content and PDF SHA-256),
  page count, author, sent date, payment date and bank reference;
- reconciliation_statements: each provider's figures and PDF statement;
- reconciliation_runs: the generation jobs and their progress.

Revision ID: 5e1c0a7d13aa
Revises: 9a1c5e7d2b40
Create Date: 2026-11-29 22:50:00

"""
from alembic import op
import sqlalchemy as sa

revision = '5e1c0a7d13aa'
down_revision = '9a1c5e7d2b40'
branch_labels = None
depends_on = None

CHECK = ("(reconciliation_id IS NULL AND status <> 'paid') "
         "OR (reconciliation_id IS NOT NULL AND status IN ('approved', 'paid'))")
TRIGGER_MESSAGE = "claims.reconciliation_id is written once"


def upgrade():
    with op.batch_alter_table('reconciliations', schema=None) as batch_op:
        batch_op.add_column(sa.Column('retention_rate_bp', sa.Integer(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('content_sha256', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('pdf_sha256', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('pdf_size', sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column('page_count', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('created_by', sa.String(length=26), nullable=True))
        batch_op.add_column(sa.Column('sent_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('payment_date', sa.Date(), nullable=True))
        batch_op.add_column(sa.Column('payment_reference', sa.String(length=64), nullable=True))

    op.create_table('reconciliation_statements',
    sa.Column('id', sa.String(length=26), nullable=False),
    sa.Column('reconciliation_id', sa.String(length=26), nullable=False),
    sa.Column('insurer_id', sa.String(length=26), nullable=False),
    sa.Column('provider_id', sa.String(length=26), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('claim_count', sa.Integer(), nullable=False),
    sa.Column('total_amount', sa.BigInteger(), nullable=False),
    sa.Column('total_covered', sa.BigInteger(), nullable=False),
    sa.Column('retention', sa.BigInteger(), nullable=False),
    sa.Column('net_payable', sa.BigInteger(), nullable=False),
    sa.Column('pdf_path', sa.String(length=500), nullable=True),
    sa.Column('pdf_sha256', sa.String(length=64), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['insurer_id'], ['insurers.id'], name=op.f('fk_reconciliation_statements_insurer_id_insurers')),
    sa.ForeignKeyConstraint(['provider_id'], ['providers.id'], name=op.f('fk_reconciliation_statements_provider_id_providers')),
    sa.ForeignKeyConstraint(['reconciliation_id'], ['reconciliations.id'], name=op.f('fk_reconciliation_statements_reconciliation_id_reconciliations')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_reconciliation_statements')),
    sa.UniqueConstraint('reconciliation_id', 'provider_id', name=op.f('uq_reconciliation_statements_reconciliation_id_provider_id'))
    )
    op.create_index('idx_recon_statements_provider', 'reconciliation_statements', ['provider_id'], unique=False)

    op.create_table('reconciliation_runs',
    sa.Column('id', sa.String(length=26), nullable=False),
    sa.Column('insurer_id', sa.String(length=26), nullable=False),
    sa.Column('period_start', sa.Date(), nullable=False),
    sa.Column('period_end', sa.Date(), nullable=False),
    sa.Column('source', sa.String(length=10), nullable=False),
    sa.Column('requested_by', sa.String(length=26), nullable=True),
    sa.Column('state', sa.String(length=10), server_default='queued', nullable=False),
    sa.Column('step', sa.String(length=200), nullable=True),
    sa.Column('done', sa.Integer(), server_default='0', nullable=False),
    sa.Column('total', sa.Integer(), server_default='0', nullable=False),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('reconciliation_id', sa.String(length=26), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("state IN ('queued', 'running', 'done', 'empty', 'failed')", name=op.f('ck_reconciliation_runs_state')),
    sa.ForeignKeyConstraint(['insurer_id'], ['insurers.id'], name=op.f('fk_reconciliation_runs_insurer_id_insurers')),
    sa.ForeignKeyConstraint(['reconciliation_id'], ['reconciliations.id'], name=op.f('fk_reconciliation_runs_reconciliation_id_reconciliations')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_reconciliation_runs'))
    )
    op.create_index('idx_recon_runs_insurer', 'reconciliation_runs', ['insurer_id', 'created_at'], unique=False)

    bind = op.get_bind()
    if bind.dialect.name == 'postgresql':
        op.create_check_constraint('reconciled_status', 'claims', CHECK)
        op.execute(f"""
            CREATE FUNCTION claims_reconciliation_once() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
              IF OLD.reconciliation_id IS NOT NULL
                 AND NEW.reconciliation_id IS DISTINCT FROM OLD.reconciliation_id THEN
                RAISE EXCEPTION '{TRIGGER_MESSAGE}' USING ERRCODE = 'integrity_constraint_violation';
              END IF;
              RETURN NEW;
            END $$""")
        op.execute("""
            CREATE TRIGGER claims_reconciliation_once BEFORE UPDATE OF reconciliation_id ON claims
            FOR EACH ROW EXECUTE FUNCTION claims_reconciliation_once()""")
    else:
        with op.batch_alter_table('claims', schema=None) as batch_op:
            batch_op.create_check_constraint('reconciled_status', CHECK)
        op.execute(f"""
            CREATE TRIGGER claims_reconciliation_once BEFORE UPDATE OF reconciliation_id ON claims
            FOR EACH ROW WHEN OLD.reconciliation_id IS NOT NULL
                          AND NEW.reconciliation_id IS NOT OLD.reconciliation_id
            BEGIN SELECT RAISE(ABORT, '{TRIGGER_MESSAGE}'); END""")


def downgrade():
    bind = op.get_bind()
    op.execute("DROP TRIGGER IF EXISTS claims_reconciliation_once" + (" ON claims" if bind.dialect.name == 'postgresql' else ""))
    if bind.dialect.name == 'postgresql':
        op.execute("DROP FUNCTION IF EXISTS claims_reconciliation_once()")
        op.drop_constraint(op.f('ck_claims_reconciled_status'), 'claims', type_='check')
    else:
        with op.batch_alter_table('claims', schema=None) as batch_op:
            batch_op.drop_constraint(op.f('ck_claims_reconciled_status'), type_='check')
    op.drop_index('idx_recon_runs_insurer', table_name='reconciliation_runs')
    op.drop_table('reconciliation_runs')
    op.drop_index('idx_recon_statements_provider', table_name='reconciliation_statements')
    op.drop_table('reconciliation_statements')
    with op.batch_alter_table('reconciliations', schema=None) as batch_op:
        for name in ('payment_reference', 'payment_date', 'sent_at', 'created_by', 'page_count', 'pdf_size',
                     'pdf_sha256', 'content_sha256', 'retention_rate_bp'):
            batch_op.drop_column(name)
