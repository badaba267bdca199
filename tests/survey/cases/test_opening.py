"""Cases open from answers in the answer's own transaction, one per session, owned and due by data."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from survey.accounts.models import Role
from survey.accounts.services import create_user
from survey.cases.opening import CaseOpener, open_for_stored_answers
from survey.cases.routing import set_route
from survey.cases.states import CaseEventKind, CaseState, RouteDuty, RouteMatch
from survey.models import Answer, Case, CaseEvent, InboundMessage
from survey.states import InboundState

SH_OFFSET = timedelta(hours=8)


def test_a_dissatisfied_answer_opens_a_case_for_the_outlets_lead_due_by_the_brand(customer, db, clock, users, cases):
    customer.survey("4", brand="全球通")
    [case] = cases()
    answer = db.scalar(select(Answer).where(Answer.question == "satisfaction"))
    assert (case.answer_id, case.session_id, case.trigger) == (answer.id, answer.session_id, "dissatisfied")
    assert (case.state, case.segment, case.outlet_code, case.city, case.region) == (
        CaseState.OPEN, "gotone", "S001", "上海", "华东")
    assert case.owner_id == case.first_owner_id == users["lead"].id
    assert case.opened_at == answer.answered_at
    assert case.deadline_at == case.opened_at + timedelta(hours=24)
    assert case.warn_at == case.opened_at + timedelta(hours=20)
    [event] = db.scalars(select(CaseEvent).where(CaseEvent.case_id == case.id))
    assert (event.kind, event.actor, event.detail["trigger"]) == (CaseEventKind.OPENED, "系统", "dissatisfied")


def test_a_satisfied_answer_opens_none(customer, cases):
    customer.survey("1")
    customer.survey("满意")
    assert cases() == []


def test_the_reason_answer_opens_the_case_when_the_score_did_not_and_one_session_gets_one_case(customer, db, cases):
    customer.survey("3", "问题一直没有解决")
    [case] = cases()
    assert case.trigger == "unresolved_or_billing"
    assert db.get(Answer, case.answer_id).question == "reason"
    customer.survey("5", "4", brand="神州行")  # the score opens it; the reason "unresolved" opens no second one
    first, second = cases()
    assert second.trigger == "dissatisfied" and db.get(Answer, second.answer_id).question == "satisfaction"
    assert second.deadline_at - second.opened_at == timedelta(hours=48)


def test_a_vip_at_three_and_an_opt_out_after_a_bad_score(customer, cases):
    customer.survey("3", "其他", tier="钻石")
    customer.survey("3", "TD")
    vip, opted_out = cases()
    assert (vip.trigger, vip.segment, vip.deadline_at - vip.opened_at) == ("vip_not_satisfied", "vip", timedelta(hours=8))
    assert opted_out.trigger == "optout_after_bad_score"


def test_complaint_words_open_a_case_even_on_a_good_score(customer, cases):
    customer.survey("2 不过我还是要去工信部投诉")
    [case] = cases()
    assert case.trigger == "complaint_words"


def test_the_case_is_stored_with_its_answer_or_not_at_all(customer, db, monkeypatch, cases):
    def broken(self, db, seeds):
        raise RuntimeError("case table unavailable")

    monkeypatch.setattr(CaseOpener, "open", broken)
    customer.survey("5")
    # The batch failed, then the reply alone failed: set aside, and its answer was not kept either.
    assert db.scalar(select(InboundMessage.state)) is InboundState.ERROR
    assert db.scalar(select(func.count()).select_from(Answer)) == 0
    assert cases() == []


def test_routing_as_data_an_outlet_route_wins_over_the_lead_and_a_city_route_covers_outlets_without_one(
        customer, db, clock, users, cases):
    team = create_user(db, "hz-team", "password123", Role.MANAGER, now=clock.now())
    desk = create_user(db, "s001-desk", "password123", Role.CHANNEL_LEAD, now=clock.now(), outlet_codes=("S001",))
    set_route(db, RouteDuty.OWNER, RouteMatch.CITY, "杭州", team)
    db.commit()
    customer.survey("4 排队太久", outlet="S101")  # 杭州, no lead: the city's team
    customer.survey("4 排队太久", outlet="WEB1")  # no lead, no route: nobody yet (managers see it, it escalates)
    customer.survey("4 排队太久", outlet="S001")  # two leads: the longest-standing one
    set_route(db, RouteDuty.OWNER, RouteMatch.OUTLET, "S001", desk)
    db.commit()
    customer.survey("4 排队太久", outlet="S001")
    assert [c.owner_id for c in cases()] == [team.id, None, users["lead"].id, desk.id]


def test_a_backfill_opens_cases_for_answers_stored_before_the_rules_were_on(make_worker, make_customer, db, loop,
                                                                             cases):
    without = make_worker(None)
    for number, replies in (("+8613800000001", ("4",)), ("+8613800000002", ("1",)),
                            ("+8613800000003", ("3", "乱收费"))):
        make_customer(without, number).survey(*replies)
    assert cases() == []
    assert open_for_stored_answers(db, CaseOpener(loop)) == (4, 2)
    assert [(c.msisdn, c.trigger) for c in cases()] == [("+8613800000001", "dissatisfied"),
                                                        ("+8613800000003", "unresolved_or_billing")]
    assert open_for_stored_answers(db, CaseOpener(loop)) == (4, 0)  # again: nothing twice
    last = db.scalar(select(func.max(Answer.id)))
    assert open_for_stored_answers(db, CaseOpener(loop), answer_ids=[last]) == (1, 0)
