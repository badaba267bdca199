"""several workers on one database: outbound claims carry their worker and lease; job leases

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01 19:30:00
"""
from alembic import op
import sqlalchemy as sa

import channels.sql.types

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Messages SUBMITTING from before this revision have no claim: the first worker to start treats
    # them as a dead worker's (lease expired) and sends them again, as a single worker always did.
    with op.batch_alter_table('outbound_messages', schema=None) as batch_op:
        batch_op.add_column(sa.Column('claimed_by', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('lease_until', channels.sql.types.UTCDateTime(timezone=True), nullable=True))
    op.create_table('job_leases',
    sa.Column('name', sa.String(length=128), nullable=False),
    sa.Column('holder', sa.String(length=64), nullable=False),
    sa.Column('lease_until', channels.sql.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', channels.sql.types.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('name', name=op.f('pk_job_leases'))
    )


def downgrade() -> None:
    op.drop_table('job_leases')
    with op.batch_alter_table('outbound_messages', schema=None) as batch_op:
        batch_op.drop_column('lease_until')
        batch_op.drop_column('claimed_by')
