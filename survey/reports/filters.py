"""The filters every page and download takes, parsed once from the query string into plain data.

Pure: no web framework, no database. A bad value raises BadParameter naming the parameter, which
the web layer answers with 400. Names match the read API's: period, since, until, channel,
business_type, tier, brand, outlet (each value filter may repeat: ?channel=store&channel=hotline).
"""
from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone, tzinfo
from typing import TypeVar

from channels.characters import text_problem
from channels.taxonomy import Channel, parse_channel

PERIODS = {"7d": 7, "30d": 30, "90d": 90, "180d": 180, "365d": 365}
MONTH = re.compile(r"^(\d{4})-(\d{2})$")
EARLIEST = date(2000, 1, 1)  # interactions before this are refused at ingest, so nothing is there
MAX_DAYS = 3 * 366  # a longer window is a typo, and would scan everything
MAX_VALUES = 50  # values per repeated parameter; more is not a filter anyone means
ATTRIBUTES = ("tier", "brand")  # the customer attributes pages filter on (interactions carry any others)
LIMITS = {"business_type": 64, "tier": 64, "brand": 64, "outlet": 32, "region": 64, "city": 64}

T = TypeVar("T")


class BadParameter(ValueError):
    """A query-string value that cannot be used; the message names the parameter."""

    def __init__(self, parameter: str, problem: str) -> None:
        super().__init__(f"{parameter}: {problem}")
        self.parameter = parameter
        self.problem = problem


@dataclass(frozen=True)
class ReportFilter:
    """Local calendar days start..end (both included) and value filters (empty: everything)."""

    start: date
    end: date
    period: str | None = None  # as asked ("30d", "2026-10"); None when dates were given or defaulted
    explicit_dates: bool = False
    channels: tuple[str, ...] = ()
    business_types: tuple[str, ...] = ()  # codes or names, as given; resolved against the database later
    tiers: tuple[str, ...] = ()
    brands: tuple[str, ...] = ()
    outlets: tuple[str, ...] = ()

    @property
    def days(self) -> int:
        """Length of the window in days."""
        return (self.end - self.start).days + 1

    @property
    def previous(self) -> ReportFilter:
        """The same filter over the window of equal length just before this one."""
        end = self.start - timedelta(days=1)
        return ReportFilter(end - timedelta(days=self.days - 1), end, None, True, self.channels,
                            self.business_types, self.tiers, self.brands, self.outlets)

    def bounds(self, tz: tzinfo) -> tuple[datetime, datetime]:
        """The window in UTC: local midnight of start, local midnight after end (exclusive)."""
        since = datetime.combine(self.start, time(0), tz).astimezone(timezone.utc)
        until = datetime.combine(self.end + timedelta(days=1), time(0), tz).astimezone(timezone.utc)
        return since, until

    @property
    def attributes(self) -> tuple[tuple[str, tuple[str, ...]], ...]:
        """The customer-attribute filters as (name, values) pairs."""
        return tuple((name, values) for name, values in (("tier", self.tiers), ("brand", self.brands)) if values)

    def query_args(self) -> dict[str, list[str]]:
        """The filter as query-string values, so links and downloads carry it."""
        out: dict[str, list[str]] = {}
        if self.explicit_dates:
            out["since"], out["until"] = [self.start.isoformat()], [self.end.isoformat()]
        elif self.period:
            out["period"] = [self.period]
        for name, values in (("channel", self.channels), ("business_type", self.business_types),
                             ("tier", self.tiers), ("brand", self.brands), ("outlet", self.outlets)):
            if values:
                out[name] = list(values)
        return out


def _values(args: Mapping[str, Sequence[str]], name: str) -> list[str]:
    # An empty value is a form's "all" option, not a filter.
    values = [v.strip() for v in args.get(name, ()) if v.strip()]
    if len(values) > MAX_VALUES:
        raise BadParameter(name, f"at most {MAX_VALUES} values")
    return list(dict.fromkeys(values))


