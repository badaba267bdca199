"""Case pages × roles: a lead sees and acts on their outlets' cases only (another outlet's case, or a
guessed id, is 404 on every route and changes nothing); refusals come back with 422 and store nothing;
every form post needs its CSRF token; the queue, the case page, the board and the downloads."""
from __future__ import annotations

import csv
import io
import itertools
import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import openpyxl
import pytest
from sqlalchemy import func, insert, select

from channels.models import Interaction
from channels.services import record_interactions
from survey.cases.config import CaseLoop, load_case_policy
from survey.cases.opening import CaseOpener
from survey.cases.states import CaseEventKind, CaseState, RecoveryState
from survey.models import Answer, Case, CaseEvent, CaseNotification, CaseRecovery, OutboundMessage, SurveySession
from survey.policy import PolicyConfig
from survey.states import MessagePurpose, SessionState

SH = ZoneInfo("Asia/Shanghai")
FIX = {"root_cause": "staff_attitude", "action": "coached", "note": "已致电致歉，员工已辅导"}


@pytest.fixture
def loop() -> CaseLoop:
    return CaseLoop.from_config(load_case_policy(), PolicyConfig(tz=SH))


@pytest.fixture
def make_case(db, clock, outlets, users, loop):
    """A stored case opened from a stored satisfaction answer (as the engine leaves them)."""
    numbers = itertools.count(1)

    def make(outlet="S001", *, value=4, text="4 排队太久", reasons=("wait_time",), opened_at=None, **attributes):
        n = next(numbers)
        msisdn, when = f"+861380000{n:04d}", opened_at or clock.now()
        result = record_interactions(db, [{"source": "web-test", "external_id": f"case-{n}", "msisdn": msisdn,
                                           "outlet": outlet, "ended_at": (when - timedelta(minutes=30)).isoformat(),
                                           **attributes}], now=when, tz=SH)
        assert result.created == 1
        interaction = db.scalar(select(Interaction).where(Interaction.external_id == f"case-{n}"))
        session = SurveySession(interaction_id=interaction.id, msisdn=msisdn, survey="csat-default",
                                state=SessionState.COMPLETED, question=None, reasks=0, scheduled_for=when,
                                sent_at=when, segments_sent=2, created_at=when)
        db.add(session)
        db.flush()
        place = outlets[outlet]
        answer = dict(session_id=session.id, inbound_id=None, survey="csat-default", question="satisfaction",
                      value=value, reasons=list(reasons), text=text, answered_at=when, response_seconds=60,
                      msisdn=msisdn, channel=place["channel"], outlet_code=outlet, region=place["region"],
                      city=place["city"], business_type=None, attributes=attributes)
        db.execute(insert(Answer), [answer])
        opener = CaseOpener(loop)
        [case_id] = opener.open(db, [opener.for_answer(answer)])
        db.commit()
        return db.get(Case, case_id)

    return make


def token_of(client, path="/login") -> str:
    page = client.get(path).get_data(as_text=True)
    return re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)


def snapshot(db) -> tuple:
    db.expire_all()
    return (tuple(db.execute(select(Case.id, Case.state, Case.owner_id, Case.round)).all()),
            db.scalar(select(func.count()).select_from(CaseEvent)),
            db.scalar(select(func.count()).select_from(OutboundMessage)))


POSTS = [("contact", {"reached": "1", "note": "已联系"}), ("resolve", FIX), ("unreachable", {"note": "无人接听"}),
         ("handover", {"to_user": "{manager}", "note": "转交"})]


def posts(case_id: int, users) -> list[tuple[str, dict]]:
    return [(f"/cases/{case_id}/{name}", {k: v.format(manager=users["manager"].id) for k, v in data.items()})
            for name, data in POSTS]


def test_signed_out_every_case_page_leads_to_sign_in(client, make_case, users):
    case = make_case()
    for path in ("/cases/", f"/cases/{case.id}", "/cases/board", "/cases/export.csv"):
        response = client.get(path)
        assert response.status_code == 302 and "/login" in response.headers["Location"], path


