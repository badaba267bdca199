"""Carry out the state machine's steps on a stored session: answers, messages, opt-outs."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Mapping

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from channels.models import Subscriber
from survey import texts
from survey.cases.opening import CaseOpener, CaseSeed
from survey.definitions import Survey
from survey.jobs.decide import interaction_tags
from survey.machine import (
    CancelPending, Event, RecordOptOut, Replied, SaveAnswer, SendOptOutConfirmation, SendQuestion, SendReask,
    SendThanks, Snapshot, advance,
)
from survey.models import Answer, OutboundMessage, SurveySession
from survey.replies.parser import ParsedReply, ReplyKind
from survey.policy import PolicyConfig
from survey.states import MessagePurpose, OutboundState


@dataclass(frozen=True)
class Context:
    """What carrying out a step needs besides the database."""

    surveys: Mapping[str, Survey]
    config: PolicyConfig
    cases: CaseOpener | None = None  # closed-loop cases opened from answers (None: off)


class Known:
    """Answers and interaction tags of sessions, loaded in bulk for a batch or one by one on a miss."""

    def __init__(self, db: Session) -> None:
        self._db = db
        self._answers: dict[int, dict[str, ParsedReply]] = {}
        self._tags: dict[int, dict] = {}

    def load(self, sessions: list[SurveySession]) -> "Known":
        """Fetch what a batch of sessions needs in two queries."""
        ids = [s.id for s in sessions if s.id not in self._answers]
        for session_id in ids:
            self._answers[session_id] = {}
        for answer in self._db.scalars(select(Answer).where(Answer.session_id.in_(ids))):
            self._answers[answer.session_id][answer.question] = _reply_of(answer)
        self._tags.update(interaction_tags(self._db, {s.interaction_id for s in sessions} - set(self._tags)))
        return self

    def answers(self, session: SurveySession) -> dict[str, ParsedReply]:
        if session.id not in self._answers:
            self.load([session])
        return self._answers[session.id]

    def tags(self, session: SurveySession) -> dict:
        if session.interaction_id not in self._tags:
            self._tags.update(interaction_tags(self._db, {session.interaction_id}))
        return self._tags[session.interaction_id]


def _reply_of(answer: Answer) -> ParsedReply:
    return ParsedReply(ReplyKind.ANSWER, answer.value, tuple(answer.reasons), answer.text)


class Outbox:
    """What a batch changes besides its sessions: answers and messages to insert, pending messages
    to cancel; written by one bulk statement each."""

    def __init__(self) -> None:
        self.answers: list[dict] = []
        self.messages: list[dict] = []
        self.cancelled: set[int] = set()  # sessions whose stored pending messages are cancelled
        self.cases: list[CaseSeed] = []  # opened once their answers are stored, in the same transaction
        self.opener: CaseOpener | None = None

    def open_case(self, opener: CaseOpener, seed: CaseSeed | None) -> None:
        if seed is not None:
            self.opener = opener
            self.cases.append(seed)

    def cancel(self, session_id: int) -> None:
        """Cancel the session's pending messages: stored ones at flush, this batch's ones now."""
        self.cancelled.add(session_id)
        for message in self.messages:
            if message["session_id"] == session_id and message["state"] is OutboundState.PENDING:
                message["state"] = OutboundState.CANCELLED

    def flush(self, db: Session) -> None:
        connection = db.connection()
        # Cancel before inserting: a message created after the cancel (a confirmation) must stay.
        if self.cancelled:
            messages = OutboundMessage.__table__
            connection.execute(update(messages).where(messages.c.session_id.in_(self.cancelled),
                                                      messages.c.state == OutboundState.PENDING.value)
                               .values(state=OutboundState.CANCELLED.value))
        if self.answers:
            connection.execute(insert(Answer.__table__), self.answers)
        if self.cases:
            self.opener.open(db, self.cases)
        if self.messages:
            connection.execute(insert(OutboundMessage.__table__), self.messages)
        self.answers, self.messages, self.cancelled, self.cases = [], [], set(), []


def handle(db: Session, session: SurveySession, event: Event, *, now: datetime, ctx: Context,
           inbound_id: int | None = None, known: Known | None = None, outbox: Outbox | None = None) -> None:
    """Advance a session by one event and carry out the resulting actions in this transaction.

    With an outbox, new answers and messages wait in it for the caller's flush (a batch); without,
    they are inserted before this returns.
    """
    own_outbox = outbox is None
    outbox = outbox or Outbox()
    known = known or Known(db)
    survey = ctx.surveys[session.survey]
    answers = known.answers(session) if isinstance(event, Replied) else {}
    step = advance(survey, Snapshot(session.state, session.question, session.reasks, answers), event)
    session.state, session.question, session.reasks = step.state, step.question, step.reasks
    if not step.state.is_open and session.ended_at is None:
        session.ended_at = now
    for action in step.actions:
        if isinstance(action, SaveAnswer):
            answer = _answer(session, action, known.tags(session), now=now, inbound_id=inbound_id)
            outbox.answers.append(answer)
            known.answers(session)[action.question] = action.reply
            if ctx.cases is not None:
                outbox.open_case(ctx.cases, ctx.cases.for_answer(answer))
        elif isinstance(action, CancelPending):
            outbox.cancel(session.id)
        elif isinstance(action, RecordOptOut):
            record_opt_out(db, session.msisdn, now=now, source=f"reply to session {session.id}")
            if ctx.cases is not None:
                outbox.open_case(ctx.cases, ctx.cases.for_optout(
                    session_id=session.id, msisdn=session.msisdn, survey=session.survey,
                    answers=known.answers(session), tags=known.tags(session), now=now))
        else:
            outbox.messages.append(_message(session, survey, action, known.tags(session), now=now,
                                            window=ctx.config))
    if own_outbox:
        outbox.flush(db)


def record_opt_out(db: Session, msisdn: str, *, now: datetime, source: str) -> None:
    """Mark the number opted out (first time wins); it is never surveyed again."""
    subscriber = db.scalar(select(Subscriber).where(Subscriber.msisdn == msisdn))
    if subscriber is None:
        subscriber = Subscriber(msisdn=msisdn, attributes={}, created_at=now, do_not_survey=False)
        db.add(subscriber)
    if subscriber.opted_out_at is None:
        subscriber.opted_out_at = now
        subscriber.opt_out_source = source[:64]
    # A recovery check not sent yet (survey.cases) must not go to a number that has just opted out.
    messages = OutboundMessage.__table__
    db.execute(update(messages).where(messages.c.msisdn == msisdn, messages.c.state == OutboundState.PENDING.value,
                                      messages.c.purpose == MessagePurpose.RECOVERY.value)
               .values(state=OutboundState.CANCELLED.value))


def _answer(session: SurveySession, action: SaveAnswer, tags: dict, *, now: datetime,
            inbound_id: int | None) -> dict:
    sent = session.sent_at or now
    return dict(
        session_id=session.id, inbound_id=inbound_id, survey=session.survey, question=action.question,
        value=action.reply.value, reasons=list(action.reply.reasons), text=action.reply.text,
        answered_at=now, response_seconds=max(0, int((now - sent).total_seconds())),
        msisdn=session.msisdn, channel=tags["channel"], outlet_code=tags["outlet_code"],
        region=tags["region"], city=tags["city"], business_type=tags["business_type"],
        attributes=tags["attributes"])


def _message(session: SurveySession, survey: Survey, action, tags: dict, *, now: datetime,
             window: PolicyConfig) -> dict:
    """A follow-up, due now: it answers the subscriber's own message, so quiet hours don't defer it."""
    values = {"outlet": tags["outlet_name"], "business": tags["business_type"] or ""}
    question = None
    if isinstance(action, SendQuestion):
        purpose, question = MessagePurpose.QUESTION, action.question
        text = texts.question_text(survey, question, values)
    elif isinstance(action, SendReask):
        purpose, question = MessagePurpose.REASK, action.question
        text = texts.reask_text(survey, question, values)
    elif isinstance(action, SendThanks):
        purpose, text = MessagePurpose.THANKS, texts.survey_text(survey, "thanks", values)
    elif isinstance(action, SendOptOutConfirmation):
        purpose, text = MessagePurpose.OPTOUT_CONFIRM, texts.survey_text(survey, "optout_confirm", values)
    else:
        raise TypeError(f"unknown action {action!r}")
    if question is not None:
        session.expires_at = now + window.reply_window
    return dict(session_id=session.id, msisdn=session.msisdn, purpose=purpose, question=question, text=text,
                state=OutboundState.PENDING, due_at=now, attempts=0, segments=0, ref=0, created_at=now)
