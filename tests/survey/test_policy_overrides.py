"""Admin-set policy rules: parsed and merged without I/O, stored with an audit entry, and read by the
next evaluate run (no restart)."""
from __future__ import annotations

import zlib
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from channels.models import Interaction
from channels.services import record_interactions
from survey.accounts.models import AuditEntry
from survey.definitions import load_surveys
from survey.jobs.decide import evaluate_pending
from survey.models import PolicyOverride, SurveySession
from survey.policy import (Decision, Facts, Override, OverrideKind, PolicyConfig, PolicyError, choose_survey,
                           decide, parse_override, with_overrides)
from survey.policy_overrides import Change, InvalidChanges, apply_changes, changes_from_form, live_config, overview

SH = ZoneInfo("Asia/Shanghai")
SURVEYS = ("csat-default", "nps-default")
BASE = PolicyConfig(tz=SH, survey_by_channel={"hotline": "nps-default"}, sampling_by_channel={"web": 0.5},
                    outlet_monthly_target=100)


def parse(kind: OverrideKind, key: str, value: str) -> Override:
    return parse_override(kind, key, value, surveys=SURVEYS)


@pytest.mark.parametrize("kind, key, value, typed", [
    (OverrideKind.SURVEY_ENABLED, "nps-default", "false", False),
    (OverrideKind.DEFAULT_SURVEY, "", "nps-default", "nps-default"),
    (OverrideKind.SURVEY_BY_CHANNEL, "hotline", "csat-default", "csat-default"),
    (OverrideKind.SURVEY_BY_CHANNEL, "web", "", ""),  # no survey for the channel
    (OverrideKind.SURVEY_BY_BUSINESS, "complaint", " nps-default ", "nps-default"),
    (OverrideKind.SAMPLING_BY_CHANNEL, "hotline", "0", 0.0),
    (OverrideKind.SAMPLING_BY_CHANNEL, "hotline", "0.25", 0.25),
    (OverrideKind.OUTLET_MONTHLY_TARGET, "", "50", 50),
    (OverrideKind.OUTLET_MONTHLY_TARGET, "S001", "0", 0),
])
def test_an_override_is_read_from_its_text(kind, key, value, typed):
    override = parse(kind, key, value)
    assert override.value == typed and type(override.value) is type(typed)


@pytest.mark.parametrize("kind, key, value, field, problem", [
    (OverrideKind.SURVEY_ENABLED, "nope", "true", "survey_enabled:nope", "没有问卷"),
    (OverrideKind.SURVEY_ENABLED, "nps-default", "yes", "survey_enabled:nps-default", "true 或 false"),
    (OverrideKind.DEFAULT_SURVEY, "", "", "default_survey:", "没有问卷"),
    (OverrideKind.SURVEY_BY_CHANNEL, "fax", "csat-default", "survey_by_channel:fax", "未知的渠道"),
    (OverrideKind.SURVEY_BY_CHANNEL, "hotline", "nps-typo", "survey_by_channel:hotline", "没有问卷"),
    (OverrideKind.SURVEY_BY_BUSINESS, "", "csat-default", "survey_by_business:", "缺少业务类型"),
    (OverrideKind.SAMPLING_BY_CHANNEL, "hotline", "1.5", "sampling_by_channel:hotline", "0 到 1"),
    (OverrideKind.SAMPLING_BY_CHANNEL, "hotline", "nan", "sampling_by_channel:hotline", "0 到 1"),
    (OverrideKind.SAMPLING_BY_CHANNEL, "hotline", "20%", "sampling_by_channel:hotline", "0 到 1"),
    (OverrideKind.OUTLET_MONTHLY_TARGET, "", "-1", "outlet_monthly_target:", "月目标"),
    (OverrideKind.OUTLET_MONTHLY_TARGET, "", "ten", "outlet_monthly_target:", "月目标"),
    (OverrideKind.SURVEY_BY_BUSINESS, "a\x00", "csat-default", "survey_by_business:a\x00", "不可用的字符"),
    (OverrideKind.OUTLET_MONTHLY_TARGET, "S\u202e1", "5", "outlet_monthly_target:S\u202e1", "不可用的字符"),
])
def test_a_bad_override_names_its_field_and_the_problem(kind, key, value, field, problem):
    with pytest.raises(PolicyError) as caught:
        parse(kind, key, value)
    assert caught.value.field == field and problem in caught.value.problem


def test_overrides_win_over_the_settings_and_leave_the_rest_alone():
    config = with_overrides(BASE, [
        parse(OverrideKind.SURVEY_BY_CHANNEL, "hotline", "csat-default"),
        parse(OverrideKind.SAMPLING_BY_CHANNEL, "hotline", "0"),
        parse(OverrideKind.OUTLET_MONTHLY_TARGET, "S001", "5"),
        parse(OverrideKind.SURVEY_ENABLED, "nps-default", "false"),
    ])
    assert config.survey_by_channel == {"hotline": "csat-default"}
    assert config.sampling_by_channel == {"web": 0.5, "hotline": 0.0}
    assert (config.outlet_monthly_target, config.target_by_outlet) == (100, {"S001": 5})
    assert config.disabled_surveys == {"nps-default"}
    assert with_overrides(BASE, []) == BASE
    assert BASE.survey_by_channel == {"hotline": "nps-default"}  # the settings' config is not changed


