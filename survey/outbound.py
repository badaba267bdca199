"""Outbound SMS rows through their lifecycle: claim due ones, record acks, failures and receipts.

A row is PENDING until the dispatcher hands it to the SMPP client (SUBMITTING, committed first), and
ACKED once the SMSC has acknowledged every segment: an ACKED message is never submitted again. A
message still SUBMITTING when the worker stops had its ack lost or never sent; the next start puts it
back to PENDING and it goes out again (at-least-once: the subscriber may get it twice if only the
ack was lost, which SMPP cannot tell apart from a lost submit).
"""
from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Iterable

from sqlalchemy import Connection, bindparam, func, insert, or_, select, update
from sqlalchemy.orm import Session

from channels.bulk import insert_rows, update_rows
from smpp.messages import OutgoingMessage, SubmitResult
from smpp.receipts import DeliveryReceipt, ReceiptStatus, message_id_candidates
from survey.machine import Acked, SendFailed
from survey.models import InboundMessage, InboundReceipt, OutboundMessage, OutboundSegment, SurveySession
from survey.quiet_hours import next_allowed
from survey.sessions import Context, handle
from survey.states import ASKING, MessagePurpose, OutboundState, ReceiptState

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 5
SEGMENT_COLUMNS = ("message_id", "seq", "smsc_id", "smsc_id_alt", "receipt_status", "receipt_error", "receipt_at")
FAILED_RECEIPTS = {ReceiptStatus.UNDELIVERABLE, ReceiptStatus.EXPIRED, ReceiptStatus.REJECTED,
                   ReceiptStatus.DELETED, ReceiptStatus.UNKNOWN}


def claim_due(db: Session, *, now: datetime, ctx: Context, limit: int = 500) -> list[OutgoingMessage]:
    """Mark due messages SUBMITTING and return them for the SMPP client (commit before submitting)."""
    rows = db.execute(
        select(OutboundMessage.id, OutboundMessage.msisdn, OutboundMessage.text, OutboundMessage.purpose,
               OutboundMessage.question, OutboundMessage.attempts, OutboundMessage.submitted_at,
               OutboundMessage.session_id, SurveySession.state, SurveySession.question.label("asking"),
               SurveySession.sent_at, SurveySession.expires_at)
        .outerjoin(SurveySession, OutboundMessage.session_id == SurveySession.id)
        .where(OutboundMessage.state == OutboundState.PENDING, OutboundMessage.due_at <= now)
        .order_by(OutboundMessage.due_at, OutboundMessage.id).limit(limit)).all()
    claimed, message_updates, first_sends = [], [], {}
    answered = _replied_since(db, [row for row in rows if row.purpose in ASKING and row.attempts])
    quiet_until = next_allowed(now, tz=ctx.config.tz, start=ctx.config.quiet_start, end=ctx.config.quiet_end)
    for row in rows:
        if row.session_id is not None and row.purpose in ASKING and (
                not row.state.is_open or row.question != row.asking or row.id in answered):
            # The session has moved past this question, or its reply is stored: sent again, it would
            # be answered again and that answer taken for the next question's.
            message_updates.append({"id": row.id, "state": OutboundState.CANCELLED})
            continue
        if row.session_id is not None and row.sent_at is None and now >= row.expires_at:
            # A survey past its end stops trying (a peer retried one contact 96 times).
            message_updates.append({"id": row.id, "state": OutboundState.CANCELLED})
            handle(db, db.get(SurveySession, row.session_id),
                   SendFailed("survey end passed before the first question went out"), now=now, ctx=ctx)
            continue
        if row.session_id is not None and row.sent_at is None and quiet_until > now:
            # Due before quiet hours began but not sent by then (a backlog, a worker that was down):
            # the first text of a survey waits for the morning. Replies to what a subscriber just
            # wrote (next question, thanks, confirmation) still go.
            message_updates.append({"id": row.id, "state": OutboundState.PENDING, "due_at": quiet_until})
            continue
        message_updates.append({"id": row.id, "state": OutboundState.SUBMITTING, "attempts": row.attempts + 1,
                                "submitted_at": now})
        if row.session_id is not None and row.sent_at is None:
            first_sends[row.session_id] = {"id": row.session_id, "sent_at": now,
                                           "expires_at": now + ctx.config.reply_window}
        # E.164 without its "+": the client sends destinations as international numbers (TON 1).
        claimed.append(OutgoingMessage(key=str(row.id), destination=row.msisdn.lstrip("+"), text=row.text,
                                       ref=row.id & 0xFF))
    # Hundreds of rows a run: bulk UPDATEs by primary key, not a unit of work per object.
    update_rows(db, OutboundMessage.__table__, message_updates)
    update_rows(db, SurveySession.__table__, list(first_sends.values()))
    return claimed


