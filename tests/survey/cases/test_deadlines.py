"""Deadlines by segment in the operator's zone, with working hours, worked out by hand."""
from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from survey.cases.deadlines import DeadlinesError, WorkingHours, deadlines_from_data, load_deadlines

SH = ZoneInfo("Asia/Shanghai")
POLICY = load_deadlines()


def local(*args) -> datetime:
    return datetime(*args, tzinfo=SH)


@pytest.mark.parametrize("attributes, segment", [
    ({"tier": "钻石", "brand": "全球通"}, "vip"),  # VIP wins over the brand
    ({"tier": "金卡"}, "vip"),
    ({"vip": True}, "vip"),
    ({"tier": "普通", "brand": "全球通"}, "gotone"),
    ({"brand": "动感地带"}, "mzone"),
    ({"brand": "神州行"}, "easyown"),
    ({"brand": "其他"}, "standard"),
    ({}, "standard"),
    (None, "standard"),
])
def test_the_segment_comes_from_tier_and_brand(attributes, segment):
    assert POLICY.segment_of(attributes).key == segment


def test_vip_at_2000_is_due_at_0400_and_warned_at_0200():
    vip = POLICY.segment("vip")
    timing = POLICY.timing(vip, local(2026, 11, 20, 20, 0), SH)
    assert timing.deadline_at == local(2026, 11, 21, 4, 0)
    assert timing.warn_at == local(2026, 11, 21, 2, 0)
    assert POLICY.escalation_at(vip, timing.deadline_at, 1, SH) == local(2026, 11, 21, 4, 0)
    assert POLICY.escalation_at(vip, timing.deadline_at, 2, SH) == local(2026, 11, 21, 7, 0)
    assert POLICY.handover_due(vip, local(2026, 11, 20, 21, 0), SH) == local(2026, 11, 21, 0, 0)


def test_gotone_warns_at_20_hours_and_is_due_at_24():
    timing = POLICY.timing(POLICY.segment("gotone"), local(2026, 11, 20, 10, 30), SH)
    assert (timing.warn_at, timing.deadline_at) == (local(2026, 11, 21, 6, 30), local(2026, 11, 21, 10, 30))
    assert POLICY.handover_due(POLICY.segment("gotone"), local(2026, 11, 20, 10, 30), SH) == local(2026, 11, 20, 16, 30)
    mzone = POLICY.timing(POLICY.segment("mzone"), local(2026, 11, 20, 10, 30), SH)
    assert mzone.deadline_at == local(2026, 11, 22, 10, 30)


WORKDAYS = WorkingHours(time(9), time(18), frozenset(range(1, 6)), frozenset({date(2026, 11, 23)}))


@pytest.mark.parametrize("when, expected", [
    (local(2026, 11, 20, 10, 0), local(2026, 11, 20, 10, 0)),  # Friday, inside
    (local(2026, 11, 20, 8, 59), local(2026, 11, 20, 9, 0)),
    (local(2026, 11, 20, 18, 0), local(2026, 11, 24, 9, 0)),  # Friday evening: Monday is a holiday
    (local(2026, 11, 21, 4, 0), local(2026, 11, 24, 9, 0)),  # Saturday night
    (local(2026, 11, 24, 17, 59), local(2026, 11, 24, 17, 59)),
])
def test_next_working_moment(when, expected):
    assert WORKDAYS.next_moment(when, SH) == expected


@pytest.mark.parametrize("start, hours, expected", [
    (local(2026, 11, 19, 10, 0), 8, local(2026, 11, 19, 18, 0)),  # Thursday: ends exactly at closing
    (local(2026, 11, 19, 10, 0), 9, local(2026, 11, 20, 10, 0)),  # one hour spills into Friday
    (local(2026, 11, 20, 20, 0), 8, local(2026, 11, 24, 17, 0)),  # Friday evening → Tuesday (Monday off)
    (local(2026, 11, 20, 17, 0), 24, local(2026, 11, 26, 14, 0)),  # 1 h Fri, 9 h Tue, 9 h Wed, 5 h Thu
])
def test_working_time_arithmetic(start, hours, expected):
    assert WORKDAYS.add(start, timedelta(hours=hours), SH) == expected


def data(**working) -> dict:
    return {"segments": [{"key": "vip", "when": {"tier": ["钻石"]}, "reply_hours": 8, "warn_hours": 6,
                          "handover_hours": 3}],
            "default": {"key": "standard", "reply_hours": 48, "warn_hours": 40, "handover_hours": 6},
            "working_hours": working or None}


def test_with_working_hours_alerts_wait_for_the_morning_and_deadlines_may_count_working_time():
    notices = deadlines_from_data(data(start="09:00", end="18:00"))
    vip = notices.segment("vip")
    timing = notices.timing(vip, local(2026, 11, 20, 20, 0), SH)
    assert timing.deadline_at == local(2026, 11, 21, 4, 0)  # calendar time still
    assert timing.warn_at == local(2026, 11, 21, 9, 0)
    assert notices.escalation_at(vip, timing.deadline_at, 1, SH) == local(2026, 11, 21, 9, 0)
    counted = deadlines_from_data(data(start="09:00", end="18:00", count="working"))
    timing = counted.timing(counted.segment("vip"), local(2026, 11, 20, 20, 0), SH)
    assert timing.deadline_at == local(2026, 11, 21, 17, 0)  # 8 working hours from 09:00
    assert timing.warn_at == local(2026, 11, 21, 15, 0)


@pytest.mark.parametrize("change, message", [
    ({"working_hours": {"start": "18:00", "end": "09:00"}}, "working_hours.end: must be after start"),
    ({"working_hours": {"start": "9h", "end": "18:00"}}, "working_hours.start: expected HH:MM"),
    ({"working_hours": {"start": "09:00", "end": "18:00", "days": [0]}}, "working_hours.days"),
    ({"working_hours": {"start": "09:00", "end": "18:00", "count": "both"}}, "working_hours.count"),
    ({"default": {"key": "standard", "reply_hours": 8, "warn_hours": 8, "handover_hours": 3}},
     "default.warn_hours: the warning must come before the deadline"),
    ({"default": {"key": "standard", "reply_hours": "8", "warn_hours": 6, "handover_hours": 3}},
     "default.reply_hours: expected a positive number of hours"),
    ({"escalation": ["city", "province"]}, "escalation: expected a non-empty list"),
])
def test_a_bad_deadline_file_names_the_field(change, message):
    with pytest.raises(DeadlinesError) as caught:
        deadlines_from_data({**data(), **change}, source="deadlines.yaml")
    assert f"deadlines.yaml: {message}" in str(caught.value)
