"""The recovery check through the normal engine: one SMS per resolution, quiet hours and opt-outs
respected, the reply filed against it when it was the last question out, "2" reopens the case."""
from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from survey.cases.actions import act
from survey.cases.machine import Refused, Resolve
from survey.cases.states import CaseEventKind, CaseState, RecoveryState
from survey.models import Answer, CaseEvent, CaseRecovery, InboundMessage, OutboundMessage
from survey.states import InboundState, MessagePurpose, OutboundState

SH = ZoneInfo("Asia/Shanghai")
RECOVERY_TEXT = "问题已处理，您是否满意？回复1满意 2不满意。回复TD退订"
FIX = Resolve("staff_attitude", "explained", "已致电致歉并说明")


def local(*args) -> datetime:
    return datetime(*args, tzinfo=SH)


@pytest.fixture
def resolve(db, users, loop, cases):
    def resolve_case(now: datetime, case=None):
        act(db, case or cases()[-1], FIX, actor=users["lead"], now=now, loop=loop)
        db.commit()
    return resolve_case


def checks(db) -> list[CaseRecovery]:
    db.expire_all()
    return list(db.scalars(select(CaseRecovery).order_by(CaseRecovery.id)))


def recovery_texts(customer) -> list[str]:
    return [t for t in customer.texts() if t == RECOVERY_TEXT]


def test_a_resolution_texts_the_customer_once_and_a_2_reopens_the_case(customer, db, clock, users, resolve, cases):
    customer.survey("4 排队太久", brand="全球通")
    resolve(clock.now())
    customer.step(minutes=1)
    assert recovery_texts(customer) == [RECOVERY_TEXT]
    with pytest.raises(Refused):  # resolved already: no second resolution, no second SMS
        resolve(clock.now())
    customer.worker.recover()  # a restart: the SMS was acknowledged, it does not go again
    customer.step(minutes=5)
    assert recovery_texts(customer) == [RECOVERY_TEXT]
    customer.reply("2 还是没解决")
    customer.step(minutes=30)
    [case] = cases()
    assert (case.state, case.round) == (CaseState.REOPENED, 2)
    assert case.deadline_at == clock.now() + timedelta(hours=24) and case.root_cause is None  # from the reply
    [check] = checks(db)
    assert (check.state, check.reply_text, check.round) == (RecoveryState.DISSATISFIED, "2 还是没解决", 1)
    assert db.scalar(select(InboundMessage.state)
                     .where(InboundMessage.text == "2 还是没解决")) is InboundState.PROCESSED
    assert db.scalar(select(Answer.id).where(Answer.text == "2 还是没解决")) is None  # not a survey answer
    kinds = [e.kind for e in db.scalars(select(CaseEvent).order_by(CaseEvent.id))]
    assert kinds == [CaseEventKind.OPENED, CaseEventKind.RESOLVED, CaseEventKind.RECOVERY_QUEUED,
                     CaseEventKind.RECOVERY_REPLY, CaseEventKind.REOPENED]
    # Resolved again: a second check for the second round; "1" records the recovery.
    resolve(clock.now())
    customer.step(minutes=1)
    customer.reply("1")
    customer.step(minutes=1)
    assert [(c.round, c.state) for c in checks(db)] == [(1, RecoveryState.DISSATISFIED), (2, RecoveryState.SATISFIED)]
    assert cases()[0].state is CaseState.RESOLVED
    assert len(recovery_texts(customer)) == 2


def test_no_recovery_sms_to_a_customer_who_opted_out(customer, db, clock, resolve, cases):
    customer.survey("3", "TD")  # an opt-out after a bad score opens the case
    [case] = cases()
    assert case.trigger == "optout_after_bad_score"
    sent = len(customer.texts())
    resolve(clock.now())
    customer.step(minutes=1)
    assert len(customer.texts()) == sent
    [check] = checks(db)
    assert (check.state, check.message_id) == (RecoveryState.SKIPPED, None)


