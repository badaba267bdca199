"""policy overrides set on the admin pages, the audit log, and disabled users

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01 16:00:00
"""
from alembic import op
import sqlalchemy as sa

import channels.sql.types

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # No rows: until an admin sets a rule, the engine runs on the TOUCHPOINT_* settings as before.
    op.create_table('policy_overrides',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.Enum('survey_enabled', 'default_survey', 'survey_by_channel', 'survey_by_business', 'sampling_by_channel', 'outlet_monthly_target', name='overridekind', native_enum=False, create_constraint=True, length=24), nullable=False),
    sa.Column('key', sa.String(length=64), nullable=False),
    sa.Column('value', sa.String(length=64), nullable=False),
    sa.Column('updated_at', channels.sql.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_by', sa.String(length=64), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_policy_overrides')),
    sa.UniqueConstraint('kind', 'key', name=op.f('uq_policy_overrides_kind_key'))
    )
    op.create_table('audit_log',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('at', channels.sql.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('username', sa.String(length=64), nullable=False),
    sa.Column('action', sa.String(length=64), nullable=False),
    sa.Column('target', sa.String(length=128), nullable=False),
    sa.Column('before', sa.JSON(), nullable=True),
    sa.Column('after', sa.JSON(), nullable=True),
    # A deleted user's entries stay, under the name copied into them.
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_audit_log_user_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_log'))
    )
    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_audit_log_at'), ['at'], unique=False)
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('disabled_at', channels.sql.types.UTCDateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('disabled_at')
    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_audit_log_at'))
    op.drop_table('audit_log')
    op.drop_table('policy_overrides')
