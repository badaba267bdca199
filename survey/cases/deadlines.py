"""Deadlines by customer segment (tier/brand), in the operator's zone, optionally in working hours.

VIP 8 h, 全球通 24 h, 动感地带/神州行 48 h to answer the customer; a hand-over must move within 3 h
(VIP) or 6 h; the owner is warned before the deadline (at 20 h of 24). All of it is data
(survey/cases/data/deadlines.yaml). Times are aware datetimes; no I/O here beyond reading that file.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone, tzinfo
from pathlib import Path
from types import MappingProxyType
from typing import Any, Mapping

import yaml

from survey.cases.rules import DATA

COUNT_MODES = ("calendar", "working")


class DeadlinesError(ValueError):
    """The deadline file is invalid; the message names the file and the field."""


@dataclass(frozen=True)
class Segment:
    """A kind of customer and the time limits that apply to their cases."""

    key: str
    label: str
    reply: timedelta
    warn: timedelta
    handover: timedelta
    step: timedelta
    when: Mapping[str, frozenset[str]] = field(default_factory=dict)

    def matches(self, attributes: Mapping[str, Any]) -> bool:
        """Whether any listed attribute of the customer has one of its values."""
        return any(_text(attributes.get(name)) in values for name, values in self.when.items())


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value).strip()


@dataclass(frozen=True)
class WorkingHours:
    """The operator's working time: [start, end) on the given ISO weekdays, holidays excepted."""

    start: time
    end: time
    days: frozenset[int] = frozenset(range(1, 8))
    holidays: frozenset[date] = frozenset()
    count_working_time: bool = False  # deadlines count working time only (else calendar time)

    def _works(self, day: date) -> bool:
        return day.isoweekday() in self.days and day not in self.holidays

    def next_moment(self, when: datetime, tz: tzinfo) -> datetime:
        """when itself if it falls in working time, else the start of the next working period (UTC)."""
        local = when.astimezone(tz)
        day = local.date()
        if self._works(day) and self.start <= local.time() < self.end:
            return when.astimezone(timezone.utc)
        if local.time() >= self.start:
            day += timedelta(days=1)
        for _ in range(400):
            if self._works(day):
                return datetime.combine(day, self.start, tzinfo=tz).astimezone(timezone.utc)
            day += timedelta(days=1)
        raise DeadlinesError("working hours: no working day within 400 days")

    def add(self, start: datetime, duration: timedelta, tz: tzinfo) -> datetime:
        """start plus duration of working time (UTC)."""
        moment, left = self.next_moment(start, tz), duration
        while True:
            local = moment.astimezone(tz)
            closing = datetime.combine(local.date(), self.end, tzinfo=tz).astimezone(timezone.utc)
            if left <= closing - moment:
                return moment + left
            left -= closing - moment
            moment = self.next_moment(closing, tz)


@dataclass(frozen=True)
class DeadlinePolicy:
    segments: tuple[Segment, ...]
    default: Segment
    escalation: tuple[str, ...] = ("city", "region")
    working_hours: WorkingHours | None = None

    def segment_of(self, attributes: Mapping[str, Any] | None) -> Segment:
        """The first segment the customer's attributes match, else the default."""
        attributes = attributes or {}
        return next((s for s in self.segments if s.matches(attributes)), self.default)

    def segment(self, key: str) -> Segment:
        """The segment with this key (the default for an unknown one: a segment removed from the data)."""
        return next((s for s in self.segments if s.key == key), self.default)

    def elapse(self, start: datetime, duration: timedelta, tz: tzinfo) -> datetime:
        """start + duration, counting working time only when so configured."""
        hours = self.working_hours
        if hours is not None and hours.count_working_time:
            return hours.add(start, duration, tz)
        return start + duration

    def notice(self, when: datetime, tz: tzinfo) -> datetime:
        """When a warning or an escalation due at `when` is given: the next working moment, if set."""
        return when if self.working_hours is None else self.working_hours.next_moment(when, tz)

    def timing(self, segment: Segment, start: datetime, tz: tzinfo) -> "Timing":
        """The deadline of a case opened (or reopened) at start, and when its owner is warned."""
        deadline = self.elapse(start, segment.reply, tz)
        return Timing(deadline_at=deadline, warn_at=self.notice(self.elapse(start, segment.warn, tz), tz))

    def handover_due(self, segment: Segment, at: datetime, tz: tzinfo) -> datetime:
        """When a case handed over at `at` must have moved."""
        return self.elapse(at, segment.handover, tz)

    def escalation_at(self, segment: Segment, deadline: datetime, level: int, tz: tzinfo) -> datetime:
        """When an overdue case reaches escalation level (1: the first after the owner): the deadline,
        then a step after the level before was told (so working hours never bunch two levels up)."""
        moment = self.notice(deadline, tz)
        for _ in range(level - 1):
            moment = self.notice(self.elapse(moment, segment.step, tz), tz)
        return moment


