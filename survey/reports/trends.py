"""Trends: CSAT per week or month and group, alerts (the last whole month and the last three against
the six before, allowing for the month-to-month swing the data show), and dissatisfied answers per
10,000 interactions."""
from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

import numpy as np
from sqlalchemy.orm import Session

from analysis.counts import interaction_counts, load_answer_frame
from analysis.trends import TrendSeries, dissatisfied_per_10k, trend_alerts, trend_series
from survey.reports.labels import DIMENSION_LABELS, group_label
from survey.reports.places import outlet_label, outlet_names
from survey.reports.selection import Selection
from survey.reports.tables import Table

GROUPINGS = {"all": (), "channel": ("channel",), "region": ("region",), "city": ("city",),
             "outlet": ("outlet",), "business_type": ("business_type",)}
GRAINS = {"week": "week", "month": "month"}
SHORT_MONTHS, RECENT_MONTHS, BASELINE_MONTHS = 1, 3, 6
CHART_SERIES = 8  # more lines than this are unreadable; the table and the download have them all
TABLE_GROUPS = 50


@dataclass(frozen=True)
class Series:
    """One group's CSAT per period, with Wilson intervals."""

    label: str
    periods: tuple[str, ...]
    n: tuple[int, ...]
    rate: tuple[float, ...]
    low: tuple[float, ...]
    high: tuple[float, ...]

    @property
    def total(self) -> int:
        """Answers over all periods."""
        return sum(self.n)


@dataclass(frozen=True)
class Alert:
    """A group's last month (window "short") or last three months ("long") against the six before."""

    label: str
    window: str
    n_recent: int
    n_baseline: int
    recent_rate: float | None
    baseline_rate: float | None
    change: float | None
    p: float | None
    q: float | None
    alert: bool  # significantly worse
    improved: bool  # significantly better
    se: float | None  # of the change, the swing allowance included


@dataclass(frozen=True)
class Per10k:
    """Dissatisfied answers per 10,000 interactions, per period, over the whole selection."""

    periods: tuple[str, ...]
    dissatisfied: tuple[int, ...]
    interactions: tuple[int, ...]
    per_10k: tuple[float, ...]


@dataclass(frozen=True)
class TrendPage:
    """Series (alerted groups first, then the largest), alerts and the per-10,000 series."""

    by: tuple[str, ...]
    grain: str
    series: tuple[Series, ...]
    alerts: tuple[Alert, ...]
    recent: tuple[date, date]  # first and last day of the long window's months
    baseline: tuple[date, date]
    per_10k: Per10k | None
    allowance: float | None = None  # sd of ordinary month-to-month swings (a proportion)
    allowance_groups: int = 0  # groups it was estimated from (0: none had two months before the windows)

    @property
    def short(self) -> tuple[date, date]:
        """First and last day of the short window (the last whole month)."""
        return _month(self.recent[1], -(SHORT_MONTHS - 1)), self.recent[1]

    @property
    def short_baseline(self) -> tuple[date, date]:
        """First and last day of the months the short window is compared with (just before it)."""
        return _month(self.short[0], -BASELINE_MONTHS), self.short[0] - timedelta(days=1)

    @property
    def chart(self) -> tuple[Series, ...]:
        """The series the chart draws."""
        return self.series[:CHART_SERIES]

    @property
    def alerted(self) -> int:
        """How many groups deteriorated significantly (in either window)."""
        return len({a.label for a in self.alerts if a.alert})

    @property
    def improved(self) -> int:
        """How many groups improved significantly (in either window)."""
        return len({a.label for a in self.alerts if a.improved})

    @property
    def grouping_label(self) -> str:
        """The grouping in Chinese."""
        return " × ".join(DIMENSION_LABELS[b] for b in self.by) or "全部"


