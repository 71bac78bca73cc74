"""export_file_chunks: a finished export's bytes in the database (EXPORT_STORAGE=database),
so any web node can send it without a folder shared between machines; export_files.storage
says where each export's file is

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-04 23:50:00.000000
"""
import sqlalchemy as sa
from alembic import op

revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('export_files') as batch:
        batch.add_column(
            sa.Column('storage', sa.String(length=16), nullable=False, server_default='folder')
        )
    op.create_table(
        'export_file_chunks',
        sa.Column('export_id', sa.Integer(), nullable=False),
        sa.Column('seq', sa.Integer(), autoincrement=False, nullable=False),
        sa.Column('data', sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(['export_id'], ['export_files.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('export_id', 'seq'),
    )


def downgrade():
    op.drop_table('export_file_chunks')
    with op.batch_alter_table('export_files') as batch:
        batch.drop_column('storage')
