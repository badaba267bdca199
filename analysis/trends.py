"""Trends: weekly or monthly series per group, short- and long-window alerts that allow for ordinary
month-to-month swings, and dissatisfied answers per 10,000 interactions.

Periods follow the local calendar of the zone the caller passes (survey.settings' TOUCHPOINT_TIMEZONE
reaches here through the caller; this module reads no settings).

The alerts' model: a group's monthly rate is its own level plus a swing of standard deviation tau
(staffing, weather, a campaign: what moves every group a little every month) plus binomial sampling
error. Testing a month against the months before with sampling error alone calls most ordinary
swings significant once a group has a few hundred answers a month. tau is estimated from the data,
robustly: the median of the squared standardised residuals of each group's months before the
windows around the group's own level is matched to the median of chi-square(1) (the overdispersed
funnel of Spiegelhalter 2005 with Efron's central matching: a few groups that really changed sit in
the tail and cannot inflate it). Each window's level is then compared with that of the months just
before it, each month weighted by 1 / (sampling variance + tau^2) as in a random-effects mean.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timezone, tzinfo

import numpy as np
from scipy import special

from analysis.frame import AnswerFrame, Factor, group_rows
from analysis.stats import benjamini_hochberg, wilson

CHI2_1_MEDIAN = float(2 * special.gammaincinv(0.5, 0.5))  # 0.4549...: central matching of squared z's
MAX_TAU = 0.5  # a swing sd of 50 points is already beyond any rate's range


def local_times(times: np.ndarray, zone: tzinfo) -> np.ndarray:
    """UTC times (datetime64) as local wall-clock times of `zone`, daylight saving included."""
    utc = np.asarray(times, "datetime64[s]")
    if utc.size == 0:
        return utc
    # Answers come by day, so there are few distinct instants: one zone lookup for each.
    distinct, inverse = np.unique(utc, return_inverse=True)
    offsets = np.array([int(datetime.fromtimestamp(int(t), timezone.utc).astimezone(zone).utcoffset()
                            .total_seconds()) for t in distinct.astype(np.int64)], np.int64)
    return utc + offsets[inverse.reshape(utc.shape)].astype("timedelta64[s]")


def period_of(times: np.ndarray, period: str, *, zone: tzinfo) -> np.ndarray:
    """Each UTC time's local period start as datetime64[D]: the month's first day or the week's Monday."""
    days = local_times(times, zone).astype("datetime64[D]")
    if period == "month":
        return days.astype("datetime64[M]").astype("datetime64[D]")
    if period == "week":
        # 1970-01-01 was a Thursday: shifting by 3 makes Monday day 0 of each week.
        n = days.astype(np.int64)
        return (n - (n + 3) % 7).astype("datetime64[D]")
    raise ValueError(f"period must be 'week' or 'month', not {period!r}")


def with_period(frame: AnswerFrame, period: str = "month", *, zone: tzinfo, name: str = "period") -> AnswerFrame:
    """The frame with a `period` column (local week or month start), to group metrics by period."""
    starts = period_of(_need_times(frame), period, zone=zone)
    levels, codes = np.unique(starts, return_inverse=True)
    columns = {**frame.columns, name: Factor(codes.astype(np.int32), np.array([str(d) for d in levels], dtype=object))}
    return replace(frame, columns=columns)


@dataclass(frozen=True)
class TrendSeries:
    """One group's satisfaction per period, with Wilson intervals."""

    key: tuple[str, ...]
    periods: tuple[str, ...]  # ISO dates of period starts
    n: tuple[int, ...]
    rate: tuple[float, ...]
    low: tuple[float, ...]
    high: tuple[float, ...]

    @property
    def group(self) -> str:
        """Printable name of the group."""
        return " / ".join(self.key) if self.key else "all"


def _need_times(frame: AnswerFrame) -> np.ndarray:
    if frame.answered_at is None:
        raise ValueError("the answers carry no times; load them with by_day=True for trends")
    return frame.answered_at