def _month(day: date, shift: int) -> date:
    index = day.year * 12 + day.month - 1 + shift
    return date(index // 12, index % 12 + 1, 1)


def _num(v: float) -> float | None:
    return None if math.isnan(v) else float(v)


def trend_page(db: Session, sel: Selection, *, by: tuple[str, ...], grain: str = "month") -> TrendPage:
    """Trends over the selection; the alert compares whole months before the month the window ends in
    (a month still running would look worse for being short)."""
    after = sel.filter.end + timedelta(days=1)
    stop = after if after.day == 1 else _month(sel.filter.end, 0)
    recent_start, base_start = _month(stop, -RECENT_MONTHS), _month(stop, -(RECENT_MONTHS + BASELINE_MONTHS))
    recent = (recent_start, stop - timedelta(days=1))
    baseline = (base_start, recent_start - timedelta(days=1))
    # One query covers the window shown and the months the alert compares.
    first = min(sel.filter.start, base_start)
    wide = sel.over(first, max(stop, after))
    frame = load_answer_frame(db, attributes=(), dimensions=by, reasons=False, tz=sel.tz, **wide.window())
    if frame.total == 0:
        return TrendPage(by, grain, (), (), recent, baseline, None)
    days = frame.answered_at
    shown = frame.take((days >= np.datetime64(sel.since.replace(tzinfo=None), "s"))
                       & (days < np.datetime64(sel.until.replace(tzinfo=None), "s")))
    found = trend_alerts(frame, list(by), zone=sel.tz, end=datetime.combine(stop, time(0), sel.tz),
                         short_months=SHORT_MONTHS, long_months=RECENT_MONTHS, baseline_months=BASELINE_MONTHS)
    alerts = found.alerts
    names = outlet_names(db, sel.scope) if by == ("outlet",) else {}

    def label(key: tuple[str, ...]) -> str:
        return outlet_label(key[0], names) if names else group_label(by, key)

    alert_rows = tuple(Alert(label(a.key), a.window, a.n_recent, a.n_baseline, _num(a.recent_rate),
                             _num(a.baseline_rate), _num(a.change), _num(a.p), _num(a.q), a.alert, a.improved,
                             _num(a.se)) for a in alerts)
    alerted = {a.key for a in alerts if a.alert}
    series: list[TrendSeries] = trend_series(shown, list(by), zone=sel.tz, period=grain) if shown.total else []
    series.sort(key=lambda s: (s.key not in alerted, -sum(s.n)))
    per_10k = None
    if shown.total:
        counts = interaction_counts(db, by=(), tz=sel.tz, **sel.window())
        ratio = dissatisfied_per_10k(shown, counts, [], zone=sel.tz, period=grain)
        if ratio:
            r = ratio[0]
            per_10k = Per10k(r.periods, r.dissatisfied, r.interactions, r.per_10k)
    return TrendPage(by, grain, tuple(Series(label(s.key), s.periods, s.n, s.rate, s.low, s.high)
                                      for s in series), alert_rows, recent, baseline, per_10k, found.allowance.tau,
                     found.allowance.groups)


def trend_table(page: TrendPage, sel: Selection) -> Table:
    """Every group's series, one row per group and period."""
    def rows():
        for s in page.series:
            for i, period in enumerate(s.periods):
                yield (s.label, period, s.n[i], round(s.rate[i], 4), round(s.low[i], 4), round(s.high[i], 4))
    name = f"trends-{'-'.join(page.by) or 'all'}-{page.grain}-{sel.filter.start}_{sel.filter.end}"
    return Table(name, f"满意度趋势（{page.grouping_label}）",
                 ("分组", "周期起始日", "n", "满意度", "下限95%", "上限95%"), rows())


def alerts_table(page: TrendPage, sel: Selection) -> Table:
    """Each group's short and long windows against its baseline."""
    def r(v):
        return None if v is None else round(v, 4)

    def rows():
        for a in page.alerts:
            yield (a.label, WINDOW_LABELS[a.window], a.n_recent, r(a.recent_rate), a.n_baseline, r(a.baseline_rate),
                   r(a.change), r(a.se), None if a.p is None else float(f"{a.p:.4g}"),
                   None if a.q is None else float(f"{a.q:.4g}"), "恶化" if a.alert else "改善" if a.improved else "")
    name = f"alerts-{'-'.join(page.by) or 'all'}-{page.recent[0]}_{page.recent[1]}"
    allowance = ("" if page.allowance is None else f"，月度波动允许 {page.allowance * 100:.1f} 个百分点"
                 if page.allowance_groups else "，窗口前月份不足，只计抽样误差")
    return Table(name, f"趋势预警{allowance}", ("分组", "窗口", "近期n", "近期满意度", f"前{BASELINE_MONTHS}个月n",
                                         "基期满意度", "变化", "标准误", "p值", "q值", "预警"), rows())


WINDOW_LABELS = {"short": f"近{SHORT_MONTHS}个月", "long": f"近{RECENT_MONTHS}个月"}

