"""Reason drivers of any group, raw and case-mix adjusted (stratified), against scipy and on planted data."""
from __future__ import annotations

import numpy as np
import pytest
from scipy import stats as sps

from analysis.drivers import group_drivers, stratified_upper
from analysis.frame import build_frame


def test_stratified_test_sums_the_hypergeometric_moments_of_each_stratum():
    # Two strata: (group's answers naming the reason, group's answers, all naming it, all answers).
    strata = [(12, 40, 30, 300), (5, 10, 60, 120)]
    a, w, k, big = (np.array([[s[i] for s in strata]]) for i in range(4))
    expected, p = stratified_upper(a, w, k, big)
    dists = [sps.hypergeom(M, K, N) for _, N, K, M in strata]
    mean = sum(d.mean() for d in dists)
    var = sum(d.var() for d in dists)
    assert expected[0] == pytest.approx(mean)
    assert p[0] == pytest.approx(sps.norm.sf((17 - mean - 0.5) / np.sqrt(var)))
    # One stratum without the continuity correction: z^2 is the Mantel-Haenszel chi-square on the 2x2 table.
    expected, p = stratified_upper(a[:, :1], w[:, :1], k[:, :1], big[:, :1], continuity=False)
    d = dists[0]
    assert 2 * p[0] == pytest.approx(sps.chi2.sf((12 - d.mean()) ** 2 / d.var(), 1))


def answers(rows: list[tuple[str, str, int, list[str], int]]):
    cols = {"outlet": [], "business_type": []}
    values, reasons, counts = [], [], []
    for outlet, bt, value, rs, count in rows:
        cols["outlet"].append(outlet)
        cols["business_type"].append(bt)
        values.append(value)
        reasons.append(rs)
        counts.append(count)
    return build_frame(cols, values, reasons=reasons, count=counts)


def test_a_complaint_heavy_outlet_hears_billing_only_because_of_its_mix():
    rows = []
    for i in range(20):
        # Complaints name billing half the time, payments rarely; ordinary outlets are mostly payments.
        rows += [(f"o{i}", "payment", 4, ["wait_time"], 5), (f"o{i}", "payment", 4, ["billing"], 2),
                 (f"o{i}", "payment", 4, ["process"], 13),
                 (f"o{i}", "complaint", 5, ["billing"], 5), (f"o{i}", "complaint", 5, ["attitude"], 5)]
    rows += [("desk", "payment", 4, ["wait_time"], 2), ("desk", "payment", 4, ["billing"], 1),
             ("desk", "payment", 4, ["process"], 7),
             ("desk", "complaint", 5, ["billing"], 50), ("desk", "complaint", 5, ["attitude"], 50)]
    rows += [("slow", "payment", 4, ["wait_time"], 40), ("slow", "complaint", 5, ["attitude"], 2),
             ("slow", "payment", 1, [], 100)]
    frame = answers(rows)
    desk = group_drivers(frame, ["outlet"], ["desk"], case_mix=("business_type",))
    assert "billing" in [d.reason for d in desk.significant("raw")]
    assert desk.significant("adjusted") == []
    billing = next(d for d in desk.adjusted if d.reason == "billing")
    # Expected by hand: in each cell, the group's answers that named a reason times the share of
    # billing among all answers there that named one (the group included, as the hypergeometric null has it).
    assert billing.expected == pytest.approx(10 * (40 + 1) / (400 + 10 + 40) + 100 * (100 + 50) / (200 + 100 + 2),
                                             rel=1e-9)
    slow = group_drivers(frame, ["outlet"], ["slow"], case_mix=("business_type",))
    assert [d.reason for d in slow.significant("raw")] == ["wait_time"]
    assert [d.reason for d in slow.significant("adjusted")] == ["wait_time"]
    assert slow.with_reason == 42


def test_an_unknown_group_is_named():
    frame = answers([("o1", "payment", 4, ["billing"], 3)])
    with pytest.raises(KeyError, match="no group 'o9'"):
        group_drivers(frame, ["outlet"], ["o9"])
