"""Replies: stored as they arrive (before the SMSC is answered), then matched to a session and parsed."""
from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta

from sqlalchemy import Connection, delete, func, insert, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from channels.phones import PhoneError, normalize_msisdn
from smpp.messages import InboundMessage as SmppInbound
from smpp.reassembly import Concat, Fragment, assemble
from survey.machine import Replied
from survey.models import InboundFragment, InboundMessage, OutboundMessage, SurveySession
from survey.parser import ReplyKind, parse_reply
from survey.sessions import Context, Known, Outbox, handle, record_opt_out
from survey.states import OPEN_STATES, InboundState

# An SMSC that lost our deliver_sm_resp delivers the same reply again, seconds later.
DUPLICATE_WINDOW = timedelta(minutes=2)


def store_inbound(connection: Connection, message: SmppInbound, *, now: datetime, region: str = "CN") -> None:
    """Store a reply as received; the caller commits before acknowledging it to the SMSC.

    Runs on the SMPP client's store thread for every reply, so it is one Core INSERT, not an ORM
    unit of work.
    """
    connection.execute(insert(InboundMessage.__table__).values(
        msisdn=_msisdn(message.source, region), destination=message.destination[:32], text=_storable(message.text),
        received_at=now, state=InboundState.RECEIVED.value))


def _storable(text: str) -> str:
    # A UCS2 or Latin-1 body can decode to NUL characters, which PostgreSQL text cannot hold.
    return text.replace("\x00", "")


def _msisdn(source: str, region: str) -> str:
    try:
        return normalize_msisdn(source, region=region)
    except PhoneError:
        return source[:20]  # kept as sent: it is still a reply to look at


_FRAGMENTS = InboundFragment.__table__


def store_fragment(connection: Connection, fragment: Fragment, *, now: datetime, region: str = "CN") -> int | None:
    """Store one part of a multipart reply; the part that completes it also stores the whole text as
    a received reply, in the same (caller's) transaction. Returns that reply's id, else None.

    A part the SMSC sends again hits the unique key and changes nothing, even after the reply was
    joined: joined parts are kept for the reassembly time to live (see flush_stale_fragments).
    """
    key = {"msisdn": _msisdn(fragment.source, region), "destination": fragment.destination[:32],
           "ref": fragment.concat.ref, "total": fragment.concat.total}
    insert_new = (postgresql_insert if connection.dialect.name == "postgresql" else sqlite_insert)(_FRAGMENTS)
    stored = connection.execute(insert_new.values(
        **key, seqnum=fragment.concat.seqnum, data_coding=fragment.data_coding, body=fragment.body,
        received_at=now).on_conflict_do_nothing()).rowcount
    if not stored:
        return None
    parts = _parts(connection, key)
    if len(parts) < fragment.concat.total or any(inbound_id is not None for _, inbound_id in parts):
        return None  # parts missing, or a late part of a reply already stored incomplete
    return _join(connection, key, [f for f, _ in parts], now=now)


def flush_stale_fragments(connection: Connection, *, now: datetime, ttl: timedelta) -> int:
    """Store replies whose parts stopped arriving a ttl ago with the parts that did arrive (a
    subscriber's words are kept, marked incomplete), and forget parts joined more than a ttl ago."""
    oldest = func.min(_FRAGMENTS.c.received_at)
    keys = [dict(row._mapping) for row in connection.execute(
        select(_FRAGMENTS.c.msisdn, _FRAGMENTS.c.destination, _FRAGMENTS.c.ref, _FRAGMENTS.c.total)
        .where(_FRAGMENTS.c.inbound_id.is_(None))
        .group_by(_FRAGMENTS.c.msisdn, _FRAGMENTS.c.destination, _FRAGMENTS.c.ref, _FRAGMENTS.c.total)
        .having(oldest < now - ttl))]
    for key in keys:
        _join(connection, key, [f for f, inbound_id in _parts(connection, key) if inbound_id is None], now=now)
    connection.execute(delete(_FRAGMENTS).where(_FRAGMENTS.c.inbound_id.is_not(None),
                                                _FRAGMENTS.c.received_at < now - ttl))
    return len(keys)


def _parts(connection: Connection, key: dict) -> list[tuple[Fragment, int | None]]:
    rows = connection.execute(
        select(_FRAGMENTS.c.seqnum, _FRAGMENTS.c.body, _FRAGMENTS.c.data_coding, _FRAGMENTS.c.inbound_id)
        .where(*(_FRAGMENTS.c[column] == value for column, value in key.items())))
    return [(Fragment(key["msisdn"], key["destination"], Concat(key["ref"], key["total"], seqnum), body, data_coding),
             inbound_id) for seqnum, body, data_coding, inbound_id in rows]


def _join(connection: Connection, key: dict, fragments: list[Fragment], *, now: datetime) -> int:
    missing = key["total"] - len(fragments)
    inbound_id = connection.execute(insert(InboundMessage.__table__).values(
        msisdn=key["msisdn"], destination=key["destination"], text=_storable(assemble(fragments)), received_at=now,
        state=InboundState.RECEIVED.value,
        error=f"incomplete: {missing} of {key['total']} parts never arrived" if missing else None,
    ).returning(InboundMessage.__table__.c.id)).scalar_one()
    connection.execute(update(_FRAGMENTS).where(
        *(_FRAGMENTS.c[column] == value for column, value in key.items()), _FRAGMENTS.c.inbound_id.is_(None))
        .values(inbound_id=inbound_id))
    return inbound_id


def process_received(db: Session, *, now: datetime, ctx: Context, limit: int = 500) -> Counter[str]:
    """Parse stored replies in arrival order and advance their sessions; returns counts by outcome.

    A batch is loaded with a handful of queries (replies, their numbers' recent history, the
    sessions waiting for them, those sessions' answers and tags) and then handled in memory, in order.
    """
    counts: Counter[str] = Counter()
    batch = list(db.scalars(select(InboundMessage).where(InboundMessage.state == InboundState.RECEIVED)
                            .order_by(InboundMessage.id).limit(limit)))
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
    candidates = list(db.scalars(select(SurveySession).where(
        SurveySession.msisdn.in_(numbers), SurveySession.state.in_(OPEN_STATES),
        SurveySession.sent_at.is_not(None)).order_by(SurveySession.sent_at.desc())))
    sessions: dict[str, list[SurveySession]] = {}
    for session in candidates:
        sessions.setdefault(session.msisdn, []).append(session)
    known = Known(db).load(candidates)
    outbox = Outbox()
    for inbound in batch:
        inbound.processed_at = now
        if _is_redelivery(db, inbound, recent):
            inbound.state = InboundState.DUPLICATE
            counts[inbound.state.value] += 1
            continue
        session = next((s for s in sessions.get(inbound.msisdn, ())
                        if s.state.is_open and s.sent_at <= inbound.received_at < s.expires_at), None)
        if session is None or session.question is None:
            counts[_unmatched(db, inbound, now=now, ctx=ctx)] += 1
            continue
        survey = ctx.surveys[session.survey]
        reply = parse_reply(survey.question(session.question), inbound.text)
        inbound.session_id = session.id
        inbound.parsed_kind = reply.kind.value
        inbound.state = InboundState.PROCESSED
        session.last_reply_at = inbound.received_at
        handle(db, session, Replied(reply), now=now, ctx=ctx, inbound_id=inbound.id, known=known, outbox=outbox)
        counts[reply.kind.value] += 1
    outbox.flush(db)
    return counts


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
