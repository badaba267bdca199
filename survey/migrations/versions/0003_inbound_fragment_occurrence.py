"""inbound fragment occurrence: a reused concatenation reference starts a new reply

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01 15:02:11.204517
"""
from alembic import op
import sqlalchemy as sa


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Parts stored before this revision are all of the first occurrence of their key.
    with op.batch_alter_table('inbound_fragments', schema=None) as batch_op:
        batch_op.add_column(sa.Column('occurrence', sa.Integer(), server_default='0', nullable=False))
        batch_op.drop_constraint('uq_inbound_fragments_msisdn_destination_ref_total_seqnum', type_='unique')
        batch_op.create_unique_constraint('uq_inbound_fragments_part',
                                          ['msisdn', 'destination', 'ref', 'total', 'occurrence', 'seqnum'])


def downgrade() -> None:
    # The old key holds one part per (key, seqnum): later occurrences cannot be kept.
    op.execute("DELETE FROM inbound_fragments WHERE occurrence > 0")
    with op.batch_alter_table('inbound_fragments', schema=None) as batch_op:
        batch_op.drop_constraint('uq_inbound_fragments_part', type_='unique')
        batch_op.create_unique_constraint(op.f('uq_inbound_fragments_msisdn_destination_ref_total_seqnum'),
                                          ['msisdn', 'destination', 'ref', 'total', 'seqnum'])
        batch_op.drop_column('occurrence')
