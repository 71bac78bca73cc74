"""Numbers a province can trust: review status, flags, units and paradata on responses;
claims, quota fills, access codes and daily secrets

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-04 20:40:00.000000
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None

JSONType = sa.JSON().with_variant(postgresql.JSONB(), 'postgresql')
TZ = sa.DateTime(timezone=True)


def upgrade():
    op.add_column('surveys', sa.Column('closed_at', TZ, nullable=True))
    with op.batch_alter_table('responses') as batch:
        batch.add_column(
            sa.Column('status', sa.String(length=12), nullable=False, server_default='unreviewed')
        )
        batch.add_column(sa.Column('flags', JSONType, nullable=False, server_default='[]'))
        batch.add_column(sa.Column('review_note', sa.String(length=500), nullable=True))
        batch.add_column(sa.Column('reviewed_at', TZ, nullable=True))
        batch.add_column(sa.Column('unit', sa.String(length=100), nullable=True))
        batch.add_column(sa.Column('started_at', TZ, nullable=True))
        batch.add_column(sa.Column('duration_seconds', sa.Integer(), nullable=True))
        batch.add_column(sa.Column('pages_visited', sa.Integer(), nullable=True))
        batch.add_column(sa.Column('device_class', sa.String(length=16), nullable=True))
        batch.add_column(sa.Column('browser', sa.String(length=40), nullable=True))
        batch.add_column(sa.Column('network_key', sa.String(length=64), nullable=True))
        batch.add_column(sa.Column('device_hash', sa.String(length=64), nullable=True))
        batch.create_check_constraint(
            'ck_responses_status', "status IN ('unreviewed', 'accepted', 'flagged', 'excluded')"
        )
        batch.create_index('ix_responses_survey_network', ['survey_id', 'network_key'])
        batch.create_index('ix_responses_survey_device', ['survey_id', 'device_hash'])
    op.create_table(
        'response_claims',
        sa.Column('survey_id', sa.Integer(), nullable=False),
        sa.Column('claim', sa.String(length=80), nullable=False),
        sa.Column('submission_id', sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(['survey_id'], ['surveys.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('survey_id', 'claim'),
    )
    op.create_table(
        'quota_fills',
        sa.Column('survey_id', sa.Integer(), nullable=False),
        sa.Column('quota', sa.String(length=64), nullable=False),
        sa.Column('stratum', sa.String(length=200), nullable=False),
        sa.Column('count', sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(['survey_id'], ['surveys.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('survey_id', 'quota', 'stratum'),
    )
    op.create_table(
        'access_code_batches',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('survey_id', sa.Integer(), nullable=False),
        sa.Column('unit', sa.String(length=100), nullable=False),
        sa.Column('size', sa.Integer(), nullable=False),
        sa.Column('created_at', TZ, nullable=False),
        sa.Column('created_by', sa.String(length=254), nullable=False),
        sa.ForeignKeyConstraint(['survey_id'], ['surveys.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index(
        'ix_access_code_batches_survey_id', 'access_code_batches', ['survey_id']
    )
    op.create_table(
        'access_codes',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('batch_id', sa.Integer(), nullable=False),
        sa.Column('survey_id', sa.Integer(), nullable=False),
        sa.Column('number', sa.Integer(), nullable=False),
        sa.Column('code_hash', sa.String(length=64), nullable=False),
        sa.Column('used_at', TZ, nullable=True),
        sa.Column('submission_id', sa.Uuid(), nullable=True),
        sa.ForeignKeyConstraint(['batch_id'], ['access_code_batches.id'], ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['survey_id'], ['surveys.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('survey_id', 'code_hash', name='uq_access_codes_hash'),
    )
    op.create_index('ix_access_codes_batch_id', 'access_codes', ['batch_id'])
    op.create_table(
        'daily_secrets',
        sa.Column('day', sa.Date(), nullable=False),
        sa.Column('secret', sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint('day'),
    )


def downgrade():
    op.drop_table('daily_secrets')
    op.drop_index('ix_access_codes_batch_id', table_name='access_codes')
    op.drop_table('access_codes')
    op.drop_index('ix_access_code_batches_survey_id', table_name='access_code_batches')
    op.drop_table('access_code_batches')
    op.drop_table('quota_fills')
    op.drop_table('response_claims')
    with op.batch_alter_table('responses') as batch:
        batch.drop_index('ix_responses_survey_device')
        batch.drop_index('ix_responses_survey_network')
        batch.drop_constraint('ck_responses_status', type_='check')
        for column in (
            'device_hash', 'network_key', 'browser', 'device_class', 'pages_visited',
            'duration_seconds', 'started_at', 'unit', 'reviewed_at', 'review_note', 'flags',
            'status',
        ):
            batch.drop_column(column)
    op.drop_column('surveys', 'closed_at')
