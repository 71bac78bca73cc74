"""survey_versions.previous_definition: the draft as it was before its last change (undo)

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-05 20:30:00.000000
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None

JSONType = sa.JSON().with_variant(postgresql.JSONB(), 'postgresql')


def upgrade():
    op.add_column('survey_versions', sa.Column('previous_definition', JSONType, nullable=True))


def downgrade():
    op.drop_column('survey_versions', 'previous_definition')
