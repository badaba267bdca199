"""Contact policy and quiet hours, with explicit times (no clock needed: every decision takes now)."""
from __future__ import annotations

from datetime import datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from survey.policy import Decision, Facts, PolicyConfig, choose_survey, decide, sample_point
from survey.quiet_hours import is_quiet, next_allowed

SH = ZoneInfo("Asia/Shanghai")
CONFIG = PolicyConfig(tz=SH, survey_by_channel={"hotline": "nps-default"},
                      survey_by_business={"complaint": "csat-default"},
                      delay_by_channel={"web": timedelta(minutes=30)})


def local(*args) -> datetime:
    return datetime(*args, tzinfo=SH)


def facts(ended_at: datetime, **kw) -> Facts:
    return Facts(**{"key": "crm:1", "channel": "store", "business_type": "payment", "ended_at": ended_at,
                    "is_mobile": True, **kw})


def test_a_friday_2230_hotline_call_is_surveyed_at_0800_saturday():
    call = local(2026, 11, 20, 22, 30)
    verdict = decide(CONFIG, facts(call, channel="hotline"), now=call + timedelta(minutes=1))
    assert verdict.decision is Decision.SURVEYED
    assert verdict.survey == "nps-default"
    assert verdict.send_at == local(2026, 11, 21, 8, 0)


def test_the_delay_after_the_interaction_is_per_channel():
    ended = local(2026, 11, 20, 10, 0)
    assert decide(CONFIG, facts(ended), now=ended).send_at == ended + timedelta(minutes=5)
    assert decide(CONFIG, facts(ended, channel="web"), now=ended).send_at == ended + timedelta(minutes=30)


def test_a_second_interaction_three_days_later_is_skipped_as_fatigue():
    first = local(2026, 11, 20, 10, 0)
    second = first + timedelta(days=3)
    verdict = decide(CONFIG, facts(second, last_survey_at=first + timedelta(minutes=5)), now=second)
    assert verdict.decision is Decision.FATIGUE
    later = first + timedelta(days=31)
    assert decide(CONFIG, facts(later, last_survey_at=first), now=later).surveyed


def test_with_fatigue_off_an_open_session_still_blocks_a_second_one():
    config = PolicyConfig(tz=SH, fatigue=timedelta(0))
    ended = local(2026, 11, 20, 10, 0)
    verdict = decide(config, facts(ended, last_survey_at=ended, has_open_session=True), now=ended)
    assert verdict.decision is Decision.OPEN_SESSION
    assert decide(config, facts(ended, last_survey_at=ended), now=ended).surveyed


@pytest.mark.parametrize("kw, decision", [
    ({"is_mobile": False}, Decision.NOT_MOBILE),
    ({"opted_out": True}, Decision.OPTED_OUT),
    ({"do_not_survey": True}, Decision.DO_NOT_SURVEY),
])
def test_numbers_that_may_not_be_texted_are_skipped_with_their_reason(kw, decision):
    ended = local(2026, 11, 20, 10, 0)
    assert decide(CONFIG, facts(ended, **kw), now=ended).decision is decision


def test_an_interaction_that_could_first_be_sent_after_the_limit_is_stale():
    ended = local(2026, 11, 19, 9, 0)
    assert decide(CONFIG, facts(ended), now=local(2026, 11, 20, 8, 0)).surveyed
    assert decide(CONFIG, facts(ended), now=local(2026, 11, 20, 9, 10)).decision is Decision.STALE
    # Quiet hours push the first send of a 20:58 interaction to 08:00, 11 hours later: not stale.
    evening = local(2026, 11, 20, 20, 58)
    assert decide(CONFIG, facts(evening), now=evening).send_at == local(2026, 11, 21, 8, 0)


def test_sampling_is_deterministic_and_close_to_the_rate():
    config = PolicyConfig(tz=SH, sampling_by_channel={"hotline": 0.2})
    ended = local(2026, 11, 20, 10, 0)
    verdicts = [decide(config, facts(ended, channel="hotline", key=f"crm:{i}"), now=ended) for i in range(5000)]
    again = [decide(config, facts(ended, channel="hotline", key=f"crm:{i}"), now=ended) for i in range(5000)]
    assert verdicts == again
    share = sum(v.surveyed for v in verdicts) / len(verdicts)
    assert 0.18 < share < 0.22
    assert {v.decision for v in verdicts} == {Decision.SURVEYED, Decision.SAMPLED_OUT}
    assert 0 <= sample_point("x") < 1


def test_busy_outlets_stop_being_surveyed_once_they_have_enough_answers():
    config = PolicyConfig(tz=SH, outlet_monthly_target=100)
    ended = local(2026, 11, 20, 10, 0)
    assert decide(config, facts(ended, outlet_answers_this_month=99), now=ended).surveyed
    assert decide(config, facts(ended, outlet_answers_this_month=100), now=ended).decision is Decision.TARGET_MET


def test_business_type_rules_win_over_channel_rules():
    assert choose_survey(CONFIG, "hotline", "complaint") == "csat-default"
    assert choose_survey(CONFIG, "hotline", "payment") == "nps-default"
    assert choose_survey(CONFIG, "store", None) == "csat-default"


@pytest.mark.parametrize("when, expected", [
    (local(2026, 11, 20, 20, 59), local(2026, 11, 20, 20, 59)),
    (local(2026, 11, 20, 21, 0), local(2026, 11, 21, 8, 0)),
    (local(2026, 11, 21, 3, 0), local(2026, 11, 21, 8, 0)),
    (local(2026, 11, 21, 8, 0), local(2026, 11, 21, 8, 0)),
])
def test_next_allowed_moves_quiet_times_to_the_end_of_the_quiet_period(when, expected):
    assert next_allowed(when, tz=SH, start=time(21), end=time(8)) == expected.astimezone(timezone.utc)


def test_quiet_periods_that_do_not_wrap_and_empty_ones():
    assert is_quiet(time(13, 30), time(12), time(14))
    assert not is_quiet(time(14), time(12), time(14))
    assert not is_quiet(time(3), time(0), time(0))
