"""closed-loop cases, their history, escalation marks, notifications, routes and recovery checks;
outbound messages get the recovery purpose

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01 19:00:00
"""
from alembic import op
import sqlalchemy as sa

import channels.sql.types


revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


PURPOSES = ('question', 'reask', 'thanks', 'optout_confirm')


def _purpose(values: tuple[str, ...]) -> sa.Enum:
    return sa.Enum(*values, name='messagepurpose', native_enum=False, create_constraint=True, length=24)


def upgrade() -> None:
    # The CHECK on outbound_messages.purpose admits the recovery SMS (SQLite: the table is rebuilt).
    with op.batch_alter_table('outbound_messages', schema=None) as batch_op:
        batch_op.alter_column('purpose', existing_type=_purpose(PURPOSES), type_=_purpose(PURPOSES + ('recovery',)),
                              existing_nullable=False)
    op.create_table('case_routes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('duty', sa.Enum('owner', 'city', 'region', name='routeduty', native_enum=False, create_constraint=True, length=24), nullable=False),
    sa.Column('match_kind', sa.Enum('outlet', 'channel', 'city', 'region', name='routematch', native_enum=False, create_constraint=True, length=24), nullable=False),
    sa.Column('match_key', sa.String(length=64), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_case_routes_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_case_routes')),
    sa.UniqueConstraint('duty', 'match_kind', 'match_key', 'user_id', name=op.f('uq_case_routes_duty_match_kind_match_key_user_id'))
    )
    op.create_table('cases',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('session_id', sa.Integer(), nullable=False),
    sa.Column('answer_id', sa.Integer(), nullable=True),
    sa.Column('trigger', sa.String(length=64), nullable=False),
    sa.Column('msisdn', sa.String(length=20), nullable=False),
    sa.Column('channel', sa.String(length=24), nullable=False),
    sa.Column('outlet_code', sa.String(length=32), nullable=False),
    sa.Column('region', sa.String(length=64), nullable=False),
    sa.Column('city', sa.String(length=64), nullable=False),
    sa.Column('segment', sa.String(length=24), nullable=False),
    sa.Column('state', sa.Enum('open', 'contacted', 'resolved', 'unreachable', 'reopened', name='casestate', native_enum=False, create_constraint=True, length=24), nullable=False),
    sa.Column('round', sa.Integer(), nullable=False),
    sa.Column('owner_id', sa.Integer(), nullable=True),
    sa.Column('first_owner_id', sa.Integer(), nullable=True),
    sa.Column('opened_at', channels.sql.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('round_started_at', channels.sql.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('deadline_at', channels.sql.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('warn_at', channels.sql.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('handovers', sa.Integer(), nullable=False),
    sa.Column('handover_due_at', channels.sql.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('escalation_level', sa.Integer(), nullable=False),
    sa.Column('next_check_at', channels.sql.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('first_contact_at', channels.sql.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('closed_at', channels.sql.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('root_cause', sa.String(length=32), nullable=True),
    sa.Column('action', sa.String(length=32), nullable=True),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('updated_at', channels.sql.types.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['answer_id'], ['answers.id'], name=op.f('fk_cases_answer_id_answers')),
    sa.ForeignKeyConstraint(['first_owner_id'], ['users.id'], name=op.f('fk_cases_first_owner_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['owner_id'], ['users.id'], name=op.f('fk_cases_owner_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['session_id'], ['survey_sessions.id'], name=op.f('fk_cases_session_id_survey_sessions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_cases')),
    sa.UniqueConstraint('session_id', name=op.f('uq_cases_session_id'))
    )
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_cases_first_owner_id'), ['first_owner_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_cases_next_check_at'), ['next_check_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_cases_outlet_code'), ['outlet_code'], unique=False)
        batch_op.create_index(batch_op.f('ix_cases_owner_id'), ['owner_id'], unique=False)
        batch_op.create_index('ix_cases_state_deadline', ['state', 'deadline_at'], unique=False)

    op.create_table('case_escalations',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.Enum('warn', 'overdue', 'handover', name='alertkind', native_enum=False, create_constraint=True, length=24), nullable=False),
    sa.Column('round', sa.Integer(), nullable=False),
    sa.Column('level', sa.Integer(), nullable=False),
    sa.Column('due_at', channels.sql.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('done_at', channels.sql.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('notified', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_case_escalations_case_id_cases'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_case_escalations')),
    sa.UniqueConstraint('case_id', 'kind', 'round', 'level', name=op.f('uq_case_escalations_case_id_kind_round_level'))
    )
    op.create_table('case_events',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('at', channels.sql.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('actor', sa.String(length=64), nullable=False),
    sa.Column('kind', sa.Enum('opened', 'contact', 'contact_attempt', 'handed_over', 'resolved', 'unreachable', 'reopened', 'warned', 'escalated', 'handover_overdue', 'recovery_queued', 'recovery_skipped', 'recovery_reply', 'recovery_closed', name='caseeventkind', native_enum=False, create_constraint=True, length=24), nullable=False),
    sa.Column('from_state', sa.String(length=24), nullable=True),
    sa.Column('to_state', sa.String(length=24), nullable=True),
    sa.Column('detail', sa.JSON(), nullable=True),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_case_events_case_id_cases'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_case_events_user_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_case_events'))
    )
    with op.batch_alter_table('case_events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_case_events_case_id'), ['case_id'], unique=False)

    op.create_table('case_notifications',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=24), nullable=False),
    sa.Column('text', sa.String(length=256), nullable=False),
    sa.Column('created_at', channels.sql.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('read_at', channels.sql.types.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_case_notifications_case_id_cases'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_case_notifications_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_case_notifications'))
    )
    with op.batch_alter_table('case_notifications', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_case_notifications_case_id'), ['case_id'], unique=False)
        batch_op.create_index('ix_case_notifications_user_read', ['user_id', 'read_at'], unique=False)

    op.create_table('case_recoveries',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('round', sa.Integer(), nullable=False),
    sa.Column('msisdn', sa.String(length=20), nullable=False),
    sa.Column('message_id', sa.Integer(), nullable=True),
    sa.Column('state', sa.Enum('pending', 'satisfied', 'dissatisfied', 'opted_out', 'no_reply', 'cancelled', 'skipped', name='recoverystate', native_enum=False, create_constraint=True, length=24), nullable=False),
    sa.Column('created_at', channels.sql.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('sent_at', channels.sql.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('replied_at', channels.sql.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('inbound_id', sa.Integer(), nullable=True),
    sa.Column('reply_text', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_case_recoveries_case_id_cases'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['inbound_id'], ['inbound_messages.id'], name=op.f('fk_case_recoveries_inbound_id_inbound_messages')),
    sa.ForeignKeyConstraint(['message_id'], ['outbound_messages.id'], name=op.f('fk_case_recoveries_message_id_outbound_messages')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_case_recoveries')),
    sa.UniqueConstraint('case_id', 'round', name=op.f('uq_case_recoveries_case_id_round'))
    )
    with op.batch_alter_table('case_recoveries', schema=None) as batch_op:
        batch_op.create_index('ix_case_recoveries_msisdn_state', ['msisdn', 'state'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('case_recoveries', schema=None) as batch_op:
        batch_op.drop_index('ix_case_recoveries_msisdn_state')

    op.drop_table('case_recoveries')
    with op.batch_alter_table('case_notifications', schema=None) as batch_op:
        batch_op.drop_index('ix_case_notifications_user_read')
        batch_op.drop_index(batch_op.f('ix_case_notifications_case_id'))

    op.drop_table('case_notifications')
    with op.batch_alter_table('case_events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_case_events_case_id'))

    op.drop_table('case_events')
    op.drop_table('case_escalations')
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.drop_index('ix_cases_state_deadline')
        batch_op.drop_index(batch_op.f('ix_cases_owner_id'))
        batch_op.drop_index(batch_op.f('ix_cases_outlet_code'))
        batch_op.drop_index(batch_op.f('ix_cases_next_check_at'))
        batch_op.drop_index(batch_op.f('ix_cases_first_owner_id'))

    op.drop_table('cases')
    op.drop_table('case_routes')
    op.execute("UPDATE outbound_messages SET purpose = 'thanks' WHERE purpose = 'recovery'")
    with op.batch_alter_table('outbound_messages', schema=None) as batch_op:
        batch_op.alter_column('purpose', existing_type=_purpose(PURPOSES + ('recovery',)), type_=_purpose(PURPOSES),
                              existing_nullable=False)