def test_an_opt_out_before_the_sms_goes_cancels_it_and_quiet_hours_hold_it_till_morning(customer, db, clock,
                                                                                      resolve, worker):
    clock.set(local(2026, 11, 20, 18, 0))
    customer.survey("5 态度很差")
    resolve(local(2026, 11, 20, 22, 0))
    message = db.scalar(select(OutboundMessage).where(OutboundMessage.purpose == MessagePurpose.RECOVERY))
    assert message.due_at == local(2026, 11, 21, 8, 0)
    customer.step(hours=4)  # 22:01
    assert recovery_texts(customer) == []
    customer.reply("TD")  # no session waits: unmatched, but honoured
    customer.step(hours=9)  # 07:01 → past 08:00
    customer.step(hours=1)
    assert recovery_texts(customer) == []
    db.expire_all()
    assert db.get(OutboundMessage, message.id).state is OutboundState.CANCELLED
    assert [c.state for c in checks(db)] == [RecoveryState.CANCELLED]


def test_a_recovery_sms_due_before_quiet_hours_but_claimed_late_waits_for_the_morning(customer, db, clock, resolve):
    clock.set(local(2026, 11, 20, 20, 0))
    customer.survey("4 排队太久")
    resolve(local(2026, 11, 20, 20, 50))  # due 20:50; the worker is down until 21:10
    clock.set(local(2026, 11, 20, 21, 10))
    customer.step()
    assert recovery_texts(customer) == []
    customer.step(hours=10, minutes=50)  # 08:00
    assert recovery_texts(customer) == [RECOVERY_TEXT]


def test_the_reply_goes_to_whichever_question_went_out_last(customer, db, clock, resolve, cases):
    customer.survey("4 排队太久")
    resolve(clock.now())
    customer.step(minutes=1)  # the recovery SMS goes
    customer.interaction(outlet="HL1")  # a new survey, its question after the recovery SMS
    customer.step(minutes=1)
    customer.reply("1")
    customer.step(minutes=1)
    assert [c.state for c in checks(db)] == [RecoveryState.PENDING]
    assert db.scalar(select(Answer.value).where(Answer.outlet_code == "HL1")) == 1
    # And the other way round: the survey question is out, then a recovery SMS; "2" answers the SMS.
    customer.survey("4 还是老样子排队")  # ...but a session is open only until it completes; open one:
    customer.interaction(outlet="WEB1")
    customer.step(minutes=1)
    resolve(clock.now(), case=cases()[-1])
    customer.step(minutes=1)
    customer.reply("2")
    customer.step(minutes=1)
    assert checks(db)[-1].state is RecoveryState.DISSATISFIED and cases()[-1].state is CaseState.REOPENED
    assert db.scalar(select(Answer.id).where(Answer.outlet_code == "WEB1")) is None


def test_an_unclear_reply_keeps_the_check_waiting_and_silence_closes_it(customer, db, clock, resolve, worker):
    customer.survey("4 排队太久")
    resolve(clock.now())
    customer.step(minutes=1)
    customer.reply("好的")
    customer.step(minutes=1)
    assert [c.state for c in checks(db)] == [RecoveryState.PENDING]
    customer.step(hours=23, minutes=58)
    assert [c.state for c in checks(db)] == [RecoveryState.PENDING]
    customer.step(minutes=2)
    assert [c.state for c in checks(db)] == [RecoveryState.NO_REPLY]
    assert checks(db)[0].sent_at is not None


def test_td_to_the_recovery_sms_opts_out_and_is_confirmed(customer, db, clock, resolve):
    customer.survey("4 排队太久")
    resolve(clock.now())
    customer.step(minutes=1)
    customer.reply("TD")
    customer.step(minutes=1)
    assert [c.state for c in checks(db)] == [RecoveryState.OPTED_OUT]
    assert "退订" in customer.texts()[-1] and customer.texts()[-1] != RECOVERY_TEXT
    from channels.models import Subscriber
    assert db.scalar(select(Subscriber.opted_out_at)) is not None
