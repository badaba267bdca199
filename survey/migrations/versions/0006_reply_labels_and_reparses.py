"""reply labels from the review queue, and the reparses they caused

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01 18:00:00
"""
from alembic import op
import sqlalchemy as sa

import channels.sql.types

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('reply_labels',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('survey', sa.String(length=64), nullable=False),
    sa.Column('question', sa.String(length=64), nullable=False),
    sa.Column('norm_text', sa.Text(), nullable=False),
    sa.Column('text_hash', sa.String(length=64), nullable=False),
    sa.Column('example', sa.Text(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('value', sa.Integer(), nullable=True),
    sa.Column('reasons', sa.JSON(), nullable=False),
    sa.Column('labelled_by', sa.String(length=64), nullable=False),
    sa.Column('labelled_at', channels.sql.types.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_reply_labels')),
    sa.UniqueConstraint('survey', 'question', 'text_hash', name=op.f('uq_reply_labels_survey_question_text_hash'))
    )
    op.create_table('reply_reparses',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('label_id', sa.Integer(), nullable=False),
    sa.Column('inbound_id', sa.Integer(), nullable=True),
    sa.Column('answer_id', sa.Integer(), nullable=True),
    sa.Column('old_kind', sa.String(length=16), nullable=False),
    sa.Column('old_value', sa.Integer(), nullable=True),
    sa.Column('old_reasons', sa.JSON(), nullable=False),
    sa.Column('new_kind', sa.String(length=16), nullable=False),
    sa.Column('new_value', sa.Integer(), nullable=True),
    sa.Column('new_reasons', sa.JSON(), nullable=False),
    sa.Column('reparsed_by', sa.String(length=64), nullable=False),
    sa.Column('reparsed_at', channels.sql.types.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['answer_id'], ['answers.id'], name=op.f('fk_reply_reparses_answer_id_answers')),
    sa.ForeignKeyConstraint(['inbound_id'], ['inbound_messages.id'], name=op.f('fk_reply_reparses_inbound_id_inbound_messages')),
    sa.ForeignKeyConstraint(['label_id'], ['reply_labels.id'], name=op.f('fk_reply_reparses_label_id_reply_labels')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_reply_reparses'))
    )
    with op.batch_alter_table('reply_reparses', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_reply_reparses_answer_id'), ['answer_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_reply_reparses_inbound_id'), ['inbound_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_reply_reparses_label_id'), ['label_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('reply_reparses', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_reply_reparses_label_id'))
        batch_op.drop_index(batch_op.f('ix_reply_reparses_inbound_id'))
        batch_op.drop_index(batch_op.f('ix_reply_reparses_answer_id'))
    op.drop_table('reply_reparses')
    op.drop_table('reply_labels')
