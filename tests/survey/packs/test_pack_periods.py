"""The packs' periods: days, dekads (旬: 1-10, 11-20, 21 to the month's end) and months, and which
have ended by a local day."""
from __future__ import annotations

from datetime import date

import pytest

from survey.packs.periods import PackKind, Period, ended_periods, period_containing


@pytest.mark.parametrize("day, start, end, label", [
    (date(2026, 11, 1), date(2026, 11, 1), date(2026, 11, 10), "2026-11 上旬"),
    (date(2026, 11, 10), date(2026, 11, 1), date(2026, 11, 10), "2026-11 上旬"),
    (date(2026, 11, 11), date(2026, 11, 11), date(2026, 11, 20), "2026-11 中旬"),
    (date(2026, 11, 30), date(2026, 11, 21), date(2026, 11, 30), "2026-11 下旬"),
    (date(2026, 12, 31), date(2026, 12, 21), date(2026, 12, 31), "2026-12 下旬"),  # 11 days
    (date(2028, 2, 29), date(2028, 2, 21), date(2028, 2, 29), "2028-02 下旬"),  # a leap February: 9 days
])
def test_dekads(day, start, end, label):
    period = period_containing(PackKind.DEKAD, day)
    assert (period.start, period.end, period.label) == (start, end, label)


def test_months_and_days():
    assert period_containing(PackKind.MONTHLY, date(2026, 2, 14)) == Period(PackKind.MONTHLY, date(2026, 2, 1),
                                                                             date(2026, 2, 28))
    assert period_containing(PackKind.MONTHLY, date(2026, 2, 14)).label == "2026-02"
    assert period_containing(PackKind.DAILY, date(2026, 2, 14)).label == "2026-02-14"


def test_only_ended_periods_oldest_first():
    # On 21 November the second dekad (11-20) has just ended; the third has not.
    today = date(2026, 11, 21)
    assert [p.label for p in ended_periods(PackKind.DEKAD, today, count=3)] == [
        "2026-10 下旬", "2026-11 上旬", "2026-11 中旬"]
    assert [p.label for p in ended_periods(PackKind.MONTHLY, today, count=2)] == ["2026-09", "2026-10"]
    assert [p.label for p in ended_periods(PackKind.DAILY, today, count=2)] == ["2026-11-19", "2026-11-20"]
    # On the 20th itself the second dekad is still running.
    assert ended_periods(PackKind.DEKAD, date(2026, 11, 20), count=1)[0].label == "2026-11 上旬"
    # Across a year: on 1 January, December has ended.
    assert ended_periods(PackKind.MONTHLY, date(2027, 1, 1), count=1)[0].label == "2026-12"
