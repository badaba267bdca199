"""Short boards on realistic shapes: case mix first, adjusted-only boards in JSON, watch list, pools, cells."""
from __future__ import annotations

import json

import numpy as np
import pytest
from scipy import stats as sps
from scipy.special import expit, logit

from analysis.report import format_report, run_shortboards
from analysis.shortboard import shortboard_report
from analysis.spread import spread_lower
from tests.analysis.test_shortboard import counts_frame


def mix_groups() -> list[dict]:
    """Outlets half payment (95%) half complaints (60%); `hidden` serves payment only at 85%."""
    groups = []
    for i in range(30):
        groups.append(dict(outlet=f"o{i}", business_type="payment", sat=95, unsat=5, reasons={"billing": 2}))
        groups.append(dict(outlet=f"o{i}", business_type="complaint", sat=60, unsat=40, reasons={"billing": 8}))
    groups.append(dict(outlet="hidden", business_type="payment", sat=170, unsat=30, reasons={"wait_time": 25}))
    return groups


def test_case_mix_is_the_headline_and_an_adjusted_only_board_is_reported_with_its_reasons():
    frame = counts_frame(mix_groups())
    rep = shortboard_report(frame, ["outlet"])
    assert rep.headline == "adjusted" and rep.case_mix_p < 1e-10
    hidden = next(b for b in rep.boards if b.group == "hidden")
    # Raw it looks better than the rest (85% vs 77.5%); for its mix it is 10 points short.
    assert not hidden.flagged and hidden.gap < 0
    a = hidden.adjusted
    assert a.flagged and rep.headline_flagged == [hidden] and rep.flagged == []
    # Expected from the rest of the scope only, cell by cell: 200 payment answers at the others' 95%.
    assert a.expected == pytest.approx(200 * 0.95) and a.expected_rate == pytest.approx(0.95)
    assert a.gap == pytest.approx(0.95 - 0.85) and a.impact == pytest.approx(190 - 170)
    assert a.rate == pytest.approx(170 / 190 * hidden.rest_rate)
    assert a.rate < a.shrunken_rate < hidden.rest_rate and a.shrunken_low < a.shrunken_rate < a.shrunken_high
    assert hidden.top_reasons == ("wait_time",)
    items = json.loads(run_shortboards(frame, [["outlet"]], as_json=True))
    assert [(i["group"], i["status"], i["flagged"], i["flagged_adjusted"]) for i in items] == [
        ("hidden", "short_board", False, True)]
    head = items[0]["headline"]
    assert head["view"] == "adjusted" and head["expected_rate"] == pytest.approx(0.95)
    assert head["gap"] == pytest.approx(0.10) and head["q"] < 0.05 and items[0]["top_reasons"] == ["wait_time"]
    text = format_report(rep)
    assert "case-mix adjusted" in text and "adjusted only" in text and "wait_time" in text


def test_without_a_mix_that_matters_the_raw_view_leads():
    groups = [dict(outlet=f"o{i}", business_type=bt, sat=90, unsat=10) for i in range(30) for bt in ("a", "b")]
    groups.append(dict(outlet="bad", business_type="a", sat=60, unsat=40))
    rep = shortboard_report(counts_frame(groups), ["outlet"])
    assert rep.headline == "raw" and [b.group for b in rep.headline_flagged] == ["bad"]


def test_nothing_significant_gives_a_watch_list_with_intervals():
    rng = np.random.default_rng(2)
    groups = [dict(outlet=f"o{i:02d}", sat=int(s), unsat=int(150 - s))
              for i, s in enumerate(rng.binomial(150, 0.85, 40))]
    groups.append(dict(outlet="slipping", sat=118, unsat=32))  # 78.7%: lowest, not significant
    frame = counts_frame(groups)
    rep = shortboard_report(frame, ["outlet"], case_mix=())
    assert rep.headline_flagged == [] and rep.flagged_any == []
    watch = rep.watch_list
    assert watch[0].group == "slipping" and 0 < len(watch) <= 10
    b = watch[0]
    assert b.shrunken_low < b.shrunken_rate < b.shrunken_high and b.rate < b.shrunken_rate
    items = json.loads(run_shortboards(frame, [["outlet"]], as_json=True, case_mix=()))
    assert items and {i["status"] for i in items} == {"watch"} and items[0]["group"] == "slipping"
    assert items[0]["headline"]["shrunken_low"] == pytest.approx(b.shrunken_low)
    assert "Watch list" in format_report(rep)


