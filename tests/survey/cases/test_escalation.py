"""The escalate job with the injected clock: warnings before the deadline, escalation at it and a step
after it, hand-overs that did not move, working hours, and no warning twice across a restart."""
from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from survey.accounts.models import Role
from survey.accounts.services import create_user
from survey.cases.actions import act
from survey.cases.config import CaseLoop, CasePolicy
from survey.cases.deadlines import deadlines_from_data
from survey.cases.machine import HandOver, RecordContact
from survey.cases.routing import set_route
from survey.cases.states import AlertKind, CaseEventKind, RouteDuty, RouteMatch
from survey.models import CaseEscalation, CaseEvent, CaseNotification

SH = ZoneInfo("Asia/Shanghai")


def local(*args) -> datetime:
    return datetime(*args, tzinfo=SH)


def notices(db, user=None) -> list[tuple[int, str]]:
    query = select(CaseNotification.user_id, CaseNotification.kind).order_by(CaseNotification.id)
    if user is not None:
        query = query.where(CaseNotification.user_id == user.id)
    return [tuple(row) for row in db.execute(query)]


def dissatisfied_at(customer, clock, when: datetime, **attributes) -> None:
    """The first question goes at `when`; "4 排队太久" comes back and is stored at `when` too."""
    clock.set(when)
    customer.interaction(**attributes)
    customer.step()
    customer.reply("4 排队太久")
    customer.step()


@pytest.fixture
def staff(db, clock, users):
    """A city manager for 上海 and a region manager for 华东, as routing rows."""
    city = create_user(db, "sh-manager", "password123", Role.MANAGER, now=clock.now())
    region = create_user(db, "east-manager", "password123", Role.MANAGER, now=clock.now())
    set_route(db, RouteDuty.CITY, RouteMatch.CITY, "上海", city)
    set_route(db, RouteDuty.REGION, RouteMatch.REGION, "华东", region)
    db.commit()
    return {**users, "city": city, "region": region}


def test_a_vip_answer_at_2000_is_due_at_0400_and_escalated_then(customer, worker, db, clock, staff, cases):
    dissatisfied_at(customer, clock, local(2026, 11, 20, 20, 0), tier="钻石")
    [case] = cases()
    assert (case.segment, case.opened_at, case.deadline_at) == ("vip", local(2026, 11, 20, 20), local(2026, 11, 21, 4))
    lead, city, region = staff["lead"], staff["city"], staff["region"]
    worker.escalate(local(2026, 11, 21, 1, 59))
    assert notices(db) == []
    worker.escalate(local(2026, 11, 21, 2, 0))
    assert notices(db) == [(lead.id, "warn")]
    worker.escalate(local(2026, 11, 21, 3, 59))
    assert len(notices(db)) == 1
    worker.escalate(local(2026, 11, 21, 4, 0))
    assert notices(db)[1:] == [(lead.id, "overdue"), (city.id, "overdue")]
    assert cases()[0].escalation_level == 1
    worker.escalate(local(2026, 11, 21, 6, 59))
    worker.escalate(local(2026, 11, 21, 7, 0))  # a VIP step (3 h) later: the region
    assert notices(db)[3:] == [(lead.id, "overdue"), (region.id, "overdue")]
    assert cases()[0].escalation_level == 2 and cases()[0].next_check_at is None
    worker.escalate(local(2026, 11, 22, 7, 0))
    assert len(notices(db)) == 5
    history = [e.kind for e in db.scalars(select(CaseEvent).order_by(CaseEvent.id))]
    assert history == [CaseEventKind.OPENED, CaseEventKind.WARNED, CaseEventKind.ESCALATED, CaseEventKind.ESCALATED]


def test_a_gotone_case_warns_at_20_hours_and_escalates_at_24(customer, worker, db, clock, users, cases):
    dissatisfied_at(customer, clock, local(2026, 11, 20, 10, 0), brand="全球通")
    worker.escalate(local(2026, 11, 21, 5, 59))
    assert notices(db) == []
    worker.escalate(local(2026, 11, 21, 6, 0))
    assert notices(db) == [(users["lead"].id, "warn")]
    worker.escalate(local(2026, 11, 21, 9, 59))
    assert len(notices(db)) == 1
    worker.escalate(local(2026, 11, 21, 10, 0))
    # No city route: every manager is told, and the owner.
    assert notices(db)[1:] == [(users["manager"].id, "overdue"), (users["lead"].id, "overdue")]
    marks = db.execute(select(CaseEscalation.kind, CaseEscalation.level, CaseEscalation.due_at)
                       .order_by(CaseEscalation.id)).all()
    assert marks == [(AlertKind.WARN, 0, local(2026, 11, 21, 6)), (AlertKind.OVERDUE, 1, local(2026, 11, 21, 10))]


def test_a_case_closed_in_time_is_neither_warned_nor_escalated(customer, worker, db, clock, users, loop, cases):
    dissatisfied_at(customer, clock, local(2026, 11, 20, 10, 0), brand="全球通")
    case = cases()[0]
    act(db, case, RecordContact(True, "已致电客户"), actor=users["lead"], now=local(2026, 11, 20, 11), loop=loop)
    db.commit()
    worker.escalate(local(2026, 11, 21, 6))
    assert notices(db) == [(users["lead"].id, "warn")]  # contacted is not closed: the deadline still runs
    from survey.cases.machine import Resolve
    act(db, cases()[0], Resolve("queue_capacity", "coached", "增开窗口"), actor=users["lead"],
        now=local(2026, 11, 21, 7), loop=loop)
    db.commit()
    worker.escalate(local(2026, 11, 23))
    assert len(notices(db)) == 1


