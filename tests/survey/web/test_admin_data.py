"""Admin pages for outlet import and for opt-outs and the do-not-survey list: each action's effect
in the database, the per-row report on the page, bad input refused by field with nothing stored lost."""
from __future__ import annotations

import io
import re
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from channels.models import Interaction, Outlet, Subscriber
from channels.services import record_interactions
from survey.accounts.models import AuditEntry
from survey.definitions import load_surveys
from survey.jobs.decide import evaluate_pending
from survey.policy import PolicyConfig
from tests.survey.web.forms import csrf_token, post

SH = ZoneInfo("Asia/Shanghai")
HEADER = "code,name,channel,kind,region,city\n"


def upload(client, content: bytes, name: str = "outlets.csv"):
    return client.post("/admin/outlets/import", content_type="multipart/form-data",
                       data={"file": (io.BytesIO(content), name), "csrf_token": csrf_token(client)})


def outlets_now(db) -> dict[str, tuple]:
    db.expire_all()
    return {o.code: (o.name, o.channel.value, o.kind.value, o.city_id) for o in db.scalars(select(Outlet))}


# -- outlet import -------------------------------------------------------------------------------


def test_an_upload_stores_the_good_rows_and_shows_each_bad_one_with_its_row_and_field(admin_client, db, outlets):
    before = outlets_now(db)
    csv_text = HEADER + ("N001,滨江营业厅,store,own,华东,杭州\n"
                         "S001,,store,own,华东,上海\n"  # would blank an existing outlet's name
                         "N002,热线二,hotline,own,华东,上海\n"
                         "S002,浦东合作厅（新址）,营业厅,合作,华东,上海\n")
    response = upload(admin_client, csv_text.encode("gb18030"))
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    report = re.findall(r"<tr><td>(\d+)</td><td>([^<]*)</td><td>([^<]*)</td></tr>", page)
    assert report == [("3", "name", "required"), ("4", "kind", "a hotline outlet is virtual, not own")]
    assert "新建或更新 2 个网点" in page and "有问题 2 行" in page and "gb18030" in page
    after = outlets_now(db)
    assert after["S001"] == before["S001"]  # the bad row changed nothing stored
    assert after["S002"][0] == "浦东合作厅（新址）" and after["N001"][0] == "滨江营业厅"
    assert "N002" not in after
    entry = db.scalar(select(AuditEntry))
    assert (entry.action, entry.target, entry.after["rejected"]) == ("outlets.import", "file outlets.csv", 2)


@pytest.mark.parametrize("content", [b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8, b"foo,bar\n1,2\n",
                                     (HEADER + "S001\n").encode()])
def test_a_bad_file_is_reported_and_loses_nothing_stored(admin_client, db, outlets, content):
    before = outlets_now(db)
    response = upload(admin_client, content)
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "没有一行可用" in page and 'id="import-errors"' in page
    assert outlets_now(db) == before


@pytest.mark.parametrize("content, status, message", [(None, 422, "请选择文件"), (b"", 422, "文件是空的")])
def test_no_file_or_an_empty_one_is_refused_by_field(admin_client, db, outlets, content, status, message):
    data = {"csrf_token": csrf_token(admin_client)}
    if content is not None:
        data["file"] = (io.BytesIO(content), "empty.csv")
    response = admin_client.post("/admin/outlets/import", data=data, content_type="multipart/form-data")
    assert response.status_code == status
    assert f"网点文件（CSV：code,name,channel,kind,region,city）：{message}" in response.get_data(as_text=True)
    assert db.scalar(select(AuditEntry.id)) is None


# -- opt-outs and do-not-survey ------------------------------------------------------------------


def test_a_lookup_shows_the_typed_number_in_full_with_its_opt_out_time_and_source(admin_client, db, clock):
    opted = clock.now() - timedelta(days=2)
    db.add(Subscriber(msisdn="+8613812341234", attributes={}, created_at=opted, opted_out_at=opted,
                      opt_out_source="reply to session 7", do_not_survey=False))
    db.commit()
    page = post(admin_client, "/admin/optouts/lookup", msisdn="138 1234 1234").get_data(as_text=True)
    assert "+8613812341234" in page and "已退订：2026-11-18 10:00" in page and "reply to session 7" in page
    assert "不在名单中" in page
    unknown = post(admin_client, "/admin/optouts/lookup", msisdn="+86 139 0000 0000").get_data(as_text=True)
    assert "系统中没有该号码的记录" in unknown


@pytest.mark.parametrize("path", ["/admin/optouts/lookup", "/admin/optouts/do-not-survey"])
@pytest.mark.parametrize("number", ["010-12345678", "13812341234 ext 5", ""])
def test_a_number_that_is_not_a_mobile_number_is_refused_by_field(admin_client, db, path, number):
    response = post(admin_client, path, msisdn=number)
    assert response.status_code == 422
    assert "手机号码：" in response.get_data(as_text=True)  # 请填写 or 不是有效的手机号码
    assert db.scalar(select(Subscriber.id)) is None and db.scalar(select(AuditEntry.id)) is None


def test_the_do_not_survey_list_is_kept_masked_and_the_engine_honours_it(admin_client, db, clock, outlets):
    response = post(admin_client, "/admin/optouts/do-not-survey", msisdn="13812341234")
    assert (response.status_code, response.location) == (302, "/admin/optouts")
    db.expire_all()
    subscriber = db.scalar(select(Subscriber).where(Subscriber.msisdn == "+8613812341234"))
    assert subscriber.do_not_survey
    page = admin_client.get("/admin/optouts").get_data(as_text=True)
    assert "138****1234" in page and "13812341234" not in page and "（1 个号码）" in page
    again = post(admin_client, "/admin/optouts/do-not-survey", msisdn="+86 138-1234-1234")
    assert "该号码已在免打扰名单中" in admin_client.get(again.location).get_data(as_text=True)

    record_interactions(db, [{"source": "crm", "external_id": "x1", "msisdn": "13812341234", "outlet": "S001",
                              "ended_at": (clock.now() - timedelta(minutes=5)).isoformat()}], now=clock.now(), tz=SH)
    db.commit()
    assert evaluate_pending(db, now=clock.now(), config=PolicyConfig(tz=SH), surveys=load_surveys()) == {
        "do_not_survey": 1}
    db.commit()

    assert post(admin_client, f"/admin/optouts/do-not-survey/{subscriber.id}/remove").status_code == 302
    db.expire_all()
    assert not db.get(Subscriber, subscriber.id).do_not_survey
    log = [(e.action, e.target, e.after) for e in db.scalars(select(AuditEntry).order_by(AuditEntry.id))]
    assert log == [("do_not_survey.add", f"subscriber {subscriber.id} 138****1234", {"do_not_survey": True}),
                   ("do_not_survey.remove", f"subscriber {subscriber.id} 138****1234", {"do_not_survey": False})]
    assert db.scalar(select(Interaction.decision)) == "do_not_survey"