def spread_outlets(rng, cities: int, per_city: int, sigma: float = 0.25) -> list[dict]:
    groups = []
    for c in range(cities):
        true = expit(logit(0.85) + rng.normal(0, sigma, per_city))
        n = rng.poisson(150, per_city)
        groups += [dict(outlet=f"c{c}o{i}", city=f"c{c}", sat=int(s), unsat=int(m - s))
                   for i, (s, m) in enumerate(zip(rng.binomial(n, true), n))]
    return groups


def test_a_pool_of_small_outlets_is_tested_with_a_pools_share_of_the_spread():
    rng = np.random.default_rng(11)
    groups = spread_outlets(rng, 10, 30)
    for c in range(10):  # every city has small outlets at 85%; city c9's 76 are at 75%
        rate = 0.75 if c == 9 else 0.85
        true = np.clip(expit(logit(rate) + rng.normal(0, 0.25, 76)), 0, 1)
        groups += [dict(outlet=f"c{c}s{i}", city=f"c{c}", sat=int(s), unsat=int(10 - s))
                   for i, s in enumerate(rng.binomial(10, true))]
    rep = shortboard_report(counts_frame(groups), ["outlet"], min_n=30, case_mix=())
    pools = {b.group: b for b in rep.boards if b.pooled_groups > 1}
    assert len(pools) == 10
    worse = pools["city c9: 76 small groups"]
    assert worse.flagged and worse.q < 0.001
    assert [b.group for b in rep.flagged if b.pooled_groups > 1] == [worse.group]
    # Its p by hand: the null's spread times sum n_j^2 / N^2 = 76 x 10^2 / 760^2 = 1 / 76.
    fit = rep.null
    tau2 = fit.tau2 / 76
    target = worse.rest_rate * _kept_ratio(rep)
    by_hand = spread_lower(np.array([worse.satisfied]), np.array([worse.n]), fit.centre(np.array([target])), tau2,
                           level=fit.level)[0]
    assert worse.p == pytest.approx(by_hand, rel=1e-6)
    # With one outlet's spread, as before, the pool would not be found.
    one_outlet = spread_lower(np.array([worse.satisfied]), np.array([worse.n]), fit.centre(np.array([target])),
                              fit.tau2, level=fit.level)[0]
    assert one_outlet > 50 * worse.p


def _kept_ratio(rep) -> float:
    """Observed / expected satisfied among the groups not set aside (the re-centring of the test)."""
    kept = [b for b in rep.boards if not (b.q < 0.2)]
    return sum(b.satisfied for b in kept) / sum(b.n * b.rest_rate for b in kept)


def test_five_huge_short_cells_are_found_and_nothing_else():
    rng = np.random.default_rng(4)
    channels = [f"ch{i}" for i in range(7)]
    types = [f"bt{j}" for j in range(5)]
    short = {("ch0", "bt1"), ("ch2", "bt3"), ("ch3", "bt0"), ("ch5", "bt4"), ("ch6", "bt2")}
    groups = []
    for ch in channels:
        for bt in types:
            rate = rng.uniform(0.54, 0.60) if (ch, bt) in short else rng.uniform(0.84, 0.87)
            n = int(rng.integers(2800, 3200))
            s = int(rng.binomial(n, rate))
            groups.append(dict(channel=ch, business_type=bt, sat=s, unsat=n - s))
    rep = shortboard_report(counts_frame(groups), ["channel", "business_type"], case_mix=())
    assert {b.key for b in rep.flagged} == short
    assert rep.dispersion.tau2 < 0.001  # not inflated to the short cells' 30 points


def test_the_oracle_and_ours_agree_on_hypergeometric_p_without_spread():
    groups = [dict(outlet=f"o{i}", sat=85, unsat=15) for i in range(10)] + [dict(outlet="x", sat=70, unsat=30)]
    rep = shortboard_report(counts_frame(groups), ["outlet"], case_mix=())
    x = next(b for b in rep.boards if b.group == "x")
    expected = sps.hypergeom.cdf(70, 1100, 920, 100) - 0.5 * sps.hypergeom.pmf(70, 1100, 920, 100)
    assert x.p == pytest.approx(expected, rel=1e-9)
