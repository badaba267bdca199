"""The record job's first half: each segment's ack (or failure) from the SMSC, in arrival order.

A message is ACKED when all its segments are, or FAILED (a permanent error, or too many attempts);
a temporary error puts it back to PENDING with a backoff that respects quiet hours.
"""
from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Iterable

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from channels.sql.bulk import insert_rows, update_rows
from smpp.messages import SubmitResult
from smpp.receipts import message_id_candidates
from survey.jobs.receipts import settle_deliveries
from survey.jobs.steps import Context, handle
from survey.machine import Acked, SendFailed
from survey.models import OutboundMessage, OutboundSegment, SurveySession
from survey.quiet_hours import next_allowed
from survey.states import MessagePurpose, OutboundState

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 5
SEGMENT_COLUMNS = ("message_id", "seq", "smsc_id", "smsc_id_alt", "receipt_status", "receipt_error", "receipt_at")


ANY_CLAIM = object()


def record_submit_results(db: Session, results: Iterable[SubmitResult], *, now: datetime, ctx: Context,
                          claimed_by: object = ANY_CLAIM) -> None:
    """Store each segment's SMSC id; a message is ACKED when all its segments are, or FAILED.

    A journal replayed is recorded with claimed_by, its worker's id (None: a journal from before
    claims): only messages still SUBMITTING under that worker's claim take its acks. One taken over
    and sent again by another worker since is that worker's to record.

    Acks come by the thousand: rows and bulk statements here; a failure (rare) goes the ORM way.
    """
    results = list(results)
    if not results:
        return
    ids = {int(r.key) for r in results}
    messages = {row.id: row for row in db.execute(
        select(OutboundMessage.id, OutboundMessage.state, OutboundMessage.session_id, OutboundMessage.purpose,
               OutboundMessage.claimed_by)
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
        if claimed_by is not ANY_CLAIM and message.claimed_by != claimed_by:
            continue
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
    settle_deliveries(db, set(settled), now=now)
    _count_and_advance(db, spent, first_questions, now=now, ctx=ctx)


def _count_and_advance(db: Session, spent: dict[int, int], acked_questions: set[int], *, now: datetime,
                       ctx: Context) -> None:
    """Add the segments each session cost, and tell sessions their first question was acked."""
    if not spent:
        return
    # Locked in id order (as the replies job locks them), so another worker's job cannot change
    # these sessions between this read and its write, nor deadlock with this one.
    update_rows(db, SurveySession.__table__, [
        {"id": row.id, "segments_sent": row.segments_sent + spent[row.id]}
        for row in db.execute(select(SurveySession.id, SurveySession.segments_sent)
                              .where(SurveySession.id.in_(spent)).order_by(SurveySession.id).with_for_update())])
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


def set_ack_aside(db: Session, result: SubmitResult, reason: str) -> None:
    """An ack that cannot be recorded: the reason goes on its message, which stays as it was."""
    db.execute(update(OutboundMessage).where(OutboundMessage.id == int(result.key))
               .values(error=f"ack of part {result.segment_index} not recorded: {reason}"[:256]))