def _one(args: Mapping[str, Sequence[str]], name: str) -> str | None:
    values = _values(args, name)
    if len(values) > 1:
        raise BadParameter(name, f"one value only, got {len(values)}")
    return values[0] if values else None


def _text(name: str, values: list[str]) -> tuple[str, ...]:
    for value in values:
        if len(value) > LIMITS[name]:
            raise BadParameter(name, f"longer than {LIMITS[name]} characters")
        problem = text_problem(value, free=name in ATTRIBUTES)
        if problem is not None:
            raise BadParameter(name, problem)
    return tuple(values)


def _date(name: str, value: str | None) -> date | None:
    if value is None:
        return None
    try:
        day = date.fromisoformat(value)
    except ValueError:
        raise BadParameter(name, f"not a date (YYYY-MM-DD): {value[:40]!r}") from None
    if day < EARLIEST or day.year > 2100:
        raise BadParameter(name, f"{value} is outside {EARLIEST.year}-2100")
    return day


def _period(value: str, today: date) -> tuple[date, date]:
    if value in PERIODS:
        return today - timedelta(days=PERIODS[value] - 1), today
    match = MONTH.match(value)
    if match:
        year, month = int(match.group(1)), int(match.group(2))
        if 1 <= month <= 12 and EARLIEST.year <= year <= 2100:
            first = date(year, month, 1)
            return first, date(year + month // 12, month % 12 + 1, 1) - timedelta(days=1)
    raise BadParameter("period", f"{value[:40]!r} is not one of {', '.join(PERIODS)} or a month YYYY-MM")


def _channels(values: list[str]) -> tuple[str, ...]:
    out = []
    for value in values:
        channel = parse_channel(value)
        if channel is None:
            raise BadParameter("channel", f"unknown channel {value[:40]!r} (one of {', '.join(c.value for c in Channel)})")
        out.append(channel.value)
    return tuple(dict.fromkeys(out))


def parse_filter(args: Mapping[str, Sequence[str]], *, today: date, default_period: str = "30d") -> ReportFilter:
    """The filter in a query string ({name: [values]}); `today` is the local date the periods end on.

    since/until win over period; with neither, `default_period` ends today.
    """
    period = _one(args, "period")
    since, until = _date("since", _one(args, "since")), _date("until", _one(args, "until"))
    explicit = since is not None or until is not None
    start, end = _period(period or default_period, today)
    if explicit:
        period = None
        if since is not None and until is None:
            until = max(today, since)
        start, end = since or until - timedelta(days=PERIODS[default_period] - 1), until
    if start > end:
        raise BadParameter("since", f"{start} is after until {end}")
    if (end - start).days + 1 > MAX_DAYS:
        raise BadParameter("since", f"the window is longer than {MAX_DAYS} days")
    return ReportFilter(
        start, end, period, explicit,
        channels=_channels(_values(args, "channel")),
        business_types=_text("business_type", _values(args, "business_type")),
        tiers=_text("tier", _values(args, "tier")),
        brands=_text("brand", _values(args, "brand")),
        outlets=_text("outlet", _values(args, "outlet")),
    )


def parse_choice(args: Mapping[str, Sequence[str]], name: str, choices: Mapping[str, T], default: str) -> T:
    """One of a page's fixed options (a grouping, a view); anything else is a BadParameter."""
    value = _one(args, name) or default
    if value not in choices:
        raise BadParameter(name, f"{value[:40]!r} is not one of {', '.join(choices)}")
    return choices[value]


def parse_text(args: Mapping[str, Sequence[str]], name: str) -> str | None:
    """One free value of a page (a region or city name), checked like the filters' values."""
    value = _one(args, name)
    return None if value is None else _text(name, [value])[0]


def parse_page(args: Mapping[str, Sequence[str]], name: str = "page", *, last: int = 10_000) -> int:
    """A 1-based page number of a long list."""
    value = _one(args, name) or "1"
    if not value.isdigit() or not 1 <= int(value) <= last:
        raise BadParameter(name, f"not a page number from 1 to {last}: {value[:20]!r}")
    return int(value)
