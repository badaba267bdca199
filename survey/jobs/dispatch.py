"""The dispatch job: due outbound rows → SUBMITTING (committed) → the SMPP client.

A row is PENDING until the dispatcher hands it to the SMPP client (SUBMITTING, committed first, with
the claiming worker's id and lease), and ACKED once the SMSC has acknowledged every segment
(survey.jobs.acks): an ACKED message is never submitted again. Due rows are claimed with FOR UPDATE
SKIP LOCKED, so two workers never claim one message. A message still SUBMITTING when its worker
stops had its ack lost or never sent; that worker's next start, or any worker once the claim's lease
has run out, puts it back to PENDING and it goes out again (survey.jobs.claims; at-least-once: the
subscriber may get it twice if only the ack was lost, which SMPP cannot tell apart from a lost submit).
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from channels.models import Subscriber
from channels.sql.bulk import update_rows
from smpp.messages import OutgoingMessage
from survey.jobs.steps import Context, handle
from survey.machine import SendFailed
from survey.models import InboundMessage, OutboundMessage, SurveySession
from survey.quiet_hours import next_allowed
from survey.states import ASKING, MessagePurpose, OutboundState


def claim_due(db: Session, *, now: datetime, ctx: Context, limit: int = 500, worker_id: str = "worker",
              lease_until: datetime | None = None) -> list[OutgoingMessage]:
    """Mark due messages SUBMITTING, claimed by worker_id until lease_until (renewed while it lives),
    and return them for the SMPP client (commit before submitting)."""
    rows = db.execute(
        select(OutboundMessage.id, OutboundMessage.msisdn, OutboundMessage.text, OutboundMessage.purpose,
               OutboundMessage.question, OutboundMessage.attempts, OutboundMessage.submitted_at,
               OutboundMessage.session_id, SurveySession.state, SurveySession.question.label("asking"),
               SurveySession.sent_at, SurveySession.expires_at)
        .outerjoin(SurveySession, OutboundMessage.session_id == SurveySession.id)
        .where(OutboundMessage.state == OutboundState.PENDING, OutboundMessage.due_at <= now)
        .order_by(OutboundMessage.due_at, OutboundMessage.id).limit(limit)
        .with_for_update(skip_locked=True, of=OutboundMessage)).all()
    claimed, message_updates, first_sends = [], [], {}
    answered = _replied_since(db, [row for row in rows if row.purpose in ASKING and row.attempts])
    barred = _barred(db, {row.msisdn for row in rows if _first_contact(row)})
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
        if _first_contact(row) and row.msisdn in barred:
            # Listed or opted out after the survey (or a case's check) was scheduled: decided
            # again now, not texted.
            message_updates.append({"id": row.id, "state": OutboundState.CANCELLED})
            if row.session_id is not None:
                handle(db, db.get(SurveySession, row.session_id),
                       SendFailed(f"{barred[row.msisdn]} before the first question went out"), now=now, ctx=ctx)
            continue
        if _first_contact(row) and quiet_until > now:
            # Due before quiet hours began but not sent by then (a backlog, a worker that was down):
            # the first text of a survey, or a case's recovery check, waits for the morning. Replies
            # to what a subscriber just wrote (next question, thanks, confirmation) still go.
            message_updates.append({"id": row.id, "state": OutboundState.PENDING, "due_at": quiet_until})
            continue
        message_updates.append({"id": row.id, "state": OutboundState.SUBMITTING, "attempts": row.attempts + 1,
                                "submitted_at": now, "claimed_by": worker_id, "lease_until": lease_until})
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


def _first_contact(row) -> bool:
    """A survey's first question or a case's recovery check: a contact the subscriber did not start."""
    return (row.session_id is not None and row.sent_at is None) or row.purpose is MessagePurpose.RECOVERY


def _barred(db: Session, numbers: set[str]) -> dict[str, str]:
    """Of numbers, those that opted out or are on the do-not-survey list now, with which."""
    if not numbers:
        return {}
    rows = db.execute(select(Subscriber.msisdn, Subscriber.opted_out_at, Subscriber.do_not_survey)
                      .where(Subscriber.msisdn.in_(numbers),
                             or_(Subscriber.opted_out_at.is_not(None), Subscriber.do_not_survey.is_(True))))
    return {msisdn: "opted out" if opted_out_at is not None else "put on the do-not-survey list"
            for msisdn, opted_out_at, _ in rows}


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