def _replied_since(db: Session, resends: list) -> set[int]:
    """Of messages sent before (a crash left them SUBMITTING, or a retry), those after whose last
    sending a reply from the number is stored, processed or not."""
    if not resends:
        return set()
    latest = dict(db.execute(select(InboundMessage.msisdn, func.max(InboundMessage.received_at))
                             .where(InboundMessage.msisdn.in_({row.msisdn for row in resends}))
                             .group_by(InboundMessage.msisdn)).all())
    return {row.id for row in resends
            if row.submitted_at is not None and latest.get(row.msisdn) is not None
            and latest[row.msisdn] >= row.submitted_at}


def record_submit_results(db: Session, results: Iterable[SubmitResult], *, now: datetime, ctx: Context) -> None:
    """Store each segment's SMSC id; a message is ACKED when all its segments are, or FAILED.

    Acks come by the thousand: rows and bulk statements here; a failure (rare) goes the ORM way.
    """
    results = list(results)
    if not results:
        return
    ids = {int(r.key) for r in results}
    messages = {row.id: row for row in db.execute(
        select(OutboundMessage.id, OutboundMessage.state, OutboundMessage.session_id, OutboundMessage.purpose)
        .where(OutboundMessage.id.in_(ids)))}
    acked: dict[int, set[int]] = {}
    for message_id, seq in db.execute(select(OutboundSegment.message_id, OutboundSegment.seq)
                                      .where(OutboundSegment.message_id.in_(ids))):
        acked.setdefault(message_id, set()).add(seq)
    segments: list[dict] = []
    settled: dict[int, dict] = {}  # message id -> its ACKED update
    spent: dict[int, int] = {}  # session id -> segments acked now
    first_questions: set[int] = set()  # sessions whose first question is now acked
    for result in results:
        message = messages.get(int(result.key))
        if message is None or message.state is not OutboundState.SUBMITTING or message.id in settled:
            continue  # a late duplicate ack: the message was settled already
        if not result.ok:
            _on_failure(db, db.get(OutboundMessage, message.id), result, now=now, ctx=ctx)
            continue
        seqs = acked.setdefault(message.id, set())
        if result.segment_index not in seqs:
            seqs.add(result.segment_index)
            candidates = message_id_candidates(result.message_id)
            segments.append({"message_id": message.id, "seq": result.segment_index, "smsc_id": candidates[0],
                             "smsc_id_alt": candidates[1] if len(candidates) > 1 else None,
                             "receipt_status": None, "receipt_error": None, "receipt_at": None})
        if len(seqs) >= result.total_segments:
            settled[message.id] = {"id": message.id, "state": OutboundState.ACKED, "acked_at": now,
                                   "segments": result.total_segments}
            if message.session_id is not None:
                spent[message.session_id] = spent.get(message.session_id, 0) + result.total_segments
                if message.purpose is MessagePurpose.QUESTION:
                    first_questions.add(message.session_id)
    insert_rows(db, "outbound_segments", SEGMENT_COLUMNS, segments, conflict=("message_id", "seq"))
    update_rows(db, OutboundMessage.__table__, list(settled.values()))
    # Receipts of earlier segments may have come before the last ack (a normal SMSC order).
    _settle_deliveries(db, set(settled), now=now)
    _count_and_advance(db, spent, first_questions, now=now, ctx=ctx)