def trend_series(frame: AnswerFrame, by: Sequence[str], *, zone: tzinfo, period: str = "month") -> list[TrendSeries]:
    """Top-2-box rate per group and period (only periods with answers appear)."""
    starts = period_of(_need_times(frame), period, zone=zone)
    labels, pcode = np.unique(starts, return_inverse=True)
    grouping = group_rows(frame, by)
    idx = grouping.codes * len(labels) + pcode
    size = grouping.size * len(labels)
    n = np.bincount(idx, weights=frame.count, minlength=size).reshape(grouping.size, len(labels))
    x = np.bincount(idx, weights=frame.count * frame.satisfied(), minlength=size).reshape(grouping.size, len(labels))
    ci = wilson(x, n)
    names = [str(d) for d in labels]
    out = []
    for g, key in enumerate(grouping.keys):
        has = np.flatnonzero(n[g] > 0)
        out.append(TrendSeries(tuple(key), tuple(names[j] for j in has), tuple(int(v) for v in n[g, has]),
                               tuple(float(v) for v in ci.estimate[g, has]), tuple(float(v) for v in ci.low[g, has]),
                               tuple(float(v) for v in ci.high[g, has])))
    return out


# Month-to-month swings ---------------------------------------------------------------------------

def _null_rate(n: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Each group's pooled rate over the months given (rows), kept off 0 and 1 so no month has a
    sampling variance of zero."""
    total = n.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        rate = x.sum(axis=1) / total
    half = 0.5 / np.maximum(total, 1)
    return np.clip(np.nan_to_num(rate, nan=0.5), half, 1 - half)


def _residual_terms(n: np.ndarray, x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For each group-month with answers: squared residual around the group's pooled rate, and the
    two parts of its variance, var = a * v + b * tau^2 (v: the month's sampling variance).

    With m = sum_s n_s r_s / N, r_t - m has variance
    (v_t + tau^2)(1 - 2 n_t / N) + sum_s n_s^2 (v_s + tau^2) / N^2.
    """
    months = (n > 0).sum(axis=1)
    keep = months >= 2  # one month has no residual to speak of
    n, x = n[keep].astype(float), x[keep].astype(float)
    p0 = _null_rate(n, x)
    big_n = n.sum(axis=1, keepdims=True)
    share = n / big_n
    with np.errstate(invalid="ignore", divide="ignore"):
        rate = np.where(n > 0, x / n, 0.0)
        v = np.where(n > 0, (p0 * (1 - p0))[:, None] / n, 0.0)
    mean = (x.sum(axis=1) / big_n[:, 0])[:, None]
    sum_sq_v = (share ** 2 * v).sum(axis=1, keepdims=True)
    sum_sq = (share ** 2).sum(axis=1, keepdims=True)
    const_v = v * (1 - 2 * share) + sum_sq_v  # the sampling part of var(r_t - m)
    const_t = (1 - 2 * share) + sum_sq  # what multiplies tau^2
    has = n > 0
    return ((rate - mean) ** 2)[has], const_v[has], np.broadcast_to(const_t, n.shape)[has]


@dataclass(frozen=True)
class Allowance:
    """The month-to-month swing allowed for: its standard deviation (a proportion) and what it rests on."""

    tau: float
    groups: int  # groups with at least two baseline months
    residuals: int  # group-months the median was taken over
    estimated: bool  # False: given (an oracle or a test), not estimated from the data


def estimate_swing(n: np.ndarray, x: np.ndarray) -> Allowance:
    """tau from the months of each group (rows: groups, columns: months) by central matching: the tau
    at which the median squared standardised residual equals chi-square(1)'s median.

    The median squared residual falls as tau grows, so the root is found by bisection; when the
    residuals are no wider than sampling error alone, tau is 0.
    """
    n, x = np.asarray(n, float), np.asarray(x, float)
    sq, a, b = _residual_terms(n, x)
    groups = int(((n > 0).sum(axis=1) >= 2).sum())
    if sq.size == 0:
        return Allowance(0.0, groups, 0, True)

    def median_z2(tau2: float) -> float:
        return float(np.median(sq / np.maximum(a + b * tau2, 1e-15)))

    if median_z2(0.0) <= CHI2_1_MEDIAN:
        return Allowance(0.0, groups, int(sq.size), True)
    low, high = 0.0, MAX_TAU ** 2
    if median_z2(high) > CHI2_1_MEDIAN:
        return Allowance(MAX_TAU, groups, int(sq.size), True)
    for _ in range(60):  # bisection to far below any figure shown
        mid = (low + high) / 2
        low, high = (mid, high) if median_z2(mid) > CHI2_1_MEDIAN else (low, mid)
    return Allowance(float(np.sqrt((low + high) / 2)), groups, int(sq.size), True)


def window_level(n: np.ndarray, x: np.ndarray, p0: np.ndarray, tau: float) -> tuple[np.ndarray, np.ndarray]:
    """Each group's level over its months (columns) and the level's variance: the months' rates
    weighted by 1 / (p0 (1 - p0) / n_t + tau^2), months without answers left out (NaN: none)."""
    n, x = np.asarray(n, float), np.asarray(x, float)
    with np.errstate(invalid="ignore", divide="ignore"):
        v = (p0 * (1 - p0))[:, None] / n
        w = np.where(n > 0, 1.0 / (v + tau ** 2), 0.0)
        rate = np.where(n > 0, x / n, 0.0)
        total = w.sum(axis=1)
        return (w * rate).sum(axis=1) / total, 1.0 / total


# Alerts ------------------------------------------------------------------------------------------

WINDOWS = ("short", "long")


@dataclass(frozen=True)
class TrendAlert:
    """A group's recent window (the last month: short; the last `long_months`: long) against its
    baseline months, allowing for the month-to-month swing."""

    key: tuple[str, ...]
    window: str  # "short" or "long"
    n_recent: int
    n_baseline: int
    recent_rate: float  # pooled rates of the windows, as shown
    baseline_rate: float
    change: float  # recent level - baseline level, each month weighted as in the test
    se: float  # standard error of `change`: sampling error and the swing allowance
    z: float
    p: float  # one-sided p-value in the direction of the change
    q: float  # Benjamini-Hochberg over every group and window tested in that direction
    alert: bool  # significantly worse
    improved: bool  # significantly better (never both)

    @property
    def group(self) -> str:
        """Printable name of the group."""
        return " / ".join(self.key) if self.key else "all"

    @property
    def direction(self) -> str | None:
        """'deterioration', 'improvement' or None (nothing significant)."""
        return "deterioration" if self.alert else "improvement" if self.improved else None


@dataclass(frozen=True)
class TrendAlerts:
    """Every group's short and long windows, alerts first, with the allowance they were judged by."""

    allowance: Allowance
    months: tuple[str, ...]  # every month compared, oldest first (the last is the short window)
    short_months: int
    long_months: int
    baseline_months: int
    alpha: float
    min_n: int
    alerts: tuple[TrendAlert, ...]

    def _span(self, first: int, count: int) -> tuple[str, str]:
        return self.months[first], self.months[first + count - 1]

    @property
    def long(self) -> tuple[str, str]:
        """First and last month of the long window (ISO month starts)."""
        return self._span(len(self.months) - self.long_months, self.long_months)

    @property
    def baseline(self) -> tuple[str, str]:
        """First and last month of the long window's baseline (the months just before it)."""
        return self._span(len(self.months) - self.long_months - self.baseline_months, self.baseline_months)

    @property
    def short(self) -> tuple[str, str]:
        """First and last month of the short window."""
        return self._span(len(self.months) - self.short_months, self.short_months)

    @property
    def short_baseline(self) -> tuple[str, str]:
        """First and last month of the short window's baseline (the months just before it)."""
        return self._span(len(self.months) - self.short_months - self.baseline_months, self.baseline_months)

    def deteriorated(self) -> list[TrendAlert]:
        """The alerts for significantly worse groups."""
        return [a for a in self.alerts if a.alert]

    def improved(self) -> list[TrendAlert]:
        """The alerts for significantly better groups."""
        return [a for a in self.alerts if a.improved]


def _swing_before(n: np.ndarray, x: np.ndarray, windows: Sequence[int]) -> Allowance:
    """tau from the months before the first of `windows` (months at the end) that leaves some:
    months before any recent change first, since groups that changed inflate it."""
    for recent in windows:
        allowance = estimate_swing(n[:, :n.shape[1] - recent], x[:, :n.shape[1] - recent])
        if allowance.residuals:
            return allowance
    return allowance


def month_index(when: datetime, zone: tzinfo) -> int:
    """The local month of an aware datetime as months since 1970-01."""
    local = when.astimezone(zone)
    return (local.year - 1970) * 12 + local.month - 1


def trend_alerts(
    frame: AnswerFrame, by: Sequence[str], *, zone: tzinfo, end: datetime | None = None,
    short_months: int = 1, long_months: int = 3, baseline_months: int = 6, alpha: float = 0.05,
    min_n: int = 30, tau: float | None = None,
) -> TrendAlerts:
    """Short- and long-window alerts per group, deterioration and improvement kept apart.

    `end` (aware) is the exclusive end of the recent windows, rounded down to a local month of
    `zone` (a month still running would look worse for being short); default: the month after the
    latest answer. Each window is compared with the `baseline_months` just before it: the last
    month with the six before it, the last three months with the six before them, so a drop that
    began in the long window never lowers the long window's baseline. tau, the month-to-month
    swing, is estimated from the months before the long window, of every group (where there are
    none, from the months before the short window), unless given (tau=0 is the naive test with
    sampling error alone). Windows with fewer than `min_n` answers
    (or baselines with fewer) are not tested. One-sided tests in each direction;
    Benjamini-Hochberg per direction over every group and window.
    """
    if not 1 <= short_months <= long_months or baseline_months < 1:
        raise ValueError("windows: need 1 <= short_months <= long_months and baseline_months >= 1")
    months = period_of(_need_times(frame), "month", zone=zone).astype("datetime64[M]").astype(np.int64)
    if end is not None:
        stop = month_index(end, zone)
    else:
        stop = int(months.max()) + 1 if months.size else 0
    span = baseline_months + long_months
    first = stop - span
    column = months - first
    inside = (column >= 0) & (column < span)
    grouping = group_rows(frame, by)
    idx = grouping.codes[inside] * span + column[inside]
    w = frame.count[inside].astype(float)
    shape = (grouping.size, span)
    n = np.bincount(idx, weights=w, minlength=grouping.size * span).reshape(shape).round()
    x = np.bincount(idx, weights=w * frame.satisfied()[inside], minlength=grouping.size * span).reshape(shape).round()
    if tau is not None:
        allowance = Allowance(float(tau), 0, 0, False)
    else:
        allowance = _swing_before(n, x, (long_months, short_months))
    tests = []
    for name, months_in in (("short", short_months), ("long", long_months)):
        recent = slice(span - months_in, span)
        base = slice(span - months_in - baseline_months, span - months_in)
        both = slice(base.start, span)
        p0 = _null_rate(n[:, both], x[:, both])  # the rate both windows share if nothing changed
        level_r, var_r = window_level(n[:, recent], x[:, recent], p0, allowance.tau)
        level_b, var_b = window_level(n[:, base], x[:, base], p0, allowance.tau)
        n_r, n_b = n[:, recent].sum(axis=1), n[:, base].sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            change = level_r - level_b
            se = np.sqrt(var_r + var_b)
            z = change / se
            shown_r, shown_b = x[:, recent].sum(axis=1) / n_r, x[:, base].sum(axis=1) / n_b
        tested = (n_r >= min_n) & (n_b >= min_n)
        tests.append((name, n_r, n_b, shown_r, shown_b, change, se, np.where(tested, z, np.nan)))
    z_all = np.concatenate([t[-1] for t in tests])
    q_worse = benjamini_hochberg(special.ndtr(z_all))
    q_better = benjamini_hochberg(special.ndtr(-z_all))
    out = []
    for i, (name, n_r, n_b, shown_r, shown_b, change, se, z) in enumerate(tests):
        for g, key in enumerate(grouping.keys):
            j = i * grouping.size + g
            worse = bool(z[g] < 0 and q_worse[j] < alpha)
            better = bool(z[g] > 0 and q_better[j] < alpha)
            p = float(special.ndtr(-abs(z[g])))
            q = float(q_worse[j] if z[g] < 0 else q_better[j])
            out.append(TrendAlert(tuple(key), name, int(n_r[g]), int(n_b[g]), float(shown_r[g]), float(shown_b[g]),
                                  float(change[g]), float(se[g]), float(z[g]), p, q, worse, better))
    out.sort(key=lambda a: (not a.alert, not a.improved, np.nan_to_num(a.p, nan=2.0), a.window))
    labels = tuple(str(np.datetime64(int(m), "M").astype("datetime64[D]")) for m in range(first, stop))
    return TrendAlerts(allowance, labels, short_months, long_months, baseline_months, alpha, min_n, tuple(out))


@dataclass(frozen=True)
class RatioSeries:
    """Dissatisfied answers per 10,000 interactions, per period, for one group (万投比 style)."""

    key: tuple[str, ...]
    periods: tuple[str, ...]
    dissatisfied: tuple[int, ...]
    interactions: tuple[int, ...]
    per_10k: tuple[float, ...]


def dissatisfied_per_10k(frame: AnswerFrame, interactions, by: Sequence[str], *, zone: tzinfo,
                         period: str = "month") -> list[RatioSeries]:
    """Dissatisfied (4-5) answers per 10,000 interactions; `interactions` is queries.DailyCounts by `by`."""
    if tuple(interactions.by) != tuple(by):
        raise ValueError(f"interaction counts are by {interactions.by}, the series by {tuple(by)}")
    grouping = group_rows(frame, by)
    a_period = period_of(_need_times(frame), period, zone=zone)
    # Interaction days are the UTC instants of local midnights: the same zone finds their period.
    i_period = period_of(interactions.day, period, zone=zone)
    labels = np.unique(np.concatenate([a_period, i_period]))
    key_index = {k: g for g, k in enumerate(grouping.keys)}
    keys = list(grouping.keys)
    i_group = np.empty(len(interactions.keys), np.int64)
    for i, k in enumerate(interactions.keys):
        if k not in key_index:
            key_index[k] = len(keys)
            keys.append(k)
        i_group[i] = key_index[k]
    size = len(keys) * len(labels)
    bad = (frame.value >= 4) * frame.count
    d = np.bincount(grouping.codes * len(labels) + np.searchsorted(labels, a_period), weights=bad,
                    minlength=size).reshape(len(keys), len(labels))
    m = np.bincount(i_group * len(labels) + np.searchsorted(labels, i_period), weights=interactions.count,
                    minlength=size).reshape(len(keys), len(labels))
    out = []
    for g, key in enumerate(keys):
        has = np.flatnonzero(m[g] > 0)
        out.append(RatioSeries(tuple(key), tuple(str(labels[j]) for j in has), tuple(int(v) for v in d[g, has]),
                               tuple(int(v) for v in m[g, has]), tuple(float(10_000 * d[g, j] / m[g, j]) for j in has)))
    return out

