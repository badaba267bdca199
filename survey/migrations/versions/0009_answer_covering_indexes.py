"""answers: tier and brand copied from the attributes, reasons as jsonb on PostgreSQL; covering
indexes so the pages read a window of scored answers, sessions sent and interactions ended (and
whether each session was answered, with which reasons) from indexes alone

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01 17:40:00
"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql


revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None

COVER = ['survey', 'question', 'answered_at', 'value', 'outlet_code', 'business_type', 'tier', 'brand', 'channel',
         'region', 'city', 'reasons', 'session_id']


def upgrade() -> None:
    postgres = op.get_bind().dialect.name == 'postgresql'
    if postgres:
        op.alter_column('answers', 'reasons', type_=postgresql.JSONB(), postgresql_using='reasons::jsonb')
    for name in ('tier', 'brand'):
        op.add_column('answers', sa.Column(name, sa.String(32)))
        value = f"attributes->>'{name}'" if postgres else f"json_extract(attributes, '$.{name}')"
        op.execute(f"UPDATE answers SET {name} = {value}")
    op.drop_index('ix_answers_survey_question_answered', table_name='answers')
    op.create_index('ix_answers_scored_cover', 'answers', COVER)
    op.create_index('ix_answers_session_cover', 'answers', ['session_id', 'question', 'survey', 'value', 'answered_at',
                                                                  'reasons'])
    op.create_index('ix_survey_sessions_sent_cover', 'survey_sessions', ['sent_at', 'survey', 'interaction_id',
                                                                         'segments_sent'])
    op.create_index('ix_interactions_ended_cover', 'interactions', ['ended_at', 'channel', 'outlet_id',
                                                                    'business_type_id'])


def downgrade() -> None:
    op.drop_index('ix_interactions_ended_cover', table_name='interactions')
    op.drop_index('ix_survey_sessions_sent_cover', table_name='survey_sessions')
    op.drop_index('ix_answers_session_cover', table_name='answers')
    op.drop_index('ix_answers_scored_cover', table_name='answers')
    op.create_index('ix_answers_survey_question_answered', 'answers', ['survey', 'question', 'answered_at'])
    for name in ('brand', 'tier'):
        op.drop_column('answers', name)
    if op.get_bind().dialect.name == 'postgresql':
        op.alter_column('answers', 'reasons', type_=sa.JSON(), postgresql_using='reasons::json')