def test_a_lead_cannot_see_or_act_on_another_outlets_case_nor_a_guessed_one(client, db, make_case, users, sign_in):
    own, other = make_case("S001"), make_case("S101")  # the lead has S001 and HL1, not S101
    sign_in(users["lead"])
    token = token_of(client, "/cases/")
    assert client.get(f"/cases/{own.id}").status_code == 200
    before = snapshot(db)
    for case_id in (other.id, other.id + 1000, 0):
        assert client.get(f"/cases/{case_id}").status_code == 404
        for path, data in posts(case_id, users):
            assert client.post(path, data={**data, "csrf_token": token}).status_code == 404, path
    assert snapshot(db) == before
    queue = client.get("/cases/?view=all").get_data(as_text=True)
    assert f"#{own.id}<" in queue and f"#{other.id}<" not in queue
    exported = client.get("/cases/export.csv").get_data(as_text=True)
    ids = [row[0] for row in csv.reader(io.StringIO(exported.lstrip("\ufeff")))][1:]
    assert ids == [str(own.id)]


def test_managers_and_admins_see_every_case(client, make_case, users, sign_in):
    cases = [make_case("S001"), make_case("S101"), make_case("WEB1")]
    for role in ("manager", "admin"):
        sign_in(users[role])
        for case in cases:
            assert client.get(f"/cases/{case.id}").status_code == 200
        queue = client.get("/cases/").get_data(as_text=True)
        assert all(f"#{case.id}<" in queue for case in cases)


def test_every_post_without_its_csrf_token_is_refused_and_changes_nothing(client, db, make_case, users, sign_in):
    case = make_case()
    sign_in(users["lead"])
    before = snapshot(db)
    for path, data in posts(case.id, users) + [("/cases/notifications/read", {})]:
        assert client.post(path, data=data).status_code == 400, path
        assert client.post(path, data={**data, "csrf_token": "forged"}).status_code == 400, path
    assert snapshot(db) == before


def test_resolving_without_a_root_cause_is_refused_and_stores_nothing(client, db, make_case, users, sign_in):
    case = make_case()
    sign_in(users["lead"])
    token = token_of(client, f"/cases/{case.id}")
    before = snapshot(db)
    for missing in ("root_cause", "action", "note"):
        response = client.post(f"/cases/{case.id}/resolve", data={**FIX, missing: "", "csrf_token": token})
        assert response.status_code == 422
        assert "请选择" in response.get_data(as_text=True) or "请填写" in response.get_data(as_text=True)
    response = client.post(f"/cases/{case.id}/resolve", data={**FIX, "root_cause": "bad_luck", "csrf_token": token})
    assert response.status_code == 422 and "不是可选的根本原因" in response.get_data(as_text=True)
    assert snapshot(db) == before


def test_a_lead_contacts_resolves_and_the_recovery_sms_is_queued_once(client, db, make_case, users, sign_in, clock):
    case = make_case(brand="全球通")
    sign_in(users["lead"])
    token = token_of(client, f"/cases/{case.id}")
    response = client.post(f"/cases/{case.id}/contact", data={"reached": "1", "note": "已致电", "csrf_token": token})
    assert response.status_code == 302
    clock.advance(hours=2)
    assert client.post(f"/cases/{case.id}/resolve", data={**FIX, "csrf_token": token}).status_code == 302
    again = client.post(f"/cases/{case.id}/resolve", data={**FIX, "csrf_token": token})
    assert again.status_code == 422 and "工单已关闭" in again.get_data(as_text=True)
    db.expire_all()
    stored = db.get(Case, case.id)
    assert (stored.state, stored.root_cause, stored.action) == (CaseState.RESOLVED, "staff_attitude", "coached")
    assert stored.first_contact_at == stored.opened_at and stored.closed_at == clock.now()
    messages = db.scalars(select(OutboundMessage).where(OutboundMessage.purpose == MessagePurpose.RECOVERY)).all()
    assert [m.text for m in messages] == ["问题已处理，您是否满意？回复1满意 2不满意。回复TD退订"]
    history = [(e.kind, e.actor) for e in db.scalars(select(CaseEvent).where(CaseEvent.case_id == case.id)
                                                    .order_by(CaseEvent.id))]
    assert history == [(CaseEventKind.OPENED, "系统"), (CaseEventKind.CONTACT, "lead"),
                       (CaseEventKind.RESOLVED, "lead"), (CaseEventKind.RECOVERY_QUEUED, "系统")]
    page = client.get(f"/cases/{case.id}").get_data(as_text=True)
    assert "员工服务态度" in page and "已致电" in page and "回访" in page


