"""staff_sessions and login_throttles; user ids never reused on SQLite

users.locked_until goes: a lock is per email and network now (login_throttles).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-04 14:30:00.000000
"""
import sqlalchemy as sa
from alembic import op

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade():
    if op.get_bind().dialect.name == 'sqlite':
        # AUTOINCREMENT: a deleted account's id is never handed to the next account.
        # SQLite cannot add it to a table, so the table is copied (its CHECKs, reflected,
        # with it).
        with op.batch_alter_table('users', recreate='always',
                                  table_kwargs={'sqlite_autoincrement': True}) as batch:
            batch.drop_column('locked_until')
    else:
        op.drop_column('users', 'locked_until')
    op.create_table(
        'staff_sessions',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('token_hash', sa.String(length=64), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('last_seen_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('ended_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('end_reason', sa.String(length=32), nullable=True),
        sa.Column('device', sa.String(length=100), nullable=False),
        sa.Column('network', sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('token_hash'),
        sqlite_autoincrement=True,
    )
    op.create_index(op.f('ix_staff_sessions_user_id'), 'staff_sessions', ['user_id'],
                    unique=False)
    op.create_table(
        'login_throttles',
        sa.Column('account_key', sa.String(length=64), nullable=False),
        sa.Column('network', sa.String(length=64), nullable=False),
        sa.Column('failures', sa.Integer(), nullable=False),
        sa.Column('locks', sa.Integer(), nullable=False),
        sa.Column('locked_until', sa.DateTime(timezone=True), nullable=True),
        sa.Column('last_failure_at', sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint('account_key', 'network'),
    )
    op.create_index(op.f('ix_login_throttles_last_failure_at'), 'login_throttles',
                    ['last_failure_at'], unique=False)


def downgrade():
    op.drop_index(op.f('ix_login_throttles_last_failure_at'), table_name='login_throttles')
    op.drop_table('login_throttles')
    op.drop_index(op.f('ix_staff_sessions_user_id'), table_name='staff_sessions')
    op.drop_table('staff_sessions')
    with op.batch_alter_table('users') as batch:
        batch.add_column(sa.Column('locked_until', sa.DateTime(timezone=True), nullable=True))
