"""Trends: weekly or monthly series per group, deterioration alerts, dissatisfied per 10,000."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timezone

import numpy as np

from analysis.frame import AnswerFrame, Factor, group_rows
from analysis.stats import benjamini_hochberg, hypergeom_lower, wilson

LOCAL_OFFSET_HOURS = 8  # Asia/Shanghai, no daylight saving: periods follow the local calendar


def period_of(times: np.ndarray, period: str, *, offset_hours: int = LOCAL_OFFSET_HOURS) -> np.ndarray:
    """Each UTC time's local period start as datetime64[D]: the month's first day or the week's Monday."""
    local = np.asarray(times, "datetime64[s]") + np.timedelta64(offset_hours, "h")
    days = local.astype("datetime64[D]")
    if period == "month":
        return days.astype("datetime64[M]").astype("datetime64[D]")
    if period == "week":
        # 1970-01-01 was a Thursday: shifting by 3 makes Monday day 0 of each week.
        n = days.astype(np.int64)
        return (n - (n + 3) % 7).astype("datetime64[D]")
    raise ValueError(f"period must be 'week' or 'month', not {period!r}")


def with_period(frame: AnswerFrame, period: str = "month", *, name: str = "period") -> AnswerFrame:
    """The frame with a `period` column (local week or month start), to group metrics by period."""
    starts = period_of(_need_times(frame), period)
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


def trend_series(frame: AnswerFrame, by: Sequence[str], *, period: str = "month") -> list[TrendSeries]:
    """Top-2-box rate per group and period (only periods with answers appear)."""
    starts = period_of(_need_times(frame), period)
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


@dataclass(frozen=True)
class TrendAlert:
    """A group's recent window against its own earlier window."""

    key: tuple[str, ...]
    n_recent: int
    n_baseline: int
    recent_rate: float
    baseline_rate: float
    change: float  # recent - baseline
    p: float
    q: float
    alert: bool

    @property
    def group(self) -> str:
        """Printable name of the group."""
        return " / ".join(self.key) if self.key else "all"


def _month_start(t: datetime | np.datetime64, shift: int = 0) -> np.datetime64:
    if isinstance(t, datetime):
        t = np.datetime64(t.astimezone(timezone.utc).replace(tzinfo=None), "s")
    return (np.datetime64(t, "M") + shift).astype("datetime64[D]")


def deterioration_alerts(
    frame: AnswerFrame, by: Sequence[str], *, end: datetime | None = None, recent_months: int = 3,
    baseline_months: int = 6, alpha: float = 0.05, min_n: int = 30,
) -> list[TrendAlert]:
    """Alert where the last `recent_months` are significantly worse than the `baseline_months` before.

    One month of a small outlet has too few answers to tell anything, hence windows of months.
    `end` is the (exclusive) end of the recent window, rounded down to a local month; default:
    the month after the latest answer. One-sided exact test per group, BH across groups; groups
    with fewer than `min_n` answers in either window are reported untested.
    """
    months = period_of(_need_times(frame), "month")
    stop = _month_start(end) if end is not None else _month_start(months.max(), 1)
    split = _month_start(stop, -recent_months)
    start = _month_start(stop, -(recent_months + baseline_months))
    recent = (months >= split) & (months < stop)
    base = (months >= start) & (months < split)
    grouping = group_rows(frame, by)
    w = frame.count.astype(float)
    sat = frame.satisfied() * w

    def sums(mask: np.ndarray, weights: np.ndarray) -> np.ndarray:
        total = np.bincount(grouping.codes[mask], weights=weights[mask], minlength=grouping.size)
        return total.round().astype(np.int64)

    n_r, x_r, n_b, x_b = sums(recent, w), sums(recent, sat), sums(base, w), sums(base, sat)
    tested = (n_r >= min_n) & (n_b >= min_n)
    p = np.full(grouping.size, np.nan)
    if tested.any():
        t = tested
        p[t] = hypergeom_lower(x_r[t], n_r[t], x_r[t] + x_b[t], n_r[t] + n_b[t]).p_value
    q = benjamini_hochberg(p)
    with np.errstate(invalid="ignore", divide="ignore"):
        rr, rb = x_r / n_r, x_b / n_b
    out = [TrendAlert(tuple(k), int(n_r[g]), int(n_b[g]), float(rr[g]), float(rb[g]), float(rr[g] - rb[g]),
                      float(p[g]), float(q[g]), bool(q[g] < alpha and rr[g] < rb[g]))
           for g, k in enumerate(grouping.keys)]
    return sorted(out, key=lambda a: (not a.alert, np.nan_to_num(a.p, nan=2.0)))


@dataclass(frozen=True)
class RatioSeries:
    """Dissatisfied answers per 10,000 interactions, per period, for one group (万投比 style)."""

    key: tuple[str, ...]
    periods: tuple[str, ...]
    dissatisfied: tuple[int, ...]
    interactions: tuple[int, ...]
    per_10k: tuple[float, ...]


def dissatisfied_per_10k(frame: AnswerFrame, interactions, by: Sequence[str], *,
                         period: str = "month") -> list[RatioSeries]:
    """Dissatisfied (4-5) answers per 10,000 interactions; `interactions` is queries.DailyCounts by `by`."""
    if tuple(interactions.by) != tuple(by):
        raise ValueError(f"interaction counts are by {interactions.by}, the series by {tuple(by)}")
    grouping = group_rows(frame, by)
    a_period = period_of(_need_times(frame), period)
    # Interaction days are already UTC days; their local period uses the same offset.
    i_period = period_of(interactions.day, period)
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
