"""result_states: the results dashboard's counts, saved per survey and view

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-04 17:40:00.000000
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None

JSONType = sa.JSON().with_variant(postgresql.JSONB(), 'postgresql')


def upgrade():
    op.create_table(
        'result_states',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('survey_id', sa.Integer(), nullable=False),
        sa.Column('view_key', sa.String(length=64), nullable=False),
        sa.Column('view', JSONType, nullable=False),
        sa.Column('versions', JSONType, nullable=False),
        sa.Column('shape', sa.String(length=64), nullable=False),
        sa.Column('state', JSONType, nullable=False),
        sa.Column('last_id', sa.BigInteger(), nullable=False),
        sa.Column('seen', sa.BigInteger(), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('used_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('queued_at', sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(['survey_id'], ['surveys.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('survey_id', 'view_key', name='uq_result_states_view'),
    )


def downgrade():
    op.drop_table('result_states')
