"""responses (survey_id, submitted_at): the overview's "responses today" and "last
response" read each listed survey's today's range and its newest entry, instead of
every response of the listed surveys

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-05 23:30:00.000000
"""
from alembic import op

revision = '0017'
down_revision = '0016'
branch_labels = None
depends_on = None

NAME = 'ix_responses_survey_submitted'


def upgrade():
    if op.get_bind().dialect.name == 'postgresql':
        # Built without holding off the drain's inserts while it reads a big table.
        with op.get_context().autocommit_block():
            op.create_index(
                NAME, 'responses', ['survey_id', 'submitted_at'], postgresql_concurrently=True
            )
    else:
        op.create_index(NAME, 'responses', ['survey_id', 'submitted_at'])


def downgrade():
    op.drop_index(NAME, table_name='responses')
