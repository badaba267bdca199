"""The session state machine as tables of (state, event) → (state, actions); no database."""
from __future__ import annotations

import pytest

from survey.definitions import load_survey
from survey.machine import (
    Acked, CancelPending, RecordOptOut, Replied, SaveAnswer, SendFailed, SendOptOutConfirmation,
    SendQuestion, SendReask, SendThanks, Snapshot, WindowClosed, advance, next_question,
)
from survey.replies.parser import ParsedReply, ReplyKind
from survey.states import SessionState as S

CSAT = load_survey("csat-default")
NPS = load_survey("nps-default")


def answer(value=None, reasons=(), text="x"):
    return ParsedReply(ReplyKind.ANSWER, value, tuple(reasons), text)


UNCLEAR = ParsedReply(ReplyKind.UNCLEAR, None, (), "你们是谁")
OPTOUT = ParsedReply(ReplyKind.OPTOUT, None, (), "TD")


@pytest.mark.parametrize("state, event, expected_state, expected_actions", [
    (S.SCHEDULED, Acked(), S.SENT, ()),
    (S.SENT, Acked(), S.SENT, ()),  # SMSCs resend; the second ack is a no-op
    (S.SCHEDULED, SendFailed("ESME_RINVDSTADR"), S.FAILED, (CancelPending(),)),
    (S.WAITING, SendFailed("follow-up failed"), S.WAITING, ()),
    (S.SENT, WindowClosed(), S.EXPIRED, (CancelPending(),)),
    (S.WAITING, WindowClosed(), S.EXPIRED, (CancelPending(),)),
    (S.COMPLETED, Replied(OPTOUT), S.COMPLETED, ()),  # nothing happens after the end
    (S.EXPIRED, Acked(), S.EXPIRED, ()),
    (S.SENT, Replied(OPTOUT), S.OPTED_OUT, (CancelPending(), RecordOptOut(), SendOptOutConfirmation())),
    (S.WAITING, Replied(OPTOUT), S.OPTED_OUT, (CancelPending(), RecordOptOut(), SendOptOutConfirmation())),
    (S.SCHEDULED, Replied(OPTOUT), S.OPTED_OUT, (CancelPending(), RecordOptOut(), SendOptOutConfirmation())),
])
def test_transitions(state, event, expected_state, expected_actions):
    step = advance(CSAT, Snapshot(state, "satisfaction"), event)
    assert step.state is expected_state
    assert step.actions == expected_actions


@pytest.mark.parametrize("value", [1, 2])
def test_a_satisfied_answer_completes_with_thanks(value):
    reply = answer(value)
    step = advance(CSAT, Snapshot(S.SENT, "satisfaction"), Replied(reply))
    assert (step.state, step.question) == (S.COMPLETED, None)
    assert step.actions == (SaveAnswer("satisfaction", reply), SendThanks())


@pytest.mark.parametrize("value", [3, 4, 5])
def test_dissatisfaction_without_a_reason_asks_for_the_reason(value):
    reply = answer(value)
    step = advance(CSAT, Snapshot(S.SENT, "satisfaction"), Replied(reply))
    assert (step.state, step.question) == (S.WAITING, "reason")
    assert step.actions == (SaveAnswer("satisfaction", reply), SendQuestion("reason"))


def test_dissatisfaction_with_a_reason_in_the_first_reply_completes():
    reply = answer(4, ["wait_time"], "4 排队太久")
    step = advance(CSAT, Snapshot(S.SENT, "satisfaction"), Replied(reply))
    assert step.state is S.COMPLETED
    assert step.actions == (SaveAnswer("satisfaction", reply), SendThanks())


def test_the_reason_answer_completes_the_survey():
    first = answer(4)
    reason = answer(None, ["attitude"], "2")
    step = advance(CSAT, Snapshot(S.WAITING, "reason", answers={"satisfaction": first}), Replied(reason))
    assert step.state is S.COMPLETED
    assert step.actions == (SaveAnswer("reason", reason), SendThanks())


def test_an_unclear_reply_gets_one_reask_then_the_session_waits():
    first = advance(CSAT, Snapshot(S.SENT, "satisfaction"), Replied(UNCLEAR))
    assert (first.state, first.question, first.reasks) == (S.WAITING, "satisfaction", 1)
    assert first.actions == (SendReask("satisfaction"),)
    second = advance(CSAT, Snapshot(first.state, first.question, first.reasks), Replied(UNCLEAR))
    assert (second.state, second.question, second.actions) == (S.WAITING, "satisfaction", ())
    third = advance(CSAT, Snapshot(second.state, second.question, second.reasks), Replied(answer(1)))
    assert third.state is S.COMPLETED


def test_nps_has_one_question():
    assert next_question(NPS, {}) == NPS.questions[0].key
    step = advance(NPS, Snapshot(S.SENT, NPS.questions[0].key), Replied(answer(9)))
    assert step.state is S.COMPLETED
