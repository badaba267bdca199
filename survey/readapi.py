"""What the read API answers: results, short boards and trends over the answers a caller may see,
with the pages' filters. Plain arguments in, frozen results out; no web framework.

Scope is the outlet codes of a channel lead (None: every outlet) and goes into the SQL of every
query; an outlet named in a filter must be inside it, or the request fails as if the outlet did
not exist, so a guessed code tells nothing.
"""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone, tzinfo

import numpy as np
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from analysis.frame import AnswerFrame
from analysis.metrics import GroupMetrics, NpsMetrics, group_metrics, nps_metrics
from analysis.queries import DIMENSIONS, interaction_counts, load_answer_frame, sent_counts
from analysis.shortboard import ShortBoardReport, shortboard_report
from analysis.trends import TrendAlert, TrendSeries, deterioration_alerts, trend_series
from channels.models import BusinessType, City, Outlet, Region

ATTRIBUTES = ("tier", "brand")  # customer attributes the pages and the API filter and group by
GROUPINGS = DIMENSIONS + ATTRIBUTES
PERIODS = {"7d": 7, "30d": 30, "90d": 90, "180d": 180, "365d": 365}
MAX_DAYS = 3 * 366  # a longer window is a typo, and would scan everything
CSAT = ("csat-default", "satisfaction")
NPS = ("nps-default", "recommend")


class NotFound(LookupError):
    """An outlet that does not exist or lies outside the caller's scope (the two look the same)."""


class BadFilter(ValueError):
    """A filter value that names nothing (an unknown business type); the message names the field."""


@dataclass(frozen=True)
class Filters:
    """The pages' filters: a window of answer times (UTC, until exclusive) and value lists (empty: all);
    business types in both spellings (code and name)."""

    since: datetime | None = None
    until: datetime | None = None
    channel: tuple[str, ...] = ()
    business_type: tuple[str, ...] = ()
    tier: tuple[str, ...] = ()
    brand: tuple[str, ...] = ()
    outlet: tuple[str, ...] = ()

    def on_columns(self) -> dict[str, tuple[str, ...]]:
        """The value filters applied to the answers' columns."""
        return {name: values for name, values in (("channel", self.channel), ("business_type", self.business_type),
                                                  ("tier", self.tier), ("brand", self.brand)) if values}