def test_a_disabled_survey_is_not_sent_and_nothing_else_is_sent_in_its_place():
    config = with_overrides(BASE, [parse(OverrideKind.SURVEY_ENABLED, "nps-default", "false")])
    assert choose_survey(config, "hotline", None) is None
    assert choose_survey(config, "store", None) == "csat-default"
    enabled_again = with_overrides(config, [parse(OverrideKind.SURVEY_ENABLED, "nps-default", "true")])
    assert choose_survey(enabled_again, "hotline", None) == "nps-default"


def test_an_outlet_target_of_its_own_wins_over_the_default_one():
    config = with_overrides(BASE, [parse(OverrideKind.OUTLET_MONTHLY_TARGET, "S001", "5"),
                                   parse(OverrideKind.OUTLET_MONTHLY_TARGET, "S002", "0")])
    ended = datetime(2026, 11, 20, 10, 0, tzinfo=SH)

    def verdict(outlet, answers):
        facts = Facts(key="crm:1", channel="store", business_type=None, ended_at=ended, is_mobile=True,
                      outlet=outlet, outlet_answers_this_month=answers)
        return decide(config, facts, now=ended).decision

    assert verdict("S001", 5) is Decision.TARGET_MET
    assert verdict("S001", 4) is Decision.SURVEYED
    assert verdict("S002", 10_000) is Decision.SURVEYED  # 0: no target for this outlet
    assert verdict("S101", 100) is Decision.TARGET_MET  # the default


# -- stored, audited, and read by the next evaluate run -----------------------------------------


@pytest.fixture
def admin(users):
    return users["admin"]


def ingest(db, clock, external_id, *, outlet="HL1", business_type=None):
    # A number of its own each, so fatigue never decides instead of the rule under test.
    msisdn = f"+86138{zlib.crc32(external_id.encode()) % 10**8:08d}"
    item = {"source": "crm", "external_id": external_id, "msisdn": msisdn, "outlet": outlet,
            "ended_at": (clock.now() - timedelta(minutes=10)).isoformat()}
    if business_type:
        item["business_type"] = business_type
    assert record_interactions(db, [item], now=clock.now(), tz=SH).created == 1
    db.commit()


def evaluate(db, clock, config=PolicyConfig(tz=SH)):
    counts = evaluate_pending(db, now=clock.now(), config=config, surveys=load_surveys())
    db.commit()
    return counts


def test_a_change_is_stored_with_an_audit_entry_and_a_removal_brings_the_setting_back(db, clock, admin):
    surveys = load_surveys()
    changed = apply_changes(db, [Change(OverrideKind.SAMPLING_BY_CHANNEL, "hotline", "0.2"),
                                 Change(OverrideKind.SURVEY_BY_BUSINESS, "complaint", "nps-default")],
                            surveys=surveys, actor=admin, now=clock.now())
    assert changed == 2
    assert live_config(db, BASE, surveys=surveys).sampling_by_channel == {"web": 0.5, "hotline": 0.2}
    # The same values again change nothing and log nothing.
    assert apply_changes(db, [Change(OverrideKind.SAMPLING_BY_CHANNEL, "hotline", "0.20")],
                         surveys=surveys, actor=admin, now=clock.now()) == 0
    clock.advance(minutes=1)
    assert apply_changes(db, [Change(OverrideKind.SAMPLING_BY_CHANNEL, "hotline", None)],
                         surveys=surveys, actor=admin, now=clock.now()) == 1
    assert live_config(db, BASE, surveys=surveys).sampling_by_channel == {"web": 0.5}
    log = [(e.username, e.action, e.target, e.before, e.after)
           for e in db.scalars(select(AuditEntry).order_by(AuditEntry.id))]
    assert log == [
        ("admin", "policy.set", "sampling_by_channel:hotline", None, {"value": "0.2"}),
        ("admin", "policy.set", "survey_by_business:complaint", None, {"value": "nps-default"}),
        ("admin", "policy.clear", "sampling_by_channel:hotline", {"value": "0.2"}, None),
    ]


