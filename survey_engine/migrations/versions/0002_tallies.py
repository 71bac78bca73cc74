"""tallies: running counts per survey, version, question and choice

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26 04:53:32.536776

Existing responses are counted into the new table, so an upgraded database
shows the same results as before.
"""
from collections import Counter

import sqlalchemy as sa
from alembic import op

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade():
    tallies = op.create_table(
        'tallies',
        sa.Column('survey_id', sa.Integer(), nullable=False),
        sa.Column('version_id', sa.Integer(), nullable=False),
        sa.Column('question', sa.String(length=64), nullable=False),
        sa.Column('choice', sa.String(length=64), nullable=False),
        sa.Column('count', sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(['survey_id'], ['surveys.id'], ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['version_id'], ['survey_versions.id'], ),
        sa.PrimaryKeyConstraint('survey_id', 'version_id', 'question', 'choice'),
    )
    _count_existing_responses(tallies)


def _count_existing_responses(tallies):
    from survey_engine.definition import Definition
    from survey_engine.intake.tallies import keys_of

    bind = op.get_bind()
    meta = sa.MetaData()
    versions = sa.Table('survey_versions', meta, autoload_with=bind)
    responses = sa.Table('responses', meta, autoload_with=bind)
    definitions = {row.id: Definition(row.definition)
                   for row in bind.execute(sa.select(versions.c.id, versions.c.definition))}
    counts = Counter()
    rows = bind.execute(sa.select(responses.c.survey_id, responses.c.version_id,
                                  responses.c.answers))
    for survey_id, version_id, answers in rows:
        for question, choice in keys_of(definitions[version_id], answers):
            counts[(survey_id, version_id, question, choice)] += 1
    if counts:
        op.bulk_insert(tallies, [
            {'survey_id': s, 'version_id': v, 'question': q, 'choice': c, 'count': n}
            for (s, v, q, c), n in counts.items()])


def downgrade():
    op.drop_table('tallies')
