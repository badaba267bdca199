"""Replies: stored as they arrive (before the SMSC is answered), then matched to a session and parsed."""
from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from channels.phones import PhoneError, normalize_msisdn
from smpp.messages import InboundMessage as SmppInbound
from survey.machine import Replied
from survey.models import InboundMessage, OutboundMessage, SurveySession
from survey.parser import ReplyKind, parse_reply
from survey.sessions import Context, handle, record_opt_out
from survey.states import InboundState, SessionState

# An SMSC that lost our deliver_sm_resp delivers the same reply again, seconds later.
DUPLICATE_WINDOW = timedelta(minutes=2)
ANSWERABLE = (SessionState.SCHEDULED, SessionState.SENT, SessionState.WAITING)


def store_inbound(db: Session, message: SmppInbound, *, now: datetime, region: str = "CN") -> int:
    """Store a reply as received; the caller commits before acknowledging it to the SMSC."""
    try:
        msisdn = normalize_msisdn(message.source, region=region)
    except PhoneError:
        msisdn = message.source[:20]  # kept as sent: it is still a reply to look at
    row = InboundMessage(msisdn=msisdn, destination=message.destination[:32], text=message.text,
                         received_at=now, state=InboundState.RECEIVED)
    db.add(row)
    db.flush()
    return row.id


def process_received(db: Session, *, now: datetime, ctx: Context, limit: int = 500) -> Counter[str]:
    """Parse stored replies in arrival order and advance their sessions; returns counts by outcome."""
    counts: Counter[str] = Counter()
    for inbound in db.scalars(select(InboundMessage).where(InboundMessage.state == InboundState.RECEIVED)
                              .order_by(InboundMessage.id).limit(limit)):
        counts[_process(db, inbound, now=now, ctx=ctx)] += 1
    return counts


def _process(db: Session, inbound: InboundMessage, *, now: datetime, ctx: Context) -> str:
    inbound.processed_at = now
    if _is_redelivery(db, inbound):
        inbound.state = InboundState.DUPLICATE
        return inbound.state.value
    session = db.scalar(
        select(SurveySession).where(
            SurveySession.msisdn == inbound.msisdn, SurveySession.state.in_(ANSWERABLE),
            SurveySession.sent_at.is_not(None), SurveySession.sent_at <= inbound.received_at,
            SurveySession.expires_at > inbound.received_at)
        .order_by(SurveySession.sent_at.desc()).limit(1))
    if session is None or session.question is None:
        return _unmatched(db, inbound, now=now, ctx=ctx)
    survey = ctx.surveys[session.survey]
    reply = parse_reply(survey.question(session.question), inbound.text)
    inbound.session_id = session.id
    inbound.parsed_kind = reply.kind.value
    inbound.state = InboundState.PROCESSED
    session.last_reply_at = inbound.received_at
    handle(db, session, Replied(reply), now=now, ctx=ctx, inbound_id=inbound.id)
    return reply.kind.value


def _unmatched(db: Session, inbound: InboundMessage, *, now: datetime, ctx: Context) -> str:
    """No session waits for this number; an opt-out in the reply is honoured all the same."""
    inbound.state = InboundState.UNMATCHED
    survey = ctx.surveys[ctx.config.default_survey]
    reply = parse_reply(survey.questions[0], inbound.text)
    inbound.parsed_kind = reply.kind.value
    if reply.kind is ReplyKind.OPTOUT:
        record_opt_out(db, inbound.msisdn, now=now, source=f"unmatched reply {inbound.id}")
    return inbound.state.value


def _is_redelivery(db: Session, inbound: InboundMessage) -> bool:
    """The same text from the same number shortly before, with nothing sent to it in between.

    A subscriber who answers "4" and then "4" again to the next question is answering twice; an
    SMSC that redelivers "4" does so without our having asked anything since.
    """
    earlier = db.scalar(select(InboundMessage.received_at).where(
        InboundMessage.msisdn == inbound.msisdn, InboundMessage.text == inbound.text,
        InboundMessage.id < inbound.id, InboundMessage.received_at >= inbound.received_at - DUPLICATE_WINDOW)
        .order_by(InboundMessage.id.desc()).limit(1))
    if earlier is None:
        return False
    asked_since = db.scalar(select(OutboundMessage.id).where(
        OutboundMessage.msisdn == inbound.msisdn, OutboundMessage.submitted_at > earlier,
        OutboundMessage.submitted_at <= inbound.received_at).limit(1))
    return asked_since is None
