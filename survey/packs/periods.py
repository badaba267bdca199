"""The packs' periods on the local calendar: a day, a dekad (旬: days 1-10, 11-20, 21 to the month's
end) and a month; which of them have ended by a given local day. Pure: no database, no clock."""
from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum


class PackKind(StrEnum):
    DAILY = "daily"  # the alert digest of one day
    DEKAD = "dekad"  # 旬报
    MONTHLY = "monthly"


KIND_LABELS = {PackKind.DAILY: "每日预警摘要", PackKind.DEKAD: "旬报", PackKind.MONTHLY: "月报"}


@dataclass(frozen=True, order=True)
class Period:
    """Local days start..end, both included."""

    kind: PackKind
    start: date
    end: date

    @property
    def label(self) -> str:
        """As the operators name it: 2026-11-20, 2026-11 上旬/中旬/下旬, 2026-11."""
        if self.kind is PackKind.DAILY:
            return self.start.isoformat()
        month = f"{self.start.year}-{self.start.month:02d}"
        if self.kind is PackKind.MONTHLY:
            return month
        return f"{month} {'上中下'[(self.start.day - 1) // 10]}旬"


def period_containing(kind: PackKind, day: date) -> Period:
    """The period of `kind` that `day` falls in."""
    if kind is PackKind.DAILY:
        return Period(kind, day, day)
    last = calendar.monthrange(day.year, day.month)[1]
    if kind is PackKind.MONTHLY:
        return Period(kind, day.replace(day=1), day.replace(day=last))
    first = min((day.day - 1) // 10, 2) * 10 + 1  # the 31st belongs to the third dekad
    end = first + 9 if first < 21 else last
    return Period(kind, day.replace(day=first), day.replace(day=end))


def ended_periods(kind: PackKind, today: date, *, count: int) -> list[Period]:
    """The last `count` periods of `kind` that ended before the local day `today` began, oldest first
    (a worker that was down catches up on the ones it missed)."""
    out: list[Period] = []
    day = period_containing(kind, today).start - timedelta(days=1)
    while len(out) < count:
        period = period_containing(kind, day)
        out.append(period)
        day = period.start - timedelta(days=1)
    return out[::-1]
