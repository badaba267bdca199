"""Metrics per group, roll-up and NPS (trends: test_trends.py)."""
from __future__ import annotations

import numpy as np
import pytest

from analysis.frame import REASON_CODES, build_frame
from analysis.metrics import group_metrics, nps_metrics, response_rate, rollup_metrics


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


def test_reason_shares_count_each_weighted_answer_naming_a_reason_once_per_reason():
    rng = np.random.default_rng(5)
    rows = 600
    outlets = [f"o{i}" for i in rng.integers(0, 7, rows)]
    counts = rng.integers(1, 4, rows)
    named = [list(rng.choice(REASON_CODES, int(rng.integers(0, 4)), replace=False)) if rng.random() < 0.3 else []
             for _ in range(rows)]
    frame = build_frame({"outlet": outlets}, rng.integers(1, 6, rows), reasons=named, count=counts)
    for m in group_metrics(frame, ["outlet"]):
        mine = [i for i, o in enumerate(outlets) if o == m.key[0]]
        want = {code: sum(counts[i] for i in mine if code in named[i]) / m.responses for code in REASON_CODES}
        assert dict(m.reason_shares) == {code: pytest.approx(share) for code, share in want.items() if share > 0}
        assert m.responses == sum(counts[i] for i in mine)


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
