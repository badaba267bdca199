"""Trends: local periods in the configured zone, series, the swing allowance, short and long windows,
deterioration and improvement apart, dissatisfied per 10,000 interactions."""
from __future__ import annotations

from datetime import datetime, timezone
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from scipy import stats as sps

from analysis.frame import build_frame
from analysis.metrics import group_metrics
from analysis.queries import DailyCounts
from analysis.trends import (
    CHI2_1_MEDIAN, dissatisfied_per_10k, estimate_swing, period_of, trend_alerts, trend_series, with_period,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")
UTC = timezone.utc


def times(*texts):
    return [np.datetime64(t) for t in texts]


def test_periods_follow_the_local_calendar_of_the_zone_given():
    t = np.array(times("2026-01-31T17:00:00", "2026-01-31T15:00:00", "2026-03-01T12:00:00"), "datetime64[s]")
    months = period_of(t, "month", zone=SHANGHAI)
    assert [str(m) for m in months] == ["2026-02-01", "2026-01-01", "2026-03-01"]  # 01:00 Shanghai is February
    weeks = period_of(t, "week", zone=SHANGHAI)
    assert str(weeks[2]) == "2026-02-23"  # Sunday 1 March belongs to the week from Monday 23 February
    assert all(np.datetime64(w, "D").astype(object).weekday() == 0 for w in weeks)
    # The same instants in UTC: 17:00 on 31 January is still January.
    assert [str(m) for m in period_of(t, "month", zone=UTC)] == ["2026-01-01", "2026-01-01", "2026-03-01"]


def test_periods_follow_daylight_saving():
    # 23:30 UTC on 31 March 2026 is 00:30 in London on 1 April (summer time since 29 March); in
    # January the same hour is still 31 January.
    t = np.array(times("2026-03-31T23:30:00", "2026-01-31T23:30:00"), "datetime64[s]")
    assert [str(m) for m in period_of(t, "month", zone=ZoneInfo("Europe/London"))] == ["2026-04-01", "2026-01-01"]
    with pytest.raises(ValueError, match="period"):
        period_of(t, "day", zone=UTC)


def test_trend_series_per_month():
    frame = build_frame({"outlet": ["a", "a", "a"]}, [1, 4, 1], count=[9, 1, 5],
                        answered_at=times("2026-01-10T00:00", "2026-01-11T00:00", "2026-02-10T00:00"))
    (s,) = trend_series(frame, ["outlet"], zone=SHANGHAI)
    assert s.periods == ("2026-01-01", "2026-02-01") and s.n == (10, 5)
    assert s.rate == (pytest.approx(0.9), pytest.approx(1.0))
    by_month = {m.key: m.csat for m in group_metrics(with_period(frame, zone=SHANGHAI), ["outlet", "period"])}
    assert by_month == {("a", "2026-01-01"): pytest.approx(0.9), ("a", "2026-02-01"): 1.0}


def test_swing_by_central_matching_hand_worked():
    # Three groups, two months of 400 answers at 80% +- d/2, d = 2, 6 and 10 points: every group's
    # pooled rate is 80%, each month's sampling variance v = 0.8 * 0.2 / 400, and both residuals of
    # a group are +-d/2 with variance (v + tau^2) / 2, so z^2 = d^2 / (2 (v + tau^2)). The median of
    # the six z^2 is the middle group's: it equals chi-square(1)'s median where
    # tau^2 = 0.06^2 / (2 * 0.45494) - v.
    n = np.full((3, 2), 400)
    x = np.array([[324, 316], [332, 308], [340, 300]])
    allowance = estimate_swing(n, x)
    v = 0.8 * 0.2 / 400
    assert CHI2_1_MEDIAN == pytest.approx(0.454936, abs=1e-6)
    assert allowance.tau == pytest.approx(np.sqrt(0.06 ** 2 / (2 * CHI2_1_MEDIAN) - v), rel=1e-6)
    assert (allowance.groups, allowance.residuals, allowance.estimated) == (3, 6, True)


def test_swing_is_zero_when_months_vary_no_more_than_sampling_error():
    n = np.full((3, 2), 400)
    x = np.array([[320, 320], [321, 319], [322, 318]])
    assert estimate_swing(n, x).tau == 0.0


def _months_frame(rates_by_group: dict[str, list[float]], n: int = 400, first: str = "2026-01"):
    """Answers per group and month (mid-month, UTC), a given share satisfied."""
    outlet, value, count, at = [], [], [], []
    for group, rates in rates_by_group.items():
        for m, rate in enumerate(rates):
            sat = round(n * rate)
            day = (np.datetime64(first, "M") + m).astype("datetime64[D]") + 14
            for v, c in ((1, sat), (4, n - sat)):
                outlet.append(group)
                value.append(v)
                count.append(c)
                at.append(day.astype("datetime64[s]"))
    return build_frame({"city": outlet}, value, count=count, answered_at=at)


def test_swing_estimate_is_not_inflated_by_a_few_wild_groups():
    rng = np.random.default_rng(3)
    tau = 0.015
    # Each month: the group's swing, then binomial sampling of 400 answers.
    ordinary = {f"g{i}": list(rng.binomial(400, 0.85 + rng.normal(0, tau, 9)) / 400) for i in range(40)}
    wild = {f"w{i}": [0.85, 0.55, 0.95, 0.5, 0.9, 0.6, 0.85, 0.85, 0.85] for i in range(3)}
    calm = trend_alerts(_months_frame(ordinary), ["city"], zone=UTC, end=datetime(2026, 10, 1, tzinfo=UTC))
    stirred = trend_alerts(_months_frame({**ordinary, **wild}), ["city"], zone=UTC,
                           end=datetime(2026, 10, 1, tzinfo=UTC))
    assert 0.008 < calm.allowance.tau < 0.025  # the true 1.5 points, within sampling error of 40 groups
    assert stirred.allowance.tau < calm.allowance.tau * 1.25  # 3 groups swinging 30 points barely move it


def test_without_a_swing_the_test_is_the_pooled_two_proportion_test():
    # tau = 0: each window's level is its pooled rate and its variance p0 (1 - p0) / N, so z^2 is
    # the chi-square of the 2x2 table without continuity correction (one-month windows, so the
    # months compared are all the months the null rate p0 is pooled over).
    frame = _months_frame({"a": [0.85] * 6 + [0.78]})
    found = trend_alerts(frame, ["city"], zone=UTC, end=datetime(2026, 8, 1, tzinfo=UTC), tau=0.0, long_months=1)
    short = next(a for a in found.alerts if a.window == "short")
    recent_sat, base_sat = round(400 * 0.78), 6 * round(400 * 0.85)
    chi2, p_two, _, _ = sps.chi2_contingency([[recent_sat, 400 - recent_sat], [base_sat, 2400 - base_sat]],
                                             correction=False)
    assert short.z == pytest.approx(-np.sqrt(chi2), rel=1e-9)
    assert short.p == pytest.approx(p_two / 2, rel=1e-9)
    assert short.n_recent == 400 and short.n_baseline == 2400 and short.alert


def test_the_swing_widens_the_standard_error_as_worked_by_hand():
    # Equal n and a common pooled rate p0 (over September and the six months before it): levels are
    # plain means of the monthly rates, so the short window's change has variance
    # (v + tau^2) (1 + 1/6) with v = p0 (1 - p0) / 400.
    rates = [0.85] * 6 + [0.85, 0.85, 0.80]
    frame = _months_frame({"a": rates})
    found = trend_alerts(frame, ["city"], zone=UTC, end=datetime(2026, 10, 1, tzinfo=UTC), tau=0.02)
    short = next(a for a in found.alerts if a.window == "short")
    p0 = (6 * 340 + 320) / 2800
    se = np.sqrt((p0 * (1 - p0) / 400 + 0.02 ** 2) * (1 + 1 / 6))
    assert short.change == pytest.approx(-0.05) and short.se == pytest.approx(se, rel=1e-9)
    assert short.p == pytest.approx(sps.norm.cdf(-0.05 / se), rel=1e-9)
    assert found.allowance.tau == 0.02 and not found.allowance.estimated


def test_short_window_catches_last_months_drop_and_improvement_is_kept_apart():
    steady = {f"g{i}": [0.85 + 0.01 * ((i + m) % 3 - 1) for m in range(9)] for i in range(12)}
    frame = _months_frame({**steady, "dropped": [0.85] * 8 + [0.72], "rising": [0.80] * 6 + [0.90] * 3})
    found = trend_alerts(frame, ["city"], zone=UTC, end=datetime(2026, 10, 1, tzinfo=UTC))
    worse = {(a.group, a.window) for a in found.deteriorated()}
    better = {(a.group, a.window) for a in found.improved()}
    assert ("dropped", "short") in worse
    assert {g for g, _ in worse} == {"dropped"}  # the rising group is never called worse
    assert {g for g, _ in better} == {"rising"}
    assert all(a.direction == "improvement" for a in found.improved())
    assert found.baseline == ("2026-01-01", "2026-06-01") and found.long == ("2026-07-01", "2026-09-01")
    assert found.short == ("2026-09-01", "2026-09-01") and found.short_baseline == ("2026-03-01", "2026-08-01")
    assert found.alerts[0].alert  # alerts first


def test_end_rounds_down_to_the_local_month_of_the_zone():
    # 1 October 00:30 in Shanghai is 30 September 16:30 UTC: in Shanghai, September has ended.
    frame = _months_frame({"a": [0.85] * 9})
    end = datetime(2026, 9, 30, 16, 30, tzinfo=UTC)
    assert trend_alerts(frame, ["city"], zone=SHANGHAI, end=end).short == ("2026-09-01", "2026-09-01")
    assert trend_alerts(frame, ["city"], zone=UTC, end=end).short == ("2026-08-01", "2026-08-01")


def test_small_windows_are_not_tested():
    frame = _months_frame({"tiny": [0.85] * 6 + [0.0] * 3}, n=5)
    found = trend_alerts(frame, ["city"], zone=UTC, end=datetime(2026, 10, 1, tzinfo=UTC))
    assert all(np.isnan(a.p) and not a.alert and a.direction is None for a in found.alerts)
    with pytest.raises(ValueError, match="windows"):
        trend_alerts(frame, ["city"], zone=UTC, short_months=4, long_months=3)


def test_dissatisfied_per_10k_interactions():
    frame = build_frame({"outlet": ["a", "a"]}, [5, 1], count=[3, 97],
                        answered_at=times("2026-01-10T00:00", "2026-01-11T00:00"))
    counts = DailyCounts(("outlet",), (("a",), ("b",)), np.array(times("2026-01-05", "2026-01-05"), "datetime64[s]"),
                         np.array([20_000, 500]))
    series = {s.key: s for s in dissatisfied_per_10k(frame, counts, ["outlet"], zone=SHANGHAI)}
    assert series[("a",)].per_10k == (pytest.approx(1.5),)
    assert series[("b",)].dissatisfied == (0,)


def test_each_window_is_judged_against_the_months_just_before_it():
    # "since_may" fell 12 points in May and stayed there: its last month is only a little below
    # the six months just before it (four of them already low), but its last three are well below
    # the six before them. "last_month" fell in September only: both windows see it.
    steady = {f"g{i}": [0.85 + 0.01 * ((i + m) % 3 - 1) for m in range(9)] for i in range(12)}
    frame = _months_frame({**steady, "since_may": [0.85] * 4 + [0.73] * 5, "last_month": [0.85] * 8 + [0.70]})
    found = trend_alerts(frame, ["city"], zone=UTC, end=datetime(2026, 10, 1, tzinfo=UTC))
    worse = {(a.group, a.window) for a in found.deteriorated()}
    assert ("since_may", "long") in worse and ("since_may", "short") not in worse
    assert {("last_month", "short"), ("last_month", "long")} <= worse
    since_may = {a.window: a for a in found.alerts if a.group == "since_may"}
    assert since_may["short"].n_baseline == 6 * 400
    assert since_may["short"].baseline_rate == pytest.approx((2 * 0.85 + 4 * 0.73) / 6)
    assert since_may["long"].baseline_rate == pytest.approx((4 * 0.85 + 2 * 0.73) / 6)
