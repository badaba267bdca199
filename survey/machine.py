"""The survey session state machine: a pure function from (session, event) to the next step.

    SCHEDULED ──ack──► SENT ──reply──► WAITING ──last answer──► COMPLETED
        │                │                │
        └──fail──► FAILED└───────────────►├──window over──► EXPIRED
                                          └──opt-out (any open state)──► OPTED_OUT

SENT: the first question is out and nothing has come back; WAITING: the subscriber has replied and
a follow-up (the next question, or one re-ask after an unclear reply) awaits an answer. The service
loads the row, calls advance(), stores the result and carries out the actions; this module does no I/O.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping, Union

from survey.definitions import Survey
from survey.replies.parser import ParsedReply, ReplyKind
from survey.states import SessionState

MAX_REASKS = 1  # one polite re-ask, then the session just waits or expires


@dataclass(frozen=True)
class Snapshot:
    """The parts of a session the machine decides on."""

    state: SessionState
    question: str | None
    reasks: int = 0
    answers: Mapping[str, ParsedReply] = field(default_factory=dict)


# Events
@dataclass(frozen=True)
class Acked:
    """The SMSC accepted the first question."""


@dataclass(frozen=True)
class SendFailed:
    """The first question could not be sent (a permanent SMPP error, or the survey's end passed)."""

    reason: str


@dataclass(frozen=True)
class Replied:
    reply: ParsedReply


@dataclass(frozen=True)
class WindowClosed:
    """No answer within the reply window."""


Event = Union[Acked, SendFailed, Replied, WindowClosed]


# Actions
@dataclass(frozen=True)
class SendQuestion:
    question: str


@dataclass(frozen=True)
class SendReask:
    question: str


@dataclass(frozen=True)
class SendThanks:
    pass


@dataclass(frozen=True)
class SendOptOutConfirmation:
    pass


@dataclass(frozen=True)
class SaveAnswer:
    question: str
    reply: ParsedReply


@dataclass(frozen=True)
class RecordOptOut:
    pass


@dataclass(frozen=True)
class CancelPending:
    """Cancel messages of this session not yet submitted (a late re-ask must not go out)."""


Action = Union[SendQuestion, SendReask, SendThanks, SendOptOutConfirmation, SaveAnswer, RecordOptOut, CancelPending]


@dataclass(frozen=True)
class Step:
    state: SessionState
    question: str | None
    reasks: int
    actions: tuple[Action, ...] = ()


def next_question(survey: Survey, answers: Mapping[str, ParsedReply]) -> str | None:
    """The first unanswered question whose condition holds for the answers so far."""
    for question in survey.questions:
        if question.key in answers:
            continue
        condition = question.ask_when
        if condition is None:
            return question.key
        earlier = answers.get(condition.question)
        if earlier is not None and condition.is_met(earlier.value, earlier.reasons):
            return question.key
    return None


def advance(survey: Survey, session: Snapshot, event: Event) -> Step:
    """Next state and the actions to take; performs no I/O."""
    state, question, reasks = session.state, session.question, session.reasks
    unchanged = Step(state, question, reasks)
    if not state.is_open:
        return unchanged  # late receipts and replies after the end change nothing

    if isinstance(event, Acked):
        # SMSCs resend acks on reconnect and follow-ups are acked too: only the first one moves.
        return Step(SessionState.SENT, question, reasks) if state is SessionState.SCHEDULED else unchanged

    if isinstance(event, SendFailed):
        if state is SessionState.SCHEDULED:
            return Step(SessionState.FAILED, None, reasks, (CancelPending(),))
        return unchanged  # a failed follow-up leaves the session to expire

    if isinstance(event, WindowClosed):
        return Step(SessionState.EXPIRED, None, reasks, (CancelPending(),))

    reply = event.reply
    if reply.kind is ReplyKind.OPTOUT:
        return Step(SessionState.OPTED_OUT, None, reasks,
                    (CancelPending(), RecordOptOut(), SendOptOutConfirmation()))
    if question is None:
        return unchanged
    if reply.kind is ReplyKind.UNCLEAR:
        if reasks >= MAX_REASKS:
            return Step(SessionState.WAITING, question, reasks)
        return Step(SessionState.WAITING, question, reasks + 1, (SendReask(question),))

    answers = {**session.answers, question: reply}
    following = next_question(survey, answers)
    if following is None:
        return Step(SessionState.COMPLETED, None, 0, (SaveAnswer(question, reply), SendThanks()))
    return Step(SessionState.WAITING, following, 0, (SaveAnswer(question, reply), SendQuestion(following)))
