"""Replies: stored as they arrive (before the SMSC is answered), then matched to a session and parsed."""
from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta

from sqlalchemy import Connection, func, insert, select
from sqlalchemy.orm import Session

from channels.phones import PhoneError, normalize_msisdn
from smpp.messages import InboundMessage as SmppInbound
from survey.cases import recoveries
from survey.cases.states import RecoveryState
from survey.machine import Replied
from survey.models import InboundMessage, OutboundMessage, SurveySession
from survey.jobs.claims import try_lock_numbers
from survey.jobs.steps import Context, Known, Outbox, handle, record_opt_out
from survey.replies.parser import ReplyKind, parse_reply
from survey.review import load_learned
from survey.states import ASKING, OPEN_STATES, InboundState

# An SMSC that lost our deliver_sm_resp delivers the same reply again, seconds later.
DUPLICATE_WINDOW = timedelta(minutes=2)


def store_inbound(connection: Connection, message: SmppInbound, *, now: datetime, region: str = "CN") -> None:
    """Store a reply as received; the caller commits before acknowledging it to the SMSC.

    Runs on the SMPP client's store thread for every reply, so it is one Core INSERT, not an ORM
    unit of work.
    """
    connection.execute(insert(InboundMessage.__table__).values(
        msisdn=msisdn_of(message.source, region), destination=message.destination[:32],
        text=storable_text(message.text),
        received_at=now, state=InboundState.RECEIVED.value))


def storable_text(text: str) -> str:
    # A UCS2 or Latin-1 body can decode to NUL characters, which PostgreSQL text cannot hold.
    return text.replace("\x00", "")


def msisdn_of(source: str, region: str) -> str:
    try:
        return normalize_msisdn(source, region=region)
    except PhoneError:
        return source[:20]  # kept as sent: it is still a reply to look at


def process_received(db: Session, *, now: datetime, ctx: Context, limit: int = 500,
                     only: int | None = None) -> Counter[str]:
    """Parse stored replies in arrival order and advance their sessions; returns counts by outcome.

    A batch is loaded with a handful of queries (replies, their numbers' recent history, the
    sessions waiting for them, those sessions' answers and tags) and then handled in memory, in order.
    """
    counts: Counter[str] = Counter()
    batch = _claim(db, limit, only)
    if not batch:
        return counts
    numbers = {m.msisdn for m in batch}
    earliest = min(m.received_at for m in batch)
    recent: dict[tuple[str, str], list[tuple[int, datetime]]] = {}
    for id_, msisdn, text, received_at in db.execute(
            select(InboundMessage.id, InboundMessage.msisdn, InboundMessage.text, InboundMessage.received_at)
            .where(InboundMessage.msisdn.in_(numbers), InboundMessage.received_at >= earliest - DUPLICATE_WINDOW,
                   InboundMessage.id <= batch[-1].id)):
        recent.setdefault((msisdn, text), []).append((id_, received_at))
    waiting = (SurveySession.msisdn.in_(numbers), SurveySession.state.in_(OPEN_STATES),
               SurveySession.sent_at.is_not(None))
    # Locked in id order (as the record job locks them) before they are read: another worker's
    # ack or expiry must not change a session between this read and this batch's write.
    db.execute(select(SurveySession.id).where(*waiting).order_by(SurveySession.id).with_for_update())
    candidates = list(db.scalars(select(SurveySession).where(*waiting).order_by(SurveySession.sent_at.desc())))
    sessions: dict[str, list[SurveySession]] = {}
    for session in candidates:
        sessions.setdefault(session.msisdn, []).append(session)
    known = Known(db).load(candidates)
    asked = _asked(db, [s.id for s in candidates])
    learned = load_learned(db)  # the review queue's labels: a labelled text reads as labelled from now on
    # Recovery checks (survey.cases) out to these numbers: a reply may answer one instead.
    asks = (recoveries.awaiting(db, numbers, since=earliest - ctx.cases.loop.reply_window)
            if ctx.cases is not None else {})
    outbox = Outbox()
    for inbound in batch:
        inbound.processed_at = now
        if _is_redelivery(db, inbound, recent):
            inbound.state = InboundState.DUPLICATE
            counts[inbound.state.value] += 1
            continue
        session = next((s for s in sessions.get(inbound.msisdn, ())
                        if s.state.is_open and s.sent_at <= inbound.received_at < s.expires_at), None)
        ask = _recovery_asked(ctx, asks, session, asked, inbound)
        if ask is not None:
            counts[_recovery_reply(db, inbound, ask, now=now, ctx=ctx, asks=asks)] += 1
            continue
        if session is None or session.question is None:
            counts[_unmatched(db, inbound, now=now, ctx=ctx)] += 1
            continue
        survey = ctx.surveys[session.survey]
        answering = _answering(asked.get(session.id, ()), inbound.received_at) or session.question
        reply = parse_reply(survey.question(answering), inbound.text,
                            learned=learned.for_question(session.survey, answering))
        inbound.session_id = session.id
        inbound.parsed_kind = reply.kind.value
        if answering != session.question and answering in known.answers(session) and reply.kind is not ReplyKind.OPTOUT:
            # The next question was not out yet when this came: it answers the last one again (a
            # text sent twice, as SMPP may), not the next one.
            inbound.state, inbound.error = InboundState.DUPLICATE, f"a second answer to {answering!r}"
            counts[inbound.state.value] += 1
            continue
        inbound.state = InboundState.PROCESSED
        session.last_reply_at = inbound.received_at
        handle(db, session, Replied(reply), now=now, ctx=ctx, inbound_id=inbound.id, known=known, outbox=outbox)
        counts[reply.kind.value] += 1
    outbox.flush(db)
    return counts


