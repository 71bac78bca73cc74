"""uploads and upload_chunks: citizens' files for image/audio/video/file questions,
stored before the answers are sent; the answer holds the upload's token only

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-05 20:00:00.000000
"""
import sqlalchemy as sa
from alembic import op

revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None

BigID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade():
    op.create_table(
        'uploads',
        sa.Column('id', BigID, nullable=False),
        sa.Column('token', sa.String(length=64), nullable=False),
        sa.Column('survey_id', sa.Integer(), nullable=False),
        sa.Column('question', sa.String(length=64), nullable=False),
        sa.Column('extension', sa.String(length=8), nullable=False),
        sa.Column('content_type', sa.String(length=100), nullable=False),
        sa.Column('size', sa.BigInteger(), nullable=False),
        sa.Column('sha256', sa.String(length=64), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['survey_id'], ['surveys.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('token'),
    )
    op.create_index('ix_uploads_survey_id', 'uploads', ['survey_id'])
    op.create_table(
        'upload_chunks',
        sa.Column('upload_id', sa.BigInteger(), nullable=False),
        sa.Column('seq', sa.Integer(), autoincrement=False, nullable=False),
        sa.Column('data', sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(['upload_id'], ['uploads.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('upload_id', 'seq'),
    )


def downgrade():
    op.drop_table('upload_chunks')
    op.drop_index('ix_uploads_survey_id', table_name='uploads')
    op.drop_table('uploads')