@dataclass(frozen=True)
class Timing:
    deadline_at: datetime
    warn_at: datetime


def load_deadlines(path: Path = DATA / "deadlines.yaml") -> DeadlinePolicy:
    """The deadline policy of a YAML file, checked field by field."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise DeadlinesError(f"{path}: cannot read YAML: {exc}") from exc
    return deadlines_from_data(data, source=str(path))


def deadlines_from_data(data: Any, *, source: str = "<data>") -> DeadlinePolicy:
    """A deadline policy from already-parsed data; errors name source and the field."""
    def fail(where: str, problem: str) -> DeadlinesError:
        return DeadlinesError(f"{source}: {where}: {problem}")

    if not isinstance(data, dict):
        raise fail("deadlines", "expected a mapping")
    raw_segments = data.get("segments", [])
    if not isinstance(raw_segments, list):
        raise fail("segments", "expected a list")
    segments = tuple(_segment(raw, f"segments[{i}]", fail, needs_when=True) for i, raw in enumerate(raw_segments))
    default = _segment(data.get("default"), "default", fail, needs_when=False)
    keys = [s.key for s in segments] + [default.key]
    if len(set(keys)) != len(keys):
        raise fail("segments", f"duplicate segment keys in {keys}")
    escalation = data.get("escalation", ["city", "region"])
    if not isinstance(escalation, list) or not escalation or not all(e in ("city", "region") for e in escalation):
        raise fail("escalation", "expected a non-empty list of levels: city, region")
    return DeadlinePolicy(segments, default, tuple(escalation), _working_hours(data.get("working_hours"), fail))


def _hours(raw: dict, name: str, where: str, fail) -> timedelta:
    value = raw.get(name)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
        raise fail(f"{where}.{name}", f"expected a positive number of hours, got {value!r}")
    return timedelta(hours=value)


def _segment(raw: Any, where: str, fail, *, needs_when: bool) -> Segment:
    if not isinstance(raw, dict):
        raise fail(where, "expected a mapping")
    key = raw.get("key")
    if not isinstance(key, str) or not key.strip():
        raise fail(f"{where}.key", "expected a non-empty string")
    when = raw.get("when", {})
    if not isinstance(when, dict) or (needs_when and not when):
        raise fail(f"{where}.when", "expected a mapping of attribute name to a list of values")
    for name, values in when.items():
        if not isinstance(values, list):
            raise fail(f"{where}.when.{name}", "expected a list of values")
    reply, warn = _hours(raw, "reply_hours", where, fail), _hours(raw, "warn_hours", where, fail)
    if warn >= reply:
        raise fail(f"{where}.warn_hours", "the warning must come before the deadline")
    handover = _hours(raw, "handover_hours", where, fail)
    step = _hours(raw, "step_hours", where, fail) if "step_hours" in raw else handover
    return Segment(key, str(raw.get("label") or key), reply, warn, handover, step,
                   MappingProxyType({str(n): frozenset(_text(v) for v in vs) for n, vs in when.items()}))


def _working_hours(raw: Any, fail) -> WorkingHours | None:
    if raw is None or raw is False:
        return None
    if not isinstance(raw, dict):
        raise fail("working_hours", "expected a mapping or null")
    start, end = (_clock(raw.get(name), f"working_hours.{name}", fail) for name in ("start", "end"))
    if start >= end:
        raise fail("working_hours.end", "must be after start (working hours do not run past midnight)")
    days = raw.get("days", list(range(1, 8)))
    if not isinstance(days, list) or not days or not all(isinstance(d, int) and 1 <= d <= 7 for d in days):
        raise fail("working_hours.days", "expected ISO weekdays 1 (Monday) … 7 (Sunday)")
    holidays = raw.get("holidays", [])
    if not isinstance(holidays, list) or not all(isinstance(d, date) for d in holidays):
        raise fail("working_hours.holidays", "expected a list of dates (YYYY-MM-DD)")
    count = raw.get("count", "calendar")
    if count not in COUNT_MODES:
        raise fail("working_hours.count", f"expected one of {COUNT_MODES}")
    return WorkingHours(start, end, frozenset(days), frozenset(holidays), count == "working")


def _clock(value: Any, where: str, fail) -> time:
    try:
        return time.fromisoformat(str(value))
    except ValueError:
        raise fail(where, f"expected HH:MM, got {value!r}") from None