def window(*, period: str | None, since: date | None, until: date | None, today: date, tz: tzinfo,
           default: str = "30d") -> tuple[datetime, datetime]:
    """The UTC window of local days, as the pages read it: `since`..`until` (both included; one
    alone runs to today, or back the default period's length), else the last 7/30/90/180/365 days
    to today or a local month 'YYYY-MM', else the default period. BadFilter for an empty or
    over-long window."""
    if period in PERIODS or period is None:
        start, end = today - timedelta(days=PERIODS[period or default] - 1), today
    else:
        year, month = (int(part) for part in period.split("-"))
        start, end = date(year, month, 1), date(year + month // 12, month % 12 + 1, 1) - timedelta(days=1)
    if since is not None or until is not None:
        end = until if until is not None else max(today, since)
        start = since if since is not None else end - timedelta(days=PERIODS[default] - 1)
    if start > end:
        raise BadFilter(f"since: {start} is after until {end}")
    if (end - start).days + 1 > MAX_DAYS:
        raise BadFilter(f"since: the window is longer than {MAX_DAYS} days")
    utc = timezone.utc
    return (datetime.combine(start, time(0), tz).astimezone(utc),
            datetime.combine(end + timedelta(days=1), time(0), tz).astimezone(utc))


def business_type_spellings(db: Session, values: Sequence[str]) -> tuple[str, ...]:
    """Business types named by code or Chinese name, as both spellings (answers carry the name the
    engine tagged them with, older rows the code); an unknown one is a BadFilter."""
    if not values:
        return ()
    rows = db.execute(select(BusinessType.code, BusinessType.name)
                      .where(or_(BusinessType.code.in_(values), BusinessType.name.in_(values)))).all()
    known = {v for row in rows for v in row}
    unknown = [v for v in values if v not in known]
    if unknown:
        raise BadFilter(f"business_type: unknown business type {', '.join(unknown)}")
    return tuple(sorted(known))


def effective_scope(db: Session, scope: Sequence[str] | None, outlets: Sequence[str]) -> tuple[str, ...] | None:
    """The outlet codes a query may read: the caller's scope narrowed to the outlets asked for.

    An outlet asked for that is not in the scope, or does not exist, raises NotFound naming it.
    """
    if not outlets:
        return None if scope is None else tuple(scope)
    allowed = set(db.scalars(select(Outlet.code).where(Outlet.code.in_(list(outlets)))))
    if scope is not None:
        allowed &= set(scope)
    missing = [code for code in outlets if code not in allowed]
    if missing:
        raise NotFound(f"outlet: no outlet {', '.join(missing)}")
    return tuple(dict.fromkeys(outlets))


def answer_frame(db: Session, filters: Filters, *, scope: Sequence[str] | None, by_day: bool = False,
                 survey: tuple[str, str] = CSAT) -> AnswerFrame:
    """The scored answers in `scope` (already narrowed to filters.outlet) and window, with the value
    filters applied."""
    frame = load_answer_frame(db, survey=survey[0], question=survey[1], scope=scope, since=filters.since,
                              until=filters.until, attributes=ATTRIBUTES, by_day=by_day)
    keep = np.ones(len(frame), bool)
    for name, values in filters.on_columns().items():
        keep &= np.isin(frame.columns[name].values(), np.asarray(values, dtype=object))
    return frame if keep.all() else frame.take(keep)


@dataclass(frozen=True)
class GroupResult:
    """One group's CSAT (with its interval), counts, and NPS where the NPS survey ran."""

    key: Mapping[str, str]
    csat: GroupMetrics | None
    nps: NpsMetrics | None
    interactions: int | None
    dissatisfied_per_10k: float | None

    @property
    def label(self) -> str:
        """Printable name of the group."""
        return " / ".join(self.key.values()) if self.key else "all"


@dataclass(frozen=True)
class Results:
    """Results for a grouping and filters: the whole selection first, then each group."""

    by: tuple[str, ...]
    filters: Filters
    total: GroupResult
    groups: tuple[GroupResult, ...] = field(default=())


def _projected(counts: Mapping[tuple[str, ...], int], names: Sequence[str], by: Sequence[str],
               filters: Filters) -> dict[tuple[str, ...], int]:
    """Counts keyed by `names` summed onto `by`, keeping only keys that pass the value filters."""
    wanted = filters.on_columns()
    out: dict[tuple[str, ...], int] = {}
    for key, n in counts.items():
        row = dict(zip(names, key))
        if all(row[name] in values for name, values in wanted.items()):
            projected = tuple(row[b] for b in by)
            out[projected] = out.get(projected, 0) + n
    return out


def _denominators(db: Session, filters: Filters, scope, by: tuple[str, ...]):
    """Surveys sent and interactions per group of `by` (and overall); None when a customer attribute
    is grouped or filtered on, which only answers carry."""
    if any(b in ATTRIBUTES for b in by) or filters.tier or filters.brand:
        return None, None
    filtered = tuple(n for n in ("channel", "business_type") if getattr(filters, n))
    names = tuple(dict.fromkeys(by + filtered)) or ("channel",)
    sent = sent_counts(db, by=names, scope=scope, since=filters.since, until=filters.until)
    daily = interaction_counts(db, by=names, scope=scope, since=filters.since, until=filters.until)
    seen: dict[tuple[str, ...], int] = {}
    for key, n in zip(daily.keys, daily.count):
        seen[key] = seen.get(key, 0) + int(n)
    if "business_type" in names:
        # Interactions are counted by the business type's code, answers carry its name (as the engine
        # tagged them): key both by the name.
        i = names.index("business_type")
        named = dict(db.execute(select(BusinessType.code, BusinessType.name)).all())
        sent, seen = ({k[:i] + (named.get(k[i], k[i]),) + k[i + 1:]: n for k, n in counts.items()}
                      for counts in (sent, seen))
    return _projected(sent, names, by, filters), _projected(seen, names, by, filters)


def _per_10k(metrics: GroupMetrics | None, interactions: int | None) -> float | None:
    if metrics is None or not interactions:
        return None
    dissatisfied = round(metrics.dissatisfied_share * metrics.responses) if metrics.responses else 0
    return 10_000 * dissatisfied / interactions


def results(db: Session, filters: Filters, *, scope: Sequence[str] | None, by: Sequence[str] = ()) -> Results:
    """CSAT, NPS and counts for the whole selection and for each group of `by`."""
    by = tuple(by)
    scope = effective_scope(db, scope, filters.outlet)
    csat = answer_frame(db, filters, scope=scope)
    nps = answer_frame(db, filters, scope=scope, survey=NPS)
    sent, seen = _denominators(db, filters, scope, by)
    total_sent = None if sent is None else {(): sum(sent.values())}
    total_seen = None if seen is None else sum(seen.values())

    def build(key: tuple[str, ...], c: GroupMetrics | None, n: NpsMetrics | None, interactions: int | None):
        return GroupResult(dict(zip(by, key)), c, n, interactions, _per_10k(c, interactions))

    whole_c = group_metrics(csat, [], sent=total_sent)[0] if csat.total else None
    whole_n = nps_metrics(nps, [])[0] if nps.total else None
    total = GroupResult({}, whole_c, whole_n, total_seen, _per_10k(whole_c, total_seen))
    if not by:
        return Results(by, filters, total)
    by_c = {m.key: m for m in group_metrics(csat, by, sent=sent)} if csat.total else {}
    by_n = {m.key: m for m in nps_metrics(nps, by)} if nps.total else {}
    keys = sorted(set(by_c) | set(by_n))
    groups = tuple(build(k, by_c.get(k), by_n.get(k), None if seen is None else seen.get(k, 0)) for k in keys)
    return Results(by, filters, total, groups)


def shortboards(db: Session, filters: Filters, *, scope: Sequence[str] | None, by: Sequence[str] = ("outlet",),
                min_n: int = 30, alpha: float = 0.05) -> ShortBoardReport:
    """The short-board report over the selection (each group against the rest of its scope)."""
    frame = answer_frame(db, filters, scope=effective_scope(db, scope, filters.outlet))
    return shortboard_report(frame, list(by), min_n=min_n, alpha=alpha)


@dataclass(frozen=True)
class Trends:
    """Satisfaction per period and group, and the groups whose recent months fell significantly."""

    by: tuple[str, ...]
    interval: str
    series: tuple[TrendSeries, ...]
    alerts: tuple[TrendAlert, ...]


def trends(db: Session, filters: Filters, *, scope: Sequence[str] | None, by: Sequence[str] = (),
           interval: str = "month", min_n: int = 30) -> Trends:
    """Trend series per group and deterioration alerts (the last 3 months against the 6 before)."""
    frame = answer_frame(db, filters, scope=effective_scope(db, scope, filters.outlet), by_day=True)
    if not frame.total:
        return Trends(tuple(by), interval, (), ())
    series = trend_series(frame, list(by), period=interval)
    alerts = deterioration_alerts(frame, list(by), end=filters.until, min_n=min_n)
    return Trends(tuple(by), interval, tuple(series), tuple(alerts))


@dataclass(frozen=True)
class OutletInfo:
    """An outlet as the API lists it."""

    code: str
    name: str
    channel: str
    kind: str
    region: str
    city: str


def outlets(db: Session, *, scope: Sequence[str] | None, codes: Sequence[str] = ()) -> list[OutletInfo]:
    """The outlets in scope (all of `codes`, which must be in scope, when given), by code."""
    narrowed = effective_scope(db, scope, codes)
    q = (select(Outlet.code, Outlet.name, Outlet.channel, Outlet.kind, Region.name, City.name)
         .join(City, City.id == Outlet.city_id).join(Region, Region.id == City.region_id).order_by(Outlet.code))
    if narrowed is not None:
        q = q.where(Outlet.code.in_(list(narrowed)))
    return [OutletInfo(code, name, str(channel), str(kind), region, city)
            for code, name, channel, kind, region, city in db.execute(q)]


def finite(value: float | None) -> float | None:
    """A number JSON can carry: NaN (no answers) and infinities become None."""
    return None if value is None or (isinstance(value, float) and not math.isfinite(value)) else value