def _count_and_advance(db: Session, spent: dict[int, int], acked_questions: set[int], *, now: datetime,
                       ctx: Context) -> None:
    """Add the segments each session cost, and tell sessions their first question was acked."""
    if not spent:
        return
    update_rows(db, SurveySession.__table__, [
        {"id": row.id, "segments_sent": row.segments_sent + spent[row.id]}
        for row in db.execute(select(SurveySession.id, SurveySession.segments_sent)
                              .where(SurveySession.id.in_(spent)))])
    for session in db.scalars(select(SurveySession).where(SurveySession.id.in_(acked_questions))):
        handle(db, session, Acked(), now=now, ctx=ctx)


def _on_failure(db: Session, message: OutboundMessage, result: SubmitResult, *, now: datetime, ctx: Context) -> None:
    message.segments = result.total_segments
    session = db.get(SurveySession, message.session_id) if message.session_id else None
    past_end = session is not None and session.expires_at is not None and now >= session.expires_at
    if result.permanent or message.attempts >= MAX_ATTEMPTS or past_end:
        message.state = OutboundState.FAILED
        message.smpp_status = result.status
        message.error = f"SMPP status 0x{result.status & 0xFFFFFFFF:08X}" if result.status >= 0 else "no response"
        if session is not None and message.purpose is MessagePurpose.QUESTION:
            handle(db, session, SendFailed(message.error), now=now, ctx=ctx)
        return
    # Temporary: try again later, backing off, and never inside quiet hours.
    retry_at = now + timedelta(minutes=2 ** message.attempts)
    message.state = OutboundState.PENDING
    message.smpp_status = result.status
    message.due_at = next_allowed(retry_at, tz=ctx.config.tz, start=ctx.config.quiet_start,
                                  end=ctx.config.quiet_end)


def store_receipts(connection: Connection, receipts: list[DeliveryReceipt], *, now: datetime) -> None:
    """Keep receipts as received; the caller commits before the SMSC is answered."""
    if receipts:
        connection.execute(insert(InboundReceipt.__table__), [
            {"smsc_id": r.message_id[:64], "status": r.status.value, "error": r.error[:16] if r.error else None,
             "done_at": r.done_date, "received_at": now, "state": ReceiptState.RECEIVED.value}
            for r in receipts])


def apply_stored_receipts(db: Session, *, now: datetime, patience: timedelta, only: int | None = None) -> int:
    """Match stored receipts to their segments; returns how many still wait for a match.

    One that matches nothing may have overtaken its ack and is tried again at the next run, until
    patience has passed (its ack never came: the message was resent under another id).
    """
    table = InboundReceipt.__table__
    query = (select(table.c.id, table.c.smsc_id, table.c.status, table.c.error, table.c.done_at, table.c.received_at)
             .where(table.c.state == ReceiptState.RECEIVED.value).order_by(table.c.id))
    rows = db.execute(query if only is None else query.where(table.c.id == only)).all()
    receipts = [DeliveryReceipt(row.smsc_id, ReceiptStatus(row.status), row.error, done_date=row.done_at)
                for row in rows]
    unmatched = set(record_receipts(db, receipts, now=now))
    changes, waiting = [], 0
    for position, row in enumerate(rows):
        if position not in unmatched:
            changes.append({"receipt_id": row.id, "state": ReceiptState.MATCHED.value})
        elif now - row.received_at >= patience:
            log.warning("receipt for unknown SMSC id %s given up", row.smsc_id)
            changes.append({"receipt_id": row.id, "state": ReceiptState.UNMATCHED.value})
        else:
            waiting += 1
    if changes:
        db.connection().execute(update(table).where(table.c.id == bindparam("receipt_id"))
                                .values(state=bindparam("state")), changes)
    return waiting


def stored_receipt_ids(db: Session) -> list[int]:
    """Receipts stored and not matched yet, oldest first."""
    table = InboundReceipt.__table__
    return list(db.scalars(select(table.c.id).where(table.c.state == ReceiptState.RECEIVED.value)
                           .order_by(table.c.id)))


def set_receipt_aside(db: Session, receipt_id: int) -> None:
    """A receipt that cannot be matched without an error is given up, like one whose ack never came."""
    table = InboundReceipt.__table__
    db.execute(update(table).where(table.c.id == receipt_id).values(state=ReceiptState.UNMATCHED.value))


