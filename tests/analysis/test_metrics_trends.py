"""Metrics per group, roll-up, NPS, trends and deterioration alerts."""
from __future__ import annotations

from datetime import datetime, timezone

import numpy as np
import pytest

from analysis.frame import build_frame
from analysis.metrics import group_metrics, nps_metrics, response_rate, rollup_metrics
from analysis.queries import DailyCounts
from analysis.trends import deterioration_alerts, dissatisfied_per_10k, period_of, trend_series, with_period


def small_frame():
    return build_frame(
        {"region": ["east", "east", "east", "east", "west", "west"],
         "city": ["hz", "hz", "nb", "nb", "cd", "cd"],
         "outlet": ["o1", "o1", "o2", "o2", "o3", "o3"],
         "channel": ["store", "store", "web", "web", "store", "web"],
         "business_type": ["payment", "broadband", "payment", "payment", "payment", "broadband"]},
        [1, 4, 2, 5, 3, 1],
        reasons=[[], ["wait_time"], [], ["wait_time", "billing"], ["other"], []],
        count=[8, 2, 6, 4, 5, 5],
    )


def test_group_metrics_counts_rates_and_reasons():
    m = {g.key: g for g in group_metrics(small_frame(), ["outlet"], sent={("o1",): 20})}
    o1, o2 = m[("o1",)], m[("o2",)]
    assert (o1.responses, o1.satisfied, o1.csat) == (10, 8, pytest.approx(0.8))
    assert o1.mean_score == pytest.approx((8 * 1 + 2 * 4) / 10)
    assert o1.dissatisfied_share == pytest.approx(0.2)
    assert o1.sent == 20 and o1.response_rate == pytest.approx(0.5)
    assert m[("o3",)].sent == 0 and np.isnan(m[("o3",)].response_rate)
    assert o1.csat_low < 0.8 < o1.csat_high
    assert o2.reason_shares == (("wait_time", pytest.approx(0.4)), ("billing", pytest.approx(0.4)))


def test_cells_of_two_columns():
    keys = {g.key: g.responses for g in group_metrics(small_frame(), ["channel", "business_type"])}
    assert keys == {("store", "payment"): 13, ("store", "broadband"): 2, ("web", "payment"): 10,
                    ("web", "broadband"): 5}


def test_rollup_is_in_tree_order_with_parent_totals():
    rows = rollup_metrics(small_frame())
    assert [r.key for r in rows] == [("east",), ("east", "hz"), ("east", "hz", "o1"), ("east", "nb"),
                                     ("east", "nb", "o2"), ("west",), ("west", "cd"), ("west", "cd", "o3")]
    assert rows[0].responses == rows[1].responses + rows[3].responses == 20


def test_response_rate_handles_nothing_sent():
    np.testing.assert_allclose(response_rate(np.array([5, 0]), np.array([10, 0])), [0.5, np.nan])


def test_nps_per_group():
    frame = build_frame({"channel": ["web"] * 3 + ["store"] * 2}, [10, 9, 3, 8, 0], count=[5, 5, 10, 1, 1])
    m = {g.key: g for g in nps_metrics(frame, ["channel"])}
    assert m[("web",)].nps == pytest.approx(0.0)
    assert m[("store",)].nps == pytest.approx(-50.0)
    assert m[("web",)].nps_low < 0 < m[("web",)].nps_high


def times(*texts):
    return [np.datetime64(t) for t in texts]


def test_periods_follow_the_local_calendar():
    t = np.array(times("2026-01-31T17:00:00", "2026-01-31T15:00:00", "2026-03-01T12:00:00"), "datetime64[s]")
    months = period_of(t, "month")
    assert [str(m) for m in months] == ["2026-02-01", "2026-01-01", "2026-03-01"]  # 01:00 Shanghai is February
    weeks = period_of(t, "week")
    assert str(weeks[2]) == "2026-02-23"  # Sunday 1 March belongs to the week from Monday 23 February
    assert all(np.datetime64(w, "D").astype(object).weekday() == 0 for w in weeks)


def test_trend_series_per_month():
    frame = build_frame({"outlet": ["a", "a", "a"]}, [1, 4, 1], count=[9, 1, 5],
                        answered_at=times("2026-01-10T00:00", "2026-01-11T00:00", "2026-02-10T00:00"))
    (s,) = trend_series(frame, ["outlet"])
    assert s.periods == ("2026-01-01", "2026-02-01") and s.n == (10, 5)
    assert s.rate == (pytest.approx(0.9), pytest.approx(1.0))
    by_month = {m.key: m.csat for m in group_metrics(with_period(frame), ["outlet", "period"])}
    assert by_month == {("a", "2026-01-01"): pytest.approx(0.9), ("a", "2026-02-01"): 1.0}


def _monthly(outlet, rates, n=200):
    rows = {"outlet": [], "value": [], "count": [], "at": []}
    for month, rate in enumerate(rates, start=1):
        sat = int(n * rate)
        for value, count in ((1, sat), (4, n - sat)):
            rows["outlet"].append(outlet)
            rows["value"].append(value)
            rows["count"].append(count)
            rows["at"].append(np.datetime64(f"2025-{month:02d}-15T00:00"))
    return rows


def test_deterioration_alert_only_for_the_group_that_got_worse():
    parts = [_monthly("steady", [0.85] * 9), _monthly("worse", [0.85] * 6 + [0.7] * 3),
             _monthly("tiny", [0.85] * 6 + [0.0] * 3, n=5)]
    cat = {k: sum((p[k] for p in parts), []) for k in parts[0]}
    frame = build_frame({"outlet": cat["outlet"]}, cat["value"], count=cat["count"], answered_at=cat["at"])
    end = datetime(2025, 10, 1, tzinfo=timezone.utc)
    alerts = {a.group: a for a in deterioration_alerts(frame, ["outlet"], end=end)}
    assert alerts["worse"].alert and alerts["worse"].n_recent == 600 and alerts["worse"].n_baseline == 1200
    assert alerts["worse"].change == pytest.approx(-0.15)
    assert not alerts["steady"].alert
    assert not alerts["tiny"].alert and np.isnan(alerts["tiny"].p)  # 15 answers: untested, not alarmed


def test_dissatisfied_per_10k_interactions():
    frame = build_frame({"outlet": ["a", "a"]}, [5, 1], count=[3, 97],
                        answered_at=times("2026-01-10T00:00", "2026-01-11T00:00"))
    counts = DailyCounts(("outlet",), (("a",), ("b",)), np.array(times("2026-01-05", "2026-01-05"), "datetime64[s]"),
                         np.array([20_000, 500]))
    series = {s.key: s for s in dissatisfied_per_10k(frame, counts, ["outlet"])}
    assert series[("a",)].per_10k == (pytest.approx(1.5),)
    assert series[("b",)].dissatisfied == (0,)
