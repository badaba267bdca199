"""Tables of survey/: sessions, outbound and inbound SMS, and answers."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column, relationship

from channels.models import Interaction
from channels.sql.base import Base, str_enum
from survey.cases.states import AlertKind, CaseEventKind, CaseState, RecoveryState, RouteDuty, RouteMatch
from survey.policy import OverrideKind
from survey.states import InboundState, MessagePurpose, OutboundState, ReceiptState, SessionState


class SurveySession(Base):
    """One survey of one interaction; its state lives here, keyed by the subscriber's number."""

    __tablename__ = "survey_sessions"
    __table_args__ = (
        Index("ix_survey_sessions_msisdn_state", "msisdn", "state"),
        # Covering for the pages' sent-in-a-window counts (survey/migrations 0009).
        Index("ix_survey_sessions_sent_cover", "sent_at", "survey", "interaction_id", "segments_sent"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    interaction_id: Mapped[int] = mapped_column(ForeignKey("interactions.id"), unique=True)
    msisdn: Mapped[str] = mapped_column(String(20))
    survey: Mapped[str] = mapped_column(String(64))
    state: Mapped[SessionState] = mapped_column(str_enum(SessionState), index=True)
    question: Mapped[str | None] = mapped_column(String(64))  # the question awaiting an answer
    reasks: Mapped[int] = mapped_column(Integer, default=0)
    scheduled_for: Mapped[datetime]
    sent_at: Mapped[datetime | None]
    last_reply_at: Mapped[datetime | None]
    expires_at: Mapped[datetime | None] = mapped_column(index=True)
    ended_at: Mapped[datetime | None]
    segments_sent: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime]

    interaction: Mapped[Interaction] = relationship()


class OutboundMessage(Base):
    """An SMS to send; stored before it is submitted so a restart neither loses nor repeats it."""

    __tablename__ = "outbound_messages"
    __table_args__ = (Index("ix_outbound_messages_state_due", "state", "due_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int | None] = mapped_column(ForeignKey("survey_sessions.id"), index=True)
    msisdn: Mapped[str] = mapped_column(String(20))
    text: Mapped[str] = mapped_column(Text)
    purpose: Mapped[MessagePurpose] = mapped_column(str_enum(MessagePurpose))
    question: Mapped[str | None] = mapped_column(String(64))
    state: Mapped[OutboundState] = mapped_column(str_enum(OutboundState))
    due_at: Mapped[datetime]
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    segments: Mapped[int] = mapped_column(Integer, default=1)
    ref: Mapped[int] = mapped_column(Integer, default=0)  # concatenation reference shared by segments
    smpp_status: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(String(256))
    submitted_at: Mapped[datetime | None]
    acked_at: Mapped[datetime | None]
    delivered_at: Mapped[datetime | None]
    created_at: Mapped[datetime]
    # While SUBMITTING: the worker that claimed it, and until when its claim holds unless renewed
    # (survey.jobs.claims); past that, another worker puts it back to PENDING.
    claimed_by: Mapped[str | None] = mapped_column(String(64))
    lease_until: Mapped[datetime | None]

    session: Mapped[SurveySession | None] = relationship()
    parts: Mapped[list["OutboundSegment"]] = relationship(back_populates="message", order_by="OutboundSegment.seq")


class OutboundSegment(Base):
    """One submitted segment and the SMSC's id for it, which its delivery receipt names."""

    __tablename__ = "outbound_segments"
    __table_args__ = (UniqueConstraint("message_id", "seq"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    message_id: Mapped[int] = mapped_column(ForeignKey("outbound_messages.id", ondelete="CASCADE"))
    seq: Mapped[int] = mapped_column(Integer)
    # The SMSC's id in canonical form, and its other reading when it is ambiguous (digit-only ids
    # may be decimal or hex), so a receipt matches whichever form the SMSC writes there.
    smsc_id: Mapped[str] = mapped_column(String(64), index=True)
    smsc_id_alt: Mapped[str | None] = mapped_column(String(64), index=True)
    receipt_status: Mapped[str | None] = mapped_column(String(16))
    receipt_error: Mapped[str | None] = mapped_column(String(16))
    receipt_at: Mapped[datetime | None]

    message: Mapped[OutboundMessage] = relationship(back_populates="parts")


class InboundMessage(Base):
    """A reply as received (reassembled); stored before it is parsed or acknowledged to the SMSC."""

    __tablename__ = "inbound_messages"
    __table_args__ = (Index("ix_inbound_messages_state_received", "state", "received_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    msisdn: Mapped[str] = mapped_column(String(20), index=True)
    destination: Mapped[str] = mapped_column(String(32))
    text: Mapped[str] = mapped_column(Text)
    received_at: Mapped[datetime]
    state: Mapped[InboundState] = mapped_column(str_enum(InboundState))
    session_id: Mapped[int | None] = mapped_column(ForeignKey("survey_sessions.id"), index=True)
    parsed_kind: Mapped[str | None] = mapped_column(String(16))
    error: Mapped[str | None] = mapped_column(String(256))
    processed_at: Mapped[datetime | None]


class InboundReceipt(Base):
    """A delivery receipt as received, stored before it is acknowledged; the record job matches it
    to its segment, waiting for the ack when the receipt overtook it."""

    __tablename__ = "inbound_receipts"
    __table_args__ = (Index("ix_inbound_receipts_state", "state"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    smsc_id: Mapped[str] = mapped_column(String(64))  # as the SMSC wrote it
    status: Mapped[str] = mapped_column(String(16))
    error: Mapped[str | None] = mapped_column(String(16))
    done_at: Mapped[datetime | None]
    received_at: Mapped[datetime]
    state: Mapped[ReceiptState] = mapped_column(str_enum(ReceiptState))


class InboundFragment(Base):
    """One part of a multipart reply, stored before it is acknowledged and kept a time to live
    after it arrived, so that a part the SMSC sends again is recognised (survey/fragments.py).

    (msisdn, destination, ref, total) does not name one reply: references wrap, and a later reply
    reusing them while earlier parts are kept is a new occurrence of the key."""

    __tablename__ = "inbound_fragments"
    __table_args__ = (UniqueConstraint("msisdn", "destination", "ref", "total", "occurrence", "seqnum",
                                       name="uq_inbound_fragments_part"),
                      Index("ix_inbound_fragments_received", "received_at"))

    id: Mapped[int] = mapped_column(primary_key=True)
    msisdn: Mapped[str] = mapped_column(String(20))
    destination: Mapped[str] = mapped_column(String(32))
    ref: Mapped[int]
    total: Mapped[int]
    occurrence: Mapped[int] = mapped_column(server_default="0")
    seqnum: Mapped[int]
    data_coding: Mapped[int]
    body: Mapped[bytes] = mapped_column(LargeBinary)
    received_at: Mapped[datetime]
    inbound_id: Mapped[int | None] = mapped_column(ForeignKey("inbound_messages.id"))


class Answer(Base):
    """An understood answer to one question, tagged with the interaction's dimensions for analysis."""

    __tablename__ = "answers"
    __table_args__ = (
        UniqueConstraint("session_id", "question"),
        # Covering: a page's window of scored answers is read from the index alone, in time order,
        # instead of one random table read per answer; the second answers "was this session
        # answered, with which reasons" the same way.
        Index("ix_answers_scored_cover", "survey", "question", "answered_at", "value", "outlet_code",
              "business_type", "tier", "brand", "channel", "region", "city", "reasons", "session_id"),
        Index("ix_answers_session_cover", "session_id", "question", "survey", "value", "answered_at", "reasons"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("survey_sessions.id"))
    inbound_id: Mapped[int | None] = mapped_column(ForeignKey("inbound_messages.id"))
    survey: Mapped[str] = mapped_column(String(64))
    question: Mapped[str] = mapped_column(String(64))
    value: Mapped[int | None] = mapped_column(Integer)
    # jsonb on PostgreSQL: a btree key (the covering index below) cannot hold json.
    reasons: Mapped[list[str]] = mapped_column(JSON().with_variant(JSONB(), "postgresql"), default=list)
    text: Mapped[str] = mapped_column(Text)
    answered_at: Mapped[datetime]
    response_seconds: Mapped[int] = mapped_column(Integer)
    # Copied from the interaction so analysis aggregates one table without joins.
    msisdn: Mapped[str] = mapped_column(String(20))
    channel: Mapped[str] = mapped_column(String(24), index=True)
    outlet_code: Mapped[str] = mapped_column(String(32), index=True)
    region: Mapped[str] = mapped_column(String(64))
    city: Mapped[str] = mapped_column(String(64))
    business_type: Mapped[str | None] = mapped_column(String(64))
    attributes: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # The attributes pages filter and adjust on, copied from `attributes` at insert: plain columns a
    # covering index can hold (SQLite does not read a generated column's value from an index).
    tier: Mapped[str | None] = mapped_column(String(32), default=lambda ctx: _attribute(ctx, "tier"))
    brand: Mapped[str | None] = mapped_column(String(32), default=lambda ctx: _attribute(ctx, "brand"))


def _attribute(context, name: str) -> str | None:
    """An inserted answer's customer attribute `name` (for its column of the same name)."""
    value = (context.get_current_parameters().get("attributes") or {}).get(name)
    return None if value is None else str(value)


class JobLease(Base):
    """A named turn or lease shared by the workers on one database (survey.jobs.leases): who holds
    it and until when. Periodic jobs that must run once take a turn here; each worker's own lease
    ("worker:<id>") says it is alive."""

    __tablename__ = "job_leases"

    name: Mapped[str] = mapped_column(String(128), primary_key=True)
    holder: Mapped[str] = mapped_column(String(64))
    lease_until: Mapped[datetime]
    updated_at: Mapped[datetime]


class PolicyOverride(Base):
    """A contact-policy rule an admin set, over the TOUCHPOINT_* default (survey.policy.OverrideKind
    says what its key and value are). Every evaluate run reads them all, so a change applies to the
    next interactions without a restart; removing the row brings the setting's value back."""

    __tablename__ = "policy_overrides"
    __table_args__ = (UniqueConstraint("kind", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[OverrideKind] = mapped_column(str_enum(OverrideKind))
    key: Mapped[str] = mapped_column(String(64))  # survey, channel, business type or outlet code; "" for all
    value: Mapped[str] = mapped_column(String(64))
    updated_at: Mapped[datetime]
    updated_by: Mapped[str | None] = mapped_column(String(64))


class ReplyLabel(Base):
    """How a person in the review queue read one normalised reply text to one question: the parser
    reads the same text this way from then on (survey.replies.learned), and it is a training
    example for the reason model (the review queue exports labels in the corpus's JSONL format)."""

    __tablename__ = "reply_labels"
    __table_args__ = (UniqueConstraint("survey", "question", "text_hash"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    survey: Mapped[str] = mapped_column(String(64))
    question: Mapped[str] = mapped_column(String(64))
    norm_text: Mapped[str] = mapped_column(Text)  # as survey.replies.normalize.normalise gives it
    text_hash: Mapped[str] = mapped_column(String(64))  # SHA-256 of norm_text: a long text cannot be a key
    example: Mapped[str] = mapped_column(Text)  # one verbatim reply with this text
    kind: Mapped[str] = mapped_column(String(16))  # answer, optout, unclear
    value: Mapped[int | None] = mapped_column(Integer)
    reasons: Mapped[list[str]] = mapped_column(default=list)
    labelled_by: Mapped[str] = mapped_column(String(64))
    labelled_at: Mapped[datetime]


class ReplyReparse(Base):
    """One past reply read again after a label: the old and the new reading side by side, so a
    corrected answer never hides what was first recorded."""

    __tablename__ = "reply_reparses"

    id: Mapped[int] = mapped_column(primary_key=True)
    label_id: Mapped[int] = mapped_column(ForeignKey("reply_labels.id"), index=True)
    inbound_id: Mapped[int | None] = mapped_column(ForeignKey("inbound_messages.id"), index=True)
    answer_id: Mapped[int | None] = mapped_column(ForeignKey("answers.id"), index=True)
    old_kind: Mapped[str] = mapped_column(String(16))
    old_value: Mapped[int | None] = mapped_column(Integer)
    old_reasons: Mapped[list[str]] = mapped_column(default=list)
    new_kind: Mapped[str] = mapped_column(String(16))
    new_value: Mapped[int | None] = mapped_column(Integer)
    new_reasons: Mapped[list[str]] = mapped_column(default=list)
    reparsed_by: Mapped[str] = mapped_column(String(64))
    reparsed_at: Mapped[datetime]


# -- closed-loop cases (survey/cases/) ------------------------------------------------------------


class Case(Base):
    """A follow-up of a dissatisfied answer: opened in the answer's transaction (one per session),
    owned by the outlet's responsible person, due by the customer's segment, escalated when overdue,
    closed with a root cause and an action, and checked with the customer by SMS."""

    __tablename__ = "cases"
    __table_args__ = (Index("ix_cases_state_deadline", "state", "deadline_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("survey_sessions.id"), unique=True)
    answer_id: Mapped[int | None] = mapped_column(ForeignKey("answers.id"))  # the answer that opened it
    trigger: Mapped[str] = mapped_column(String(64))  # the rule's key (survey/cases/data/rules.yaml)
    msisdn: Mapped[str] = mapped_column(String(20))
    channel: Mapped[str] = mapped_column(String(24))
    outlet_code: Mapped[str] = mapped_column(String(32), index=True)
    region: Mapped[str] = mapped_column(String(64))
    city: Mapped[str] = mapped_column(String(64))
    segment: Mapped[str] = mapped_column(String(24))  # the customer's tier/brand segment (deadlines.yaml)
    state: Mapped[CaseState] = mapped_column(str_enum(CaseState))
    round: Mapped[int] = mapped_column(Integer, default=1)  # 1, and one more each time it is reopened
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    # 首问责任: who first received it stays answerable for it when it is handed on.
    first_owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    opened_at: Mapped[datetime]
    round_started_at: Mapped[datetime]
    deadline_at: Mapped[datetime]
    warn_at: Mapped[datetime]
    handovers: Mapped[int] = mapped_column(Integer, default=0)
    handover_due_at: Mapped[datetime | None]  # set at a hand-over, cleared when the new owner acts
    escalation_level: Mapped[int] = mapped_column(Integer, default=0)
    next_check_at: Mapped[datetime | None] = mapped_column(index=True)  # the escalation job's next look
    first_contact_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]  # resolved or found unreachable (the latest round)
    root_cause: Mapped[str | None] = mapped_column(String(32))
    action: Mapped[str | None] = mapped_column(String(32))
    note: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[datetime]


class CaseEvent(Base):
    """A line of a case's history: who (None: the system or the customer), when, what."""

    __tablename__ = "case_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime]
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    actor: Mapped[str] = mapped_column(String(64))  # the user's name, copied; 系统 or 客户 otherwise
    kind: Mapped[CaseEventKind] = mapped_column(str_enum(CaseEventKind))
    from_state: Mapped[str | None] = mapped_column(String(24))
    to_state: Mapped[str | None] = mapped_column(String(24))
    detail: Mapped[dict[str, Any] | None]


class CaseEscalation(Base):
    """A warning or an escalation given (or passed): the escalation job's memory, so a restart gives
    nothing twice."""

    __tablename__ = "case_escalations"
    __table_args__ = (UniqueConstraint("case_id", "kind", "round", "level"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"))
    kind: Mapped[AlertKind] = mapped_column(str_enum(AlertKind))
    round: Mapped[int] = mapped_column(Integer)
    level: Mapped[int] = mapped_column(Integer)
    due_at: Mapped[datetime]
    done_at: Mapped[datetime]
    notified: Mapped[int] = mapped_column(Integer, default=0)  # how many people were told


class CaseNotification(Base):
    """An in-app notice to a member of staff (warnings and escalations are not texted to staff)."""

    __tablename__ = "case_notifications"
    __table_args__ = (Index("ix_case_notifications_user_read", "user_id", "read_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(24))
    text: Mapped[str] = mapped_column(String(256))
    created_at: Mapped[datetime]
    read_at: Mapped[datetime | None]


class CaseRoute(Base):
    """Who owns new cases of an outlet, channel, city or region (before or after the outlet's channel
    lead), and who an overdue case escalates to (city, then region): routing as data."""

    __tablename__ = "case_routes"
    __table_args__ = (UniqueConstraint("duty", "match_kind", "match_key", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    duty: Mapped[RouteDuty] = mapped_column(str_enum(RouteDuty))
    match_kind: Mapped[RouteMatch] = mapped_column(str_enum(RouteMatch))
    match_key: Mapped[str] = mapped_column(String(64))  # outlet code, channel, city or region name
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))


class CaseRecovery(Base):
    """The recovery check of one resolution: one SMS asking whether it is fixed, and the reply."""

    __tablename__ = "case_recoveries"
    __table_args__ = (UniqueConstraint("case_id", "round"), Index("ix_case_recoveries_msisdn_state", "msisdn", "state"))

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"))
    round: Mapped[int] = mapped_column(Integer)
    msisdn: Mapped[str] = mapped_column(String(20))
    message_id: Mapped[int | None] = mapped_column(ForeignKey("outbound_messages.id"))
    state: Mapped[RecoveryState] = mapped_column(str_enum(RecoveryState))
    created_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]
    replied_at: Mapped[datetime | None]
    inbound_id: Mapped[int | None] = mapped_column(ForeignKey("inbound_messages.id"))
    reply_text: Mapped[str | None] = mapped_column(Text)
