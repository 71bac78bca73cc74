"""responses.answers_digest and the indexes that let the network checks probe a busy
network key instead of reading its latest QUALITY_NETWORK_LOOKBACK responses: (survey_id,
network_key, answers_digest) for the same answers, (survey_id, network_key, id) for the
lookback's newest-first walk (in place of (survey_id, network_key))

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-05 03:50:00.000000
"""
import hashlib
import json

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None

JSONType = sa.JSON().with_variant(postgresql.JSONB(), 'postgresql')
CHUNK = 5000


def digest(answers: dict) -> str:
    """intake/submission.answers_digest, as it is at this revision."""
    canonical = json.dumps(answers, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha1(canonical.encode()).hexdigest()


def upgrade():
    with op.batch_alter_table('responses') as batch:
        batch.add_column(sa.Column('answers_digest', sa.String(length=40), nullable=True))
    # Only responses with a network key are compared by their answers.
    responses = sa.table(
        'responses',
        sa.column('id', sa.BigInteger),
        sa.column('answers', JSONType),
        sa.column('network_key', sa.String),
        sa.column('answers_digest', sa.String),
    )
    conn = op.get_bind()
    after = 0
    while True:
        rows = conn.execute(
            sa.select(responses.c.id, responses.c.answers)
            .where(responses.c.id > after, responses.c.network_key.is_not(None))
            .order_by(responses.c.id)
            .limit(CHUNK)
        ).all()
        if not rows:
            break
        conn.execute(
            sa.update(responses)
            .where(responses.c.id == sa.bindparam('row_id'))
            .values(answers_digest=sa.bindparam('digest')),
            [{'row_id': row.id, 'digest': digest(row.answers)} for row in rows],
        )
        after = rows[-1].id
    with op.batch_alter_table('responses') as batch:
        batch.drop_index('ix_responses_survey_network')
        batch.create_index('ix_responses_survey_network_id', ['survey_id', 'network_key', 'id'])
        batch.create_index(
            'ix_responses_survey_network_digest', ['survey_id', 'network_key', 'answers_digest']
        )


def downgrade():
    with op.batch_alter_table('responses') as batch:
        batch.drop_index('ix_responses_survey_network_digest')
        batch.drop_index('ix_responses_survey_network_id')
        batch.create_index('ix_responses_survey_network', ['survey_id', 'network_key'])
        batch.drop_column('answers_digest')