def test_a_case_handed_to_a_lead_of_other_outlets_is_theirs_to_see_and_the_first_responder_stays(
        client, db, make_case, users, sign_in, clock):
    from survey.accounts.models import Role
    from survey.accounts.services import create_user
    other_lead = create_user(db, "hz-lead", "password123", Role.CHANNEL_LEAD, now=clock.now(), outlet_codes=("S101",))
    db.commit()
    case = make_case("S001")
    sign_in(users["lead"])
    token = token_of(client, f"/cases/{case.id}")
    response = client.post(f"/cases/{case.id}/handover", data={"to_user": str(other_lead.id), "note": "转杭州",
                                                                "csrf_token": token})
    assert response.status_code == 302
    db.expire_all()
    stored = db.get(Case, case.id)
    assert (stored.owner_id, stored.first_owner_id) == (other_lead.id, users["lead"].id)
    assert db.scalar(select(CaseNotification.user_id).where(CaseNotification.kind == "handover")) == other_lead.id
    sign_in(other_lead)
    assert client.get(f"/cases/{case.id}").status_code == 200
    page = client.get("/cases/").get_data(as_text=True)
    assert f"#{case.id}<" in page and "工单 #%d 已转交给您" % case.id in page
    assert client.get(f"/cases/{make_case('S002').id}").status_code == 404  # still nothing else outside S101
    sign_in(users["lead"])  # the first responder still sees it
    assert client.get(f"/cases/{case.id}").status_code == 200
    bad = client.post(f"/cases/{case.id}/handover", data={"to_user": "", "csrf_token": token})
    assert bad.status_code == 422


def test_the_queue_puts_overdue_cases_first_with_masked_numbers_answers_and_deadlines(client, make_case, users,
                                                                                     sign_in, clock):
    later = make_case(brand="动感地带", text="5 等了一个多小时")  # due in 48 h
    overdue = make_case(tier="钻石", text="4 态度很差", opened_at=clock.now() - timedelta(hours=9))  # VIP, 8 h
    sign_in(users["lead"])
    page = client.get("/cases/").get_data(as_text=True)
    assert page.index(f"#{overdue.id}<") < page.index(f"#{later.id}<")
    assert "已超时" in page and "态度很差" in page and "等了一个多小时" in page
    assert "138****0002" in page and "+8613800000002" not in page and "13800000002" not in page
    deadline = overdue.deadline_at.astimezone(SH).strftime("%m-%d %H:%M")
    assert deadline in page
    overdue_only = client.get("/cases/?view=overdue").get_data(as_text=True)
    assert f"#{overdue.id}<" in overdue_only and f"#{later.id}<" not in overdue_only
    assert client.get("/cases/?view=nonsense").status_code == 400


def test_the_board_counts_deadlines_recovery_and_root_causes_within_the_viewers_scope(
        client, db, make_case, users, sign_in, clock, loop):
    from survey.cases.actions import act
    from survey.cases.machine import RecordContact, Resolve
    start = clock.now() - timedelta(days=3)
    in_time = make_case("S001", brand="全球通", opened_at=start)
    late = make_case("S001", brand="全球通", opened_at=start)
    still_open = make_case("S101", brand="全球通", opened_at=start)
    lead = users["lead"]
    act(db, in_time, RecordContact(True, "已联系"), actor=lead, now=start + timedelta(hours=1), loop=loop)
    act(db, in_time, Resolve("staff_attitude", "coached", "x"), actor=lead, now=start + timedelta(hours=3), loop=loop)
    act(db, late, Resolve("queue_capacity", "process_changed", "x"), actor=lead, now=start + timedelta(hours=30),
        loop=loop)
    checks = db.scalars(select(CaseRecovery).order_by(CaseRecovery.id)).all()
    checks[0].state, checks[0].sent_at = RecoveryState.SATISFIED, start + timedelta(hours=4)
    checks[1].state, checks[1].sent_at = RecoveryState.NO_REPLY, start + timedelta(hours=31)
    db.commit()
    sign_in(users["manager"])
    page = client.get("/cases/board?by=city").get_data(as_text=True)
    # 3 opened; 2 judged... all 3 are past their 24 h deadline: 1 closed within it.
    assert re.search(r"<b>3</b>开单", page) and "33.3%" in page and "1/3" in page
    assert "50.0%" in page and "1/2" in page  # recovery: 1 satisfied of 2 sent
    assert page.index("员工服务态度") < page.index("窗口/座席不足") or page.index("窗口/座席不足") < page.index("员工服务态度")
    assert "西湖代理点" in page  # the outlet with an overdue case
    assert "1.0 小时" in page  # median time to first contact (全球通)
    sign_in(users["lead"])
    scoped = client.get("/cases/board").get_data(as_text=True)
    assert re.search(r"<b>2</b>开单", scoped) and "西湖代理点" not in scoped
    assert client.get("/cases/board?by=nothing").status_code == 400
    assert client.get("/cases/board?since=2026-13-01").status_code == 400


