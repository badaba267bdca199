"""report packs: the daily digest, 10-day and monthly reports per scope, unique per kind, period and scope

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01 18:00:00
"""
from alembic import op
import sqlalchemy as sa

import channels.sql.types


revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('report_packs',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.Enum('daily', 'dekad', 'monthly', name='packkind', native_enum=False, create_constraint=True, length=24), nullable=False),
    sa.Column('period_start', sa.Date(), nullable=False),
    sa.Column('period_end', sa.Date(), nullable=False),
    sa.Column('scope_kind', sa.Enum('operator', 'region', 'lead', name='scopekind', native_enum=False, create_constraint=True, length=24), nullable=False),
    sa.Column('scope_key', sa.String(length=64), nullable=False),
    sa.Column('scope_label', sa.String(length=64), nullable=False),
    sa.Column('outlets', sa.JSON(), nullable=True),
    sa.Column('data', sa.JSON(), nullable=False),
    sa.Column('xlsx', sa.LargeBinary(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('built_at', channels.sql.types.UTCDateTime(), nullable=False),
    sa.Column('built_by', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_report_packs')),
    sa.UniqueConstraint('kind', 'period_start', 'scope_kind', 'scope_key',
                        name=op.f('uq_report_packs_kind_period_start_scope_kind_scope_key'))
    )


def downgrade() -> None:
    op.drop_table('report_packs')
