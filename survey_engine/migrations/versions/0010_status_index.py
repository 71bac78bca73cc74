"""responses: an index on (survey_id, status, id) for the views that leave responses
out by status and for the review list

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-04 21:50:00.000000
"""
from alembic import op

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade():
    op.create_index(
        'ix_responses_survey_status_id', 'responses', ['survey_id', 'status', 'id']
    )


def downgrade():
    op.drop_index('ix_responses_survey_status_id', table_name='responses')