def test_one_bad_change_stores_none_of_them_and_names_every_bad_field(db, clock, admin):
    apply_changes(db, [Change(OverrideKind.SAMPLING_BY_CHANNEL, "web", "0.3")], surveys=SURVEYS, actor=admin,
                  now=clock.now())
    with pytest.raises(InvalidChanges) as caught:
        apply_changes(db, [Change(OverrideKind.SAMPLING_BY_CHANNEL, "web", "0.9"),
                           Change(OverrideKind.SAMPLING_BY_CHANNEL, "hotline", "2"),
                           Change(OverrideKind.SURVEY_BY_BUSINESS, "no_such_type", "csat-default"),
                           Change(OverrideKind.OUTLET_MONTHLY_TARGET, "NOPE", "5")],
                      surveys=SURVEYS, actor=admin, now=clock.now())
    assert [e.field for e in caught.value.errors] == [
        "sampling_by_channel:hotline", "survey_by_business:no_such_type", "outlet_monthly_target:NOPE"]
    assert [(r.key, r.value) for r in db.scalars(select(PolicyOverride))] == [("web", "0.3")]
    # Taking away a rule that is not there is no change, whatever its key (not even a query).
    assert apply_changes(db, [Change(OverrideKind.SURVEY_BY_BUSINESS, "x\x00", None)], surveys=SURVEYS,
                         actor=admin, now=clock.now()) == 0


def test_a_row_that_no_longer_holds_is_skipped_and_its_setting_applies(db, clock, caplog):
    db.add(PolicyOverride(kind=OverrideKind.SURVEY_BY_CHANNEL, key="hotline", value="retired-survey",
                          updated_at=clock.now()))
    db.flush()
    assert live_config(db, BASE, surveys=SURVEYS).survey_by_channel == {"hotline": "nps-default"}
    assert "retired-survey" in caplog.text


def test_the_next_evaluate_run_uses_the_stored_rules_without_a_restart(db, clock, outlets, admin):
    surveys = load_surveys()
    ingest(db, clock, "before")
    assert evaluate(db, clock) == {Decision.SURVEYED: 1}
    apply_changes(db, [Change(OverrideKind.SAMPLING_BY_CHANNEL, "hotline", "0")], surveys=surveys,
                  actor=admin, now=clock.now())
    db.commit()
    ingest(db, clock, "after")
    assert evaluate(db, clock) == {Decision.SAMPLED_OUT: 1}
    assert db.scalar(select(Interaction.decision).where(Interaction.external_id == "after")) == "sampled_out"


def test_a_business_type_assignment_and_an_outlet_target_apply_at_the_next_run(db, clock, outlets, admin):
    apply_changes(db, [Change(OverrideKind.SURVEY_BY_BUSINESS, "broadband", "nps-default"),
                       Change(OverrideKind.OUTLET_MONTHLY_TARGET, "S002", "0"),
                       Change(OverrideKind.SURVEY_ENABLED, "csat-default", "false")],
                  surveys=SURVEYS, actor=admin, now=clock.now())
    db.commit()
    ingest(db, clock, "b1", outlet="S001", business_type="宽带")
    ingest(db, clock, "b2", outlet="S002")
    assert evaluate(db, clock) == {Decision.SURVEYED: 1, Decision.NO_SURVEY: 1}
    assert db.scalar(select(SurveySession.survey)) == "nps-default"


def test_the_overview_says_where_each_value_comes_from(db, clock, outlets, admin):
    apply_changes(db, [Change(OverrideKind.SAMPLING_BY_CHANNEL, "hotline", "0.1"),
                       Change(OverrideKind.OUTLET_MONTHLY_TARGET, "S001", "7")],
                  surveys=SURVEYS, actor=admin, now=clock.now())
    view = overview(db, BASE, surveys=SURVEYS)
    hotline_survey, hotline_sampling = next(pair for pair in view.by_channel if pair[0].key == "hotline")
    assert (hotline_survey.default, hotline_survey.override, hotline_survey.effective) == (
        "nps-default", None, "nps-default")
    assert (hotline_sampling.default, hotline_sampling.override, hotline_sampling.effective) == (1.0, "0.1", 0.1)
    assert [(r.key, r.label, r.effective) for r in view.outlet_targets] == [("S001", "徐汇1号营业厅", 7)]
    assert view.default_target.effective == 100
    assert {r.key for r in view.by_business} >= {"broadband", "complaint"}


def test_the_admin_form_reads_as_changes_inherit_and_blank_taking_the_override_away():
    fields = {"csrf_token": "x", "sampling_by_channel:hotline": " 0.5 ", "sampling_by_channel:web": "",
              "survey_by_channel:store": "__none__", "survey_by_business:complaint": "__inherit__",
              "survey_enabled:csat-default": "true", "survey_enabled:nps-default": "false",
              "outlet_monthly_target:": "30", "bogus:thing": "1"}
    assert changes_from_form(fields) == [
        Change(OverrideKind.SAMPLING_BY_CHANNEL, "hotline", "0.5"),
        Change(OverrideKind.SAMPLING_BY_CHANNEL, "web", None),
        Change(OverrideKind.SURVEY_BY_CHANNEL, "store", ""),
        Change(OverrideKind.SURVEY_BY_BUSINESS, "complaint", None),
        Change(OverrideKind.SURVEY_ENABLED, "csat-default", None),  # enabled is the default: no row
        Change(OverrideKind.SURVEY_ENABLED, "nps-default", "false"),
        Change(OverrideKind.OUTLET_MONTHLY_TARGET, "", "30"),
    ]
