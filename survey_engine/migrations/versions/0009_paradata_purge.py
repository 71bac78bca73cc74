"""surveys.paradata_purged_upto: how far the paradata retention purge has erased

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-04 21:00:00.000000
"""
import sqlalchemy as sa
from alembic import op

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('surveys') as batch:
        batch.add_column(
            sa.Column(
                'paradata_purged_upto', sa.BigInteger(), nullable=False, server_default='0'
            )
        )
    # A survey closed before closed_at existed: its retention is counted from the
    # upgrade (no earlier moment is known, and erasing early is the wrong way to guess).
    op.execute(
        "UPDATE surveys SET closed_at = CURRENT_TIMESTAMP "
        "WHERE status IN ('closed', 'archived') AND closed_at IS NULL"
    )


def downgrade():
    with op.batch_alter_table('surveys') as batch:
        batch.drop_column('paradata_purged_upto')
