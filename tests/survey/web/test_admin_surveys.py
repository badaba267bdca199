"""The surveys admin page: definitions shown, rules stored with an audit entry and used by the
worker's next evaluate run (no restart); a bad rule refused by field with nothing stored; the audit page."""
from __future__ import annotations

import re
import zlib
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from channels.models import Interaction
from channels.services import record_interactions
from survey.accounts.models import AuditEntry
from survey.definitions import load_surveys
from survey.jobs.worker import Worker
from survey.models import PolicyOverride, SurveySession
from survey.policy import PolicyConfig
from tests.survey.web.forms import post

SH = ZoneInfo("Asia/Shanghai")


class NoSmsc:
    """The worker's SMPP client, never used by evaluate."""

    def __init__(self, config, *, on_submitted, on_replies): ...


@pytest.fixture
def worker(runtime, outlets):
    """A worker started before any rule was set, as in production: it must pick changes up live."""
    return Worker(runtime, client_config=None, surveys=load_surveys(), policy=PolicyConfig(tz=SH),
                  client_factory=NoSmsc)


def hotline_call(db, clock, external_id):
    msisdn = f"+86139{zlib.crc32(external_id.encode()) % 10**8:08d}"  # a number each: no fatigue
    result = record_interactions(db, [{"source": "crm", "external_id": external_id, "msisdn": msisdn,
                                       "outlet": "HL1", "ended_at": (clock.now() - timedelta(minutes=3)).isoformat()}],
                                 now=clock.now(), tz=SH)
    db.commit()
    assert result.created == 1


def decision(db, external_id) -> str:
    db.expire_all()
    return db.scalar(select(Interaction.decision).where(Interaction.external_id == external_id))


def test_the_survey_page_shows_each_definitions_questions_options_and_texts(admin_client):
    listing = admin_client.get("/admin/surveys").get_data(as_text=True)
    assert "csat-default" in listing and "nps-default" in listing and "服务满意度调查" in listing
    page = admin_client.get("/admin/surveys/csat-default").get_data(as_text=True)
    for text in ("satisfaction", "非常不满意", "等待时间长", "wait_time", "资费问题", "感谢您的评价", "optout_confirm",
                 "仅当 satisfaction 的回答为 3、4、5 时提问"):
        assert text in page


def test_hotline_sampling_set_to_zero_skips_the_next_hotline_interactions_as_sampled_out(admin_client, db, clock,
                                                                                        worker):
    hotline_call(db, clock, "before")
    worker.evaluate(clock.now())
    assert decision(db, "before") == "surveyed"
    response = post(admin_client, "/admin/surveys/rules", **{"sampling_by_channel:hotline": "0"})
    assert (response.status_code, response.location) == (302, "/admin/surveys")
    for n in range(3):
        hotline_call(db, clock, f"after-{n}")
    assert worker.evaluate(clock.now()) == {"sampled_out": 3}
    assert {decision(db, f"after-{n}") for n in range(3)} == {"sampled_out"}


def test_hotline_assigned_to_nps_default_gets_it_at_the_next_session(admin_client, db, clock, worker):
    hotline_call(db, clock, "before")
    worker.evaluate(clock.now())
    response = post(admin_client, "/admin/surveys/rules", **{"survey_by_channel:hotline": "nps-default"})
    assert response.status_code == 302
    hotline_call(db, clock, "after")
    worker.evaluate(clock.now())
    db.expire_all()
    surveys = db.execute(select(Interaction.external_id, SurveySession.survey)
                         .join(SurveySession, SurveySession.interaction_id == Interaction.id)).all()
    assert sorted(surveys) == [("after", "nps-default"), ("before", "csat-default")]
    page = admin_client.get("/admin/surveys").get_data(as_text=True)
    assert "已保存 1 项更改" in page