def set_ack_aside(db: Session, result: SubmitResult, reason: str) -> None:
    """An ack that cannot be recorded: the reason goes on its message, which stays as it was."""
    db.execute(update(OutboundMessage).where(OutboundMessage.id == int(result.key))
               .values(error=f"ack of part {result.segment_index} not recorded: {reason}"[:256]))


def record_receipts(db: Session, receipts: list[DeliveryReceipt], *, now: datetime) -> list[int]:
    """Match receipts to segments whatever the id's form; returns the positions of those that
    matched no segment.

    A receipt can overtake its submit_sm_resp, so the caller offers the unmatched ones again later.
    Receipts come by the thousand, so this works on rows and executemany, not ORM objects.
    """
    if not receipts:
        return []
    segments = OutboundSegment.__table__
    forms = {r: message_id_candidates(r.message_id) for r in receipts}
    wanted = {form for candidates in forms.values() for form in candidates}
    by_form: dict[str, list] = {}
    for row in db.execute(select(segments.c.id, segments.c.message_id, segments.c.smsc_id, segments.c.smsc_id_alt,
                                 segments.c.receipt_status)
                          .where(or_(segments.c.smsc_id.in_(wanted), segments.c.smsc_id_alt.in_(wanted)))
                          .order_by(segments.c.id)):
        entry = [row.id, row.message_id, row.receipt_status]
        by_form[row.smsc_id] = entry  # the newest wins if an SMSC ever reuses an id
        if row.smsc_id_alt:
            by_form.setdefault(row.smsc_id_alt, entry)
    unmatched, updates, settled = [], [], set()
    for position, receipt in enumerate(receipts):
        entry = next((by_form[f] for f in forms[receipt] if f in by_form), None)
        if entry is None:
            unmatched.append(position)
            continue
        segment_id, message_id, status = entry
        if status is not None and ReceiptStatus(status).is_final:
            continue  # SMSCs resend receipts; the second is a no-op
        entry[2] = receipt.status.value
        updates.append({"segment_id": segment_id, "status": receipt.status.value, "error": receipt.error,
                        "at": receipt.done_date or now})
        if receipt.status.is_final:
            settled.add(message_id)
    if updates:
        db.connection().execute(
            update(segments).where(segments.c.id == bindparam("segment_id"))
            .values(receipt_status=bindparam("status"), receipt_error=bindparam("error"),
                    receipt_at=bindparam("at")), updates)
    _settle_deliveries(db, settled, now=now)
    return unmatched


def _settle_deliveries(db: Session, message_ids: set[int], *, now: datetime) -> None:
    """An acked message is delivered when every segment's receipt says so, undelivered when any
    final one failed. Until every segment is acked the message stays SUBMITTING, whatever the
    receipts say: its later segments' acks must still be recorded."""
    if not message_ids:
        return
    segments, messages = OutboundSegment.__table__, OutboundMessage.__table__
    statuses: dict[int, list[ReceiptStatus | None]] = {}
    for message_id, status in db.execute(select(segments.c.message_id, segments.c.receipt_status)
                                         .where(segments.c.message_id.in_(message_ids))):
        statuses.setdefault(message_id, []).append(ReceiptStatus(status) if status else None)
    changes = []
    for message_id, expected in db.execute(select(messages.c.id, messages.c.segments)
                                           .where(messages.c.id.in_(message_ids),
                                                  messages.c.state == OutboundState.ACKED.value)):
        known = statuses.get(message_id, [])
        if any(s in FAILED_RECEIPTS for s in known):
            changes.append({"message_id": message_id, "state": OutboundState.UNDELIVERED.value, "at": None})
        elif len(known) == expected and all(s is ReceiptStatus.DELIVERED for s in known):
            changes.append({"message_id": message_id, "state": OutboundState.DELIVERED.value, "at": now})
    if changes:
        db.connection().execute(
            update(messages).where(messages.c.id == bindparam("message_id"))
            .values(state=bindparam("state"), delivered_at=bindparam("at")), changes)


def requeue_unacknowledged(db: Session) -> int:
    """At start-up: messages left SUBMITTING lost their ack (or were never sent): send them again."""
    result = db.execute(update(OutboundMessage).where(OutboundMessage.state == OutboundState.SUBMITTING)
                        .values(state=OutboundState.PENDING))
    return result.rowcount