def _claim(db: Session, limit: int, only: int | None = None) -> list[InboundMessage]:
    """The oldest stored replies (or the one with id only) this worker may handle now, in order,
    their rows locked.

    Rows another worker has locked are skipped. A number's replies must be handled one after the
    other, in the order they came: a number is kept only when its lock is this transaction's, and
    only its replies older than any of its replies left out of this batch (another worker holds
    them, or they were past the limit)."""
    query = select(InboundMessage).where(InboundMessage.state == InboundState.RECEIVED)
    if only is not None:
        query = query.where(InboundMessage.id == only)
    batch = list(db.scalars(query.order_by(InboundMessage.id).limit(limit).with_for_update(skip_locked=True)))
    if not batch:
        return batch
    numbers = try_lock_numbers(db, {m.msisdn for m in batch})
    # Read after the locks are held: a worker that had this number's earlier replies has committed them.
    left_out = dict(db.execute(
        select(InboundMessage.msisdn, func.min(InboundMessage.id))
        .where(InboundMessage.state == InboundState.RECEIVED, InboundMessage.msisdn.in_(numbers),
               InboundMessage.id.not_in([m.id for m in batch]))
        .group_by(InboundMessage.msisdn)).all())
    return [m for m in batch if m.msisdn in numbers and m.id < left_out.get(m.msisdn, m.id + 1)]


def _recovery_asked(ctx: Context, asks: dict[str, list[recoveries.Ask]], session: SurveySession | None,
                    asked: dict[int, list[tuple[datetime, str]]], inbound: InboundMessage) -> recoveries.Ask | None:
    """The recovery check a reply answers: its SMS was the question last submitted to the number
    before the reply came (a survey question sent after it takes the reply instead)."""
    if ctx.cases is None:
        return None
    ask = recoveries.asked_before(asks.get(inbound.msisdn, []), inbound.received_at, ctx.cases.loop)
    if ask is None or session is None or session.question is None:
        return ask
    last = max((at for at, _ in asked.get(session.id, ()) if at <= inbound.received_at), default=None)
    return ask if last is None or last <= ask.submitted_at else None


def _recovery_reply(db: Session, inbound: InboundMessage, ask: recoveries.Ask, *, now: datetime, ctx: Context,
                    asks: dict[str, list[recoveries.Ask]]) -> str:
    state = recoveries.file_reply(db, inbound, ask, now=now, loop=ctx.cases.loop)
    if state is RecoveryState.OPTED_OUT:
        record_opt_out(db, inbound.msisdn, now=now, source=f"reply to recovery check {ask.check_id}")
    if state is not None:
        asks[inbound.msisdn].remove(ask)  # answered: a later reply is not taken for it again
    return f"recovery_{state.value if state else 'unclear'}"


def _asked(db: Session, session_ids: list[int]) -> dict[int, list[tuple[datetime, str]]]:
    """When each session's questions and re-asks were (last) submitted, oldest first."""
    asked: dict[int, list[tuple[datetime, str]]] = {}
    for session_id, question, submitted_at in db.execute(
            select(OutboundMessage.session_id, OutboundMessage.question, OutboundMessage.submitted_at)
            .where(OutboundMessage.session_id.in_(session_ids), OutboundMessage.purpose.in_(ASKING),
                   OutboundMessage.submitted_at.is_not(None)).order_by(OutboundMessage.submitted_at)):
        asked.setdefault(session_id, []).append((submitted_at, question))
    return asked


def _answering(asked: list[tuple[datetime, str]], received_at: datetime) -> str | None:
    """The question last submitted before a reply came: the one its sender was answering."""
    return next((question for submitted_at, question in reversed(asked) if submitted_at <= received_at), None)


def _unmatched(db: Session, inbound: InboundMessage, *, now: datetime, ctx: Context) -> str:
    """No session waits for this number; an opt-out in the reply is honoured all the same."""
    inbound.state = InboundState.UNMATCHED
    survey = ctx.surveys[ctx.config.default_survey]
    reply = parse_reply(survey.questions[0], inbound.text)
    inbound.parsed_kind = reply.kind.value
    if reply.kind is ReplyKind.OPTOUT:
        record_opt_out(db, inbound.msisdn, now=now, source=f"unmatched reply {inbound.id}")
    return inbound.state.value


def _is_redelivery(db: Session, inbound: InboundMessage,
                   recent: dict[tuple[str, str], list[tuple[int, datetime]]]) -> bool:
    """The same text from the same number shortly before, with nothing sent to it in between.

    A subscriber who answers "4" and then "4" again to the next question is answering twice; an
    SMSC that redelivers "4" does so without our having asked anything since.
    """
    earlier = max((received_at for id_, received_at in recent.get((inbound.msisdn, inbound.text), ())
                   if id_ < inbound.id and received_at >= inbound.received_at - DUPLICATE_WINDOW), default=None)
    if earlier is None:
        return False
    asked_since = db.scalar(select(OutboundMessage.id).where(
        OutboundMessage.msisdn == inbound.msisdn, OutboundMessage.submitted_at > earlier,
        OutboundMessage.submitted_at <= inbound.received_at).limit(1))
    return asked_since is None
