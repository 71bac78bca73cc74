"""survey_weightings: a survey's population margins and its raking weights

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-05 17:00:00.000000
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None

JSONType = sa.JSON().with_variant(postgresql.JSONB(), 'postgresql')


def upgrade():
    op.create_table(
        'survey_weightings',
        sa.Column('survey_id', sa.Integer(), nullable=False),
        sa.Column('margins', JSONType, nullable=False),
        sa.Column('bounds', JSONType, nullable=True),
        sa.Column('cells', JSONType, nullable=False),
        sa.Column('report', JSONType, nullable=False),
        sa.Column('computed_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('computed_by', sa.String(length=254), nullable=True),
        sa.ForeignKeyConstraint(['survey_id'], ['surveys.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('survey_id'),
    )


def downgrade():
    op.drop_table('survey_weightings')