def test_with_working_hours_the_escalation_due_at_0400_comes_at_the_next_working_hour(
        make_worker, make_customer, db, clock, users, loop, cases):
    deadlines = deadlines_from_data({
        "segments": [{"key": "vip", "when": {"tier": ["钻石"]}, "reply_hours": 8, "warn_hours": 6,
                      "handover_hours": 3}],
        "default": {"key": "standard", "reply_hours": 48, "warn_hours": 40, "handover_hours": 6},
        "working_hours": {"start": "09:00", "end": "18:00", "days": [1, 2, 3, 4, 5]}})
    working = CaseLoop(CasePolicy(loop.policy.rules, deadlines, loop.policy.taxonomy), loop.tz)
    worker = make_worker(working)
    dissatisfied_at(make_customer(worker), clock, local(2026, 11, 20, 20, 0), tier="钻石")  # a Friday
    assert cases()[0].deadline_at == local(2026, 11, 21, 4)
    worker.escalate(local(2026, 11, 21, 4, 0))
    worker.escalate(local(2026, 11, 23, 8, 59))  # Monday, before opening
    assert notices(db) == []
    worker.escalate(local(2026, 11, 23, 9, 0))
    # The warning due on Saturday night is overtaken by the deadline: recorded, not sent.
    assert notices(db) == [(users["manager"].id, "overdue"), (users["lead"].id, "overdue")]
    assert db.scalar(select(func.count()).select_from(CaseEscalation)) == 2


def test_a_restart_during_escalation_sends_no_warning_twice(make_worker, make_customer, db, clock, users,
                                                            monkeypatch, cases):
    first = make_worker()
    for number in ("+8613800000001", "+8613800000002", "+8613800000003"):
        dissatisfied_at(make_customer(first, number), clock, local(2026, 11, 20, 10, 0), brand="全球通")
    assert len(cases()) == 3
    import survey.jobs.escalate as escalate
    real, calls = escalate.notify, []

    def dies_on_the_second(*args, **kwargs):
        calls.append(args)
        if len(calls) == 2:
            raise KeyboardInterrupt("the worker is killed in the middle of the batch")
        return real(*args, **kwargs)

    monkeypatch.setattr(escalate, "notify", dies_on_the_second)
    with pytest.raises(KeyboardInterrupt):
        first.escalate(local(2026, 11, 21, 6))
    # Nothing of the batch stayed: the warning already given went with the transaction.
    assert notices(db) == [] and db.scalar(select(func.count()).select_from(CaseEscalation)) == 0
    monkeypatch.setattr(escalate, "notify", real)
    restarted = make_worker()  # a new process: nothing in memory
    assert restarted.escalate(local(2026, 11, 21, 6, 0, 30)) == {"warn": 3}
    again = make_worker()
    assert again.escalate(local(2026, 11, 21, 6, 1)) == {}
    assert notices(db) == [(users["lead"].id, "warn")] * 3


def test_a_hand_over_keeps_the_first_responder_and_must_move_in_time(customer, worker, db, clock, users, loop, cases):
    dissatisfied_at(customer, clock, local(2026, 11, 20, 10, 0), brand="动感地带")
    lead, manager = users["lead"], users["manager"]
    act(db, cases()[0], HandOver(manager.id, "涉及网络问题，转交网络部"), actor=lead, now=local(2026, 11, 20, 11),
        loop=loop)
    db.commit()
    case = cases()[0]
    assert (case.owner_id, case.first_owner_id, case.handovers) == (manager.id, lead.id, 1)
    assert case.handover_due_at == local(2026, 11, 20, 17)
    event = db.scalar(select(CaseEvent).where(CaseEvent.kind == CaseEventKind.HANDED_OVER))
    assert (event.actor, event.detail["from_user"], event.detail["to_user"]) == ("lead", lead.id, manager.id)
    assert notices(db) == [(manager.id, "handover")]
    worker.escalate(local(2026, 11, 20, 16, 59))
    assert len(notices(db)) == 1
    worker.escalate(local(2026, 11, 20, 17))
    assert sorted(notices(db)[1:]) == sorted([(lead.id, "handover"), (manager.id, "handover")])
    worker.escalate(local(2026, 11, 20, 18))
    assert len(notices(db)) == 3
    # A second hand-over, moved in time by a contact, is not flagged.
    act(db, cases()[0], HandOver(lead.id, "退回"), actor=manager, now=local(2026, 11, 20, 19), loop=loop)
    act(db, cases()[0], RecordContact(False, "无人接听"), actor=lead, now=local(2026, 11, 20, 20), loop=loop)
    db.commit()
    worker.escalate(local(2026, 11, 21, 2))
    assert cases()[0].first_owner_id == lead.id and cases()[0].handover_due_at is None
    assert len(notices(db)) == 4  # only the return's own notice
