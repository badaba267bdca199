"""The recovery check's reply: filed against the check when its SMS was the question last sent to the
number before the reply came. "1" records the recovery, "2" reopens the case; recovery rate =
satisfied replies / checks sent. (The SMS itself is queued by survey.cases.actions.queue_check.)
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from survey.cases.actions import CUSTOMER, SYSTEM, act, record_event
from survey.cases.config import CaseLoop
from survey.cases.machine import Reopen
from survey.cases.recovery import read_reply, recovery_survey
from survey.cases.states import CaseEventKind, CaseState, RecoveryState
from survey.models import Case, CaseRecovery, InboundMessage, OutboundMessage
from survey.states import InboundState, MessagePurpose, OutboundState
from survey.texts import survey_text

SENT_STATES = (OutboundState.ACKED, OutboundState.DELIVERED, OutboundState.UNDELIVERED)


@dataclass(frozen=True)
class Ask:
    """A recovery SMS out and awaiting its reply."""

    check_id: int
    case_id: int
    submitted_at: datetime


def awaiting(db: Session, numbers: set[str], *, since: datetime) -> dict[str, list[Ask]]:
    """Recovery checks sent to these numbers since `since` and not answered, oldest first."""
    asks: dict[str, list[Ask]] = {}
    for check_id, case_id, msisdn, submitted_at in db.execute(
            select(CaseRecovery.id, CaseRecovery.case_id, CaseRecovery.msisdn, OutboundMessage.submitted_at)
            .join(OutboundMessage, OutboundMessage.id == CaseRecovery.message_id)
            .where(CaseRecovery.msisdn.in_(numbers), CaseRecovery.state == RecoveryState.PENDING,
                   OutboundMessage.submitted_at >= since)
            .order_by(OutboundMessage.submitted_at)):
        asks.setdefault(msisdn, []).append(Ask(check_id, case_id, submitted_at))
    return asks


def asked_before(asks: list[Ask], received_at: datetime, loop: CaseLoop) -> Ask | None:
    """The recovery SMS last sent before a reply came, if the reply is inside its window."""
    return next((a for a in reversed(asks) if a.submitted_at <= received_at < a.submitted_at + loop.reply_window),
                None)


def file_reply(db: Session, inbound: InboundMessage, ask: Ask, *, now: datetime, loop: CaseLoop) -> RecoveryState | None:
    """Store a reply to a recovery SMS: satisfied, dissatisfied (the case reopens), an opt-out
    (confirmed by SMS; the caller records the opt-out) or unclear (None: the check still waits)."""
    state, parsed = read_reply(inbound.text)
    inbound.state, inbound.parsed_kind = InboundState.PROCESSED, parsed.kind.value
    check = db.get(CaseRecovery, ask.check_id)
    case = db.get(Case, ask.case_id)
    record_event(db, case, CaseEventKind.RECOVERY_REPLY, now=now, actor_name=CUSTOMER,
                 detail={"text": inbound.text[:500], "result": state.value if state else "unclear"})
    if state is None:
        return None
    check.state, check.replied_at, check.inbound_id = state, inbound.received_at, inbound.id
    check.sent_at = check.sent_at or ask.submitted_at
    check.reply_text = inbound.text
    if state is RecoveryState.DISSATISFIED and case.state in (CaseState.RESOLVED, CaseState.UNREACHABLE):
        act(db, case, Reopen("recovery"), actor=None, actor_name=CUSTOMER, now=now, loop=loop)
    elif state is RecoveryState.OPTED_OUT:
        db.add(OutboundMessage(session_id=None, msisdn=inbound.msisdn,
                               text=survey_text(recovery_survey(), "optout_confirm", {}),
                               purpose=MessagePurpose.OPTOUT_CONFIRM, question=None, state=OutboundState.PENDING,
                               due_at=now, attempts=0, segments=0, ref=0, created_at=now))
    return state


def settle_checks(db: Session, *, now: datetime, loop: CaseLoop, limit: int = 1000) -> int:
    """Checks whose SMS went (sent_at noted), never went (cancelled, failed: closed) or whose reply
    window passed (no reply); returns how many were closed."""
    rows = db.execute(
        select(CaseRecovery.id, CaseRecovery.case_id, CaseRecovery.sent_at, OutboundMessage.state,
               OutboundMessage.submitted_at)
        .join(OutboundMessage, OutboundMessage.id == CaseRecovery.message_id)
        .where(CaseRecovery.state == RecoveryState.PENDING,
               (OutboundMessage.state.in_((OutboundState.CANCELLED, OutboundState.FAILED)))
               | (CaseRecovery.sent_at.is_(None) & OutboundMessage.state.in_(SENT_STATES))
               | (OutboundMessage.submitted_at < now - loop.reply_window))
        .limit(limit)).all()
    closed = 0
    for check_id, case_id, sent_at, message_state, submitted_at in rows:
        values: dict = {}
        if sent_at is None and message_state in SENT_STATES:
            values["sent_at"] = submitted_at
        if message_state in (OutboundState.CANCELLED, OutboundState.FAILED):
            values["state"] = RecoveryState.CANCELLED
        elif submitted_at is not None and submitted_at < now - loop.reply_window:
            values["state"] = RecoveryState.NO_REPLY
        db.execute(update(CaseRecovery).where(CaseRecovery.id == check_id).values(**values))
        if "state" in values:
            closed += 1
            record_event(db, db.get(Case, case_id), CaseEventKind.RECOVERY_CLOSED, now=now, actor_name=SYSTEM,
                         detail={"result": values["state"].value, "sms": message_state.value})
    return closed