def test_the_xlsx_download_holds_the_leads_cases_with_masked_numbers(client, make_case, users, sign_in):
    own, other = make_case("HL1", text="4 电话打不通"), make_case("S002")
    sign_in(users["lead"])
    response = client.get("/cases/export.xlsx")
    assert response.status_code == 200
    sheet = openpyxl.load_workbook(io.BytesIO(response.data)).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][0] == "工单号" and [r[0] for r in rows[1:]] == [own.id]
    assert "138****0001" in rows[1] and "4 电话打不通" in rows[1]
    assert not any("+86" in str(cell) for row in rows for cell in row)
    assert client.get("/cases/export.pdf").status_code == 404


def test_notifications_are_marked_read_only_for_their_reader(client, db, make_case, users, sign_in, clock):
    case = make_case()
    from survey.cases.actions import notify
    notify(db, [users["lead"].id, users["manager"].id], case, "warn", "临期", now=clock.now())
    db.commit()
    sign_in(users["lead"])
    token = token_of(client, "/cases/")
    assert client.post("/cases/notifications/read", data={"csrf_token": token}).status_code == 302
    db.expire_all()
    unread = db.scalars(select(CaseNotification.user_id).where(CaseNotification.read_at.is_(None))).all()
    assert unread == [users["manager"].id]


def test_routing_is_for_admins_refused_by_field_and_audit_logged(client, db, users, sign_in):
    from survey.accounts.models import AuditEntry
    from survey.models import CaseRoute
    for role in ("lead", "manager"):
        sign_in(users[role])
        token = token_of(client, "/cases/")
        assert client.get("/cases/routes").status_code == 403
        assert client.post("/cases/routes", data={"duty": "owner", "match_kind": "city", "match_key": "杭州",
                                                  "username": role, "csrf_token": token}).status_code == 403
    sign_in(users["admin"])
    token = token_of(client, "/cases/routes")
    refused = [({"duty": "city", "match_kind": "outlet", "match_key": "S001", "username": "manager"}, "不能按此范围"),
               ({"duty": "owner", "match_kind": "city", "match_key": "杭\x00州", "username": "manager"}, "64 个字符以内"),
               ({"duty": "owner", "match_kind": "city", "match_key": "杭州", "username": "nobody"}, "没有这个"),
               ({"duty": "boss", "match_kind": "city", "match_key": "杭州", "username": "manager"}, "请选择")]
    for data, message in refused:
        response = client.post("/cases/routes", data={**data, "csrf_token": token})
        assert response.status_code == 422 and message in response.get_data(as_text=True), data
    assert db.scalar(select(func.count()).select_from(CaseRoute)) == 0
    assert client.post("/cases/routes", data={"duty": "city", "match_kind": "city", "match_key": "上海",
                                              "username": "manager"}).status_code == 400  # no CSRF token
    response = client.post("/cases/routes", data={"duty": "city", "match_kind": "city", "match_key": "上海",
                                                  "username": "manager", "csrf_token": token})
    assert response.status_code == 302
    route = db.scalar(select(CaseRoute))
    assert (route.duty, route.match_kind, route.match_key, route.user_id) == ("city", "city", "上海", users["manager"].id)
    assert "上海" in client.get("/cases/routes").get_data(as_text=True)
    assert client.post(f"/cases/routes/{route.id}/delete", data={"csrf_token": token}).status_code == 302
    assert db.scalar(select(func.count()).select_from(CaseRoute)) == 0
    assert [e.action for e in db.scalars(select(AuditEntry).order_by(AuditEntry.id))] == ["case_route.add",
                                                                                           "case_route.remove"]


def test_a_query_string_with_a_control_character_is_a_bad_request_not_an_error(client, make_case, users, sign_in):
    make_case()
    sign_in(users["manager"])
    assert client.get("/cases/?outlet=S0%0001").status_code == 400
    assert client.get("/cases/?page=99999999999999").status_code == 200