def test_a_survey_disabled_or_a_channel_assigned_none_sends_nothing_and_inherit_brings_it_back(admin_client, db,
                                                                                           clock, worker):
    post(admin_client, "/admin/surveys/rules", **{"survey_enabled:csat-default": "false"})
    hotline_call(db, clock, "disabled")
    assert worker.evaluate(clock.now()) == {"no_survey": 1}
    post(admin_client, "/admin/surveys/rules", **{"survey_enabled:csat-default": "true",
                                                  "survey_by_channel:hotline": "__none__"})
    hotline_call(db, clock, "none")
    assert worker.evaluate(clock.now()) == {"no_survey": 1}
    post(admin_client, "/admin/surveys/rules", **{"survey_by_channel:hotline": "__inherit__"})
    hotline_call(db, clock, "inherited")
    assert worker.evaluate(clock.now()) == {"surveyed": 1}
    db.expire_all()
    assert db.scalar(select(PolicyOverride.id)) is None  # back to the settings: no rows left


def test_a_bad_rule_names_its_field_and_stores_none_of_the_form(admin_client, db, clock):
    post(admin_client, "/admin/surveys/rules", **{"sampling_by_channel:web": "0.5"})
    response = post(admin_client, "/admin/surveys/rules", **{
        "sampling_by_channel:web": "0.1", "sampling_by_channel:hotline": "1.5",
        "survey_by_channel:store": "no-such-survey", "outlet_monthly_target:": "many"})
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert "抽样比例 · 客服热线：抽样比例应在 0 到 1 之间，而不是 1.5" in page
    assert "渠道问卷 · 营业厅：没有问卷 &#39;no-such-survey&#39;" in page
    assert "网点月目标：月目标应为整数" in page
    assert 'value="1.5"' in page  # the form comes back as typed
    db.expire_all()
    assert [(r.kind.value, r.key, r.value) for r in db.scalars(select(PolicyOverride))] == [
        ("sampling_by_channel", "web", "0.5")]
    assert [e.action for e in db.scalars(select(AuditEntry))] == ["policy.set"]


def test_a_rule_key_with_a_control_character_is_refused_not_a_server_error(admin_client, db, outlets):
    response = post(admin_client, "/admin/surveys/rules", **{"survey_by_business:x\x00": "csat-default"})
    assert response.status_code == 422 and "不可用的字符" in response.get_data(as_text=True)
    response = post(admin_client, "/admin/surveys/targets", outlet="S\x001", target="5")
    assert response.status_code == 422 and "不可用的字符" in response.get_data(as_text=True)
    assert db.scalar(select(PolicyOverride.id)) is None


def test_an_outlet_gets_a_monthly_target_of_its_own_and_loses_it(admin_client, db, outlets):
    assert post(admin_client, "/admin/surveys/targets", outlet="S001", target="40").status_code == 302
    page = admin_client.get("/admin/surveys").get_data(as_text=True)
    assert re.search(r"徐汇1号营业厅（S001）</td><td>40</td>", page)
    refused = post(admin_client, "/admin/surveys/targets", outlet="NOPE", target="5")
    assert refused.status_code == 422 and "没有网点 &#39;NOPE&#39;" in refused.get_data(as_text=True)
    assert post(admin_client, "/admin/surveys/targets", outlet="S001", target="").status_code == 302
    db.expire_all()
    assert db.scalar(select(PolicyOverride.id)) is None
    assert [e.action for e in db.scalars(select(AuditEntry).order_by(AuditEntry.id))] == ["policy.set", "policy.clear"]


def test_the_audit_page_shows_who_changed_what_with_before_and_after(admin_client, db, clock):
    post(admin_client, "/admin/surveys/rules", **{"sampling_by_channel:hotline": "0.2"})
    clock.advance(minutes=5)
    post(admin_client, "/admin/surveys/rules", **{"sampling_by_channel:hotline": "0.3"})
    page = admin_client.get("/admin/audit").get_data(as_text=True)
    rows = re.findall(r'<tr><td>([^<]+)</td><td>admin</td><td class="nowrap">修改调查规则</td>\s*<td>抽样比例 · 客服热线</td>',
                      page)
    assert rows == ["2026-11-20 10:05", "2026-11-20 10:00"]  # newest first, in the configured zone
    assert '<td><code>{"value": "0.2"}</code></td>\n    <td><code>{"value": "0.3"}</code></td>' in page
