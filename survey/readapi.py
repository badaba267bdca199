"""What the read API answers: results, short boards and trends over a selection, the pages' own
(survey.reports: the same filters parsed the same way, the same scope and criteria in the SQL of
every query). Plain arguments in, frozen results out; no web framework.
"""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from analysis.frame import AnswerFrame
from analysis.metrics import GroupMetrics, NpsMetrics, group_metrics, nps_metrics
from analysis.counts import interaction_counts, load_answer_frame, sent_counts
from analysis.queries import DIMENSIONS
from analysis.shortboard import ShortBoardReport, shortboard_report
from analysis.trends import TrendAlerts, TrendSeries, trend_alerts, trend_series
from channels.models import City, Outlet, Region
from survey.reports.filters import ATTRIBUTES
from survey.reports.selection import Selection, visible_codes

GROUPINGS = DIMENSIONS + ATTRIBUTES
CSAT = ("csat-default", "satisfaction")
NPS = ("nps-default", "recommend")
CASE_MIX = ("tier",)  # the customer attribute the short boards' adjusted view weighs, with business type


def answer_frame(db: Session, sel: Selection, *, columns: Sequence[str] | None = None, by_day: bool = False,
                 reasons: bool = True, survey: tuple[str, str] = CSAT) -> AnswerFrame:
    """The scored answers of the selection, with only `columns` (None: every dimension and attribute)."""
    wanted = GROUPINGS if columns is None else tuple(columns)
    return load_answer_frame(db, survey=survey[0], question=survey[1], **sel.window(), by_day=by_day,
                             tz=sel.tz, reasons=reasons, dimensions=[d for d in DIMENSIONS if d in wanted],
                             attributes=[a for a in ATTRIBUTES if a in wanted])


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
    """Results for a grouping over a selection: the whole selection first, then each group."""

    by: tuple[str, ...]
    total: GroupResult
    groups: tuple[GroupResult, ...] = field(default=())


def _denominators(db: Session, sel: Selection, by: tuple[str, ...]):
    """Surveys sent and interactions per group of `by` (keyed () for the whole selection); None
    when grouped by a customer attribute, which is no column of the interactions' outlets."""
    if any(b in ATTRIBUTES for b in by):
        return None, None
    names = by or ("channel",)
    sent = sent_counts(db, by=names, **sel.window())
    daily = interaction_counts(db, by=names, tz=sel.tz, **sel.window())
    seen: dict[tuple[str, ...], int] = {}
    for key, n in zip(daily.keys, daily.count):
        seen[key] = seen.get(key, 0) + int(n)
    if not by:
        return {(): sum(sent.values())}, {(): sum(seen.values())}
    return sent, seen


def _per_10k(metrics: GroupMetrics | None, interactions: int | None) -> float | None:
    if metrics is None or not interactions:
        return None
    dissatisfied = round(metrics.dissatisfied_share * metrics.responses) if metrics.responses else 0
    return 10_000 * dissatisfied / interactions


def results(db: Session, sel: Selection, *, by: Sequence[str] = ()) -> Results:
    """CSAT, NPS and counts for the whole selection and for each group of `by`."""
    by = tuple(by)
    csat = answer_frame(db, sel, columns=by)
    nps = answer_frame(db, sel, columns=by, reasons=False, survey=NPS)
    sent, seen = _denominators(db, sel, by)

    def result(key, c: GroupMetrics | None, n: NpsMetrics | None, interactions: int | None) -> GroupResult:
        return GroupResult(dict(zip(by, key)), c, n, interactions, _per_10k(c, interactions))

    total_seen = None if seen is None else sum(seen.values())
    whole_sent = None if sent is None else {(): sum(sent.values())}
    whole_c = group_metrics(csat, [], sent=whole_sent)[0] if csat.total else None
    total = result((), whole_c, nps_metrics(nps, [])[0] if nps.total else None, total_seen)
    if not by:
        return Results(by, total)
    by_c = {m.key: m for m in group_metrics(csat, by, sent=sent)} if csat.total else {}
    by_n = {m.key: m for m in nps_metrics(nps, by)} if nps.total else {}
    groups = tuple(result(k, by_c.get(k), by_n.get(k), None if seen is None else seen.get(k, 0))
                   for k in sorted(set(by_c) | set(by_n)))
    return Results(by, total, groups)


def shortboards(db: Session, sel: Selection, *, by: Sequence[str] = ("outlet",), min_n: int = 30,
                alpha: float = 0.05) -> ShortBoardReport:
    """The short-board report over the selection (each group against the rest of its scope)."""
    frame = answer_frame(db, sel, columns=DIMENSIONS + tuple(dict.fromkeys(CASE_MIX + tuple(by))))
    return shortboard_report(frame, list(by), min_n=min_n, alpha=alpha)


@dataclass(frozen=True)
class Trends:
    """Satisfaction per period and group, and each group's short and long windows against its
    baseline with the month-to-month swing allowed for (None: no answers)."""

    by: tuple[str, ...]
    interval: str
    series: tuple[TrendSeries, ...]
    alerts: TrendAlerts | None


def trends(db: Session, sel: Selection, *, by: Sequence[str] = (), interval: str = "month",
           min_n: int = 30, alpha: float = 0.05) -> Trends:
    """Trend series per group and alerts: the last month (short) and the last 3 months (long) against
    the 6 before, deterioration and improvement apart, in the selection's local months."""
    frame = answer_frame(db, sel, columns=by, by_day=True, reasons=False)
    if not frame.total:
        return Trends(tuple(by), interval, (), None)
    series = trend_series(frame, list(by), zone=sel.tz, period=interval)
    alerts = trend_alerts(frame, list(by), zone=sel.tz, end=sel.until, min_n=min_n, alpha=alpha)
    return Trends(tuple(by), interval, tuple(series), alerts)


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
    """The outlets in scope by code; with `codes`, those, each of which must exist and be in scope
    (else survey.reports.selection.NotVisible)."""
    narrowed = visible_codes(db, scope, codes) if codes else scope
    q = (select(Outlet.code, Outlet.name, Outlet.channel, Outlet.kind, Region.name, City.name)
         .join(City, City.id == Outlet.city_id).join(Region, Region.id == City.region_id).order_by(Outlet.code))
    if narrowed is not None:
        q = q.where(Outlet.code.in_(list(narrowed)))
    return [OutletInfo(code, name, str(channel), str(kind), region, city)
            for code, name, channel, kind, region, city in db.execute(q)]


def finite(value: float | None) -> float | None:
    """A number JSON can carry: NaN (no answers) and infinities become None."""
    return None if value is None or (isinstance(value, float) and not math.isfinite(value)) else value
