"""Short boards on small planted data: finds what was planted and nothing else."""
from __future__ import annotations

import json

import numpy as np
import pytest
from scipy.special import expit, logit

from analysis.frame import REASON_CODES, build_frame
from analysis.report import FIELDS, format_report, run_shortboards
from analysis.shortboard import shortboard_report, shortboards


def counts_frame(groups: list[dict]) -> object:
    """Weighted rows from per-group counts: dict(columns..., sat=, unsat=, reasons={code: k})."""
    cols: dict[str, list[str]] = {}
    values, counts, reasons = [], [], []
    for g in groups:
        dims = {k: v for k, v in g.items() if k not in ("sat", "unsat", "reasons")}
        unsat_reasons = dict(g.get("reasons", {}))
        rows = [(1, g["sat"], [])]
        left = g["unsat"]
        for code, k in unsat_reasons.items():
            rows.append((5, k, [code]))
            left -= k
        rows.append((4, left, []))
        for value, count, rs in rows:
            if count <= 0:
                continue
            for k, v in dims.items():
                cols.setdefault(k, []).append(v)
            values.append(value)
            counts.append(count)
            reasons.append(rs)
    return build_frame(cols, values, reasons=reasons, count=counts)


def outlets(n_outlets: int, n: int, rate: float, *, city: str = "c1", prefix: str = "o", **extra) -> list[dict]:
    sat = round(n * rate)
    return [dict(outlet=f"{prefix}{i:03d}", city=city, sat=sat, unsat=n - sat, **extra) for i in range(n_outlets)]


def test_planted_outlet_is_the_only_short_board():
    groups = outlets(59, 200, 0.85) + [dict(outlet="bad", city="c1", sat=120, unsat=80)]
    boards = shortboards(counts_frame(groups), ["outlet"])
    assert [b.group for b in boards] == ["bad"]
    b = boards[0]
    assert b.rate == pytest.approx(0.6)
    assert b.gap == pytest.approx(0.85 - 0.6, abs=1e-9)
    assert b.impact == pytest.approx(200 * b.gap)
    assert b.q < 0.05 and b.p_mann_whitney < 1e-6
    assert b.rate < b.shrunken_rate < 0.85


def test_one_failing_outlet_among_perfect_ones_is_flagged():
    # The rest is 100% satisfied: the spread must not be converted at a rate of 100%.
    groups = outlets(40, 50, 1.0) + [dict(outlet="bad", city="c1", sat=0, unsat=50)]
    assert [b.group for b in shortboards(counts_frame(groups), ["outlet"])] == ["bad"]


def test_natural_spread_is_not_flagged_but_the_naive_test_would():
    rng = np.random.default_rng(2)
    true = expit(logit(0.85) + rng.normal(0, 0.35, 300))
    n = rng.poisson(150, 300)
    x = rng.binomial(n, true)
    frame = counts_frame([dict(outlet=f"o{i}", sat=int(a), unsat=int(b - a)) for i, (a, b) in enumerate(zip(x, n))])
    rep = shortboard_report(frame, ["outlet"], case_mix=())
    assert rep.dispersion.tau2 > 0.001
    assert rep.flagged == []
    naive = [b for b in rep.boards if b.p_exact < 0.05 and b.gap > 0]
    assert len(naive) > 20
    without = shortboard_report(frame, ["outlet"], case_mix=(), overdispersed=False)
    assert len(without.flagged) > 0


def test_small_outlets_are_rolled_up_to_their_city_never_dropped():
    groups = outlets(40, 200, 0.85, city="big")
    groups += [dict(outlet=f"s{i}", city="smallville", sat=5, unsat=5) for i in range(6)]  # 60 answers at 50%
    groups += [dict(outlet="lonely", city="hamlet", sat=9, unsat=1)]
    rep = shortboard_report(counts_frame(groups), ["outlet"], min_n=30)
    names = {g.group: g for g in rep.not_enough}
    assert set(names) == {f"s{i}" for i in range(6)} | {"lonely"}
    assert names["s0"].rolled_up_to == "city smallville: 6 small groups"
    assert "still under 30" in names["lonely"].rolled_up_to
    pooled = [b for b in rep.boards if b.pooled_groups == 6]
    assert len(pooled) == 1 and pooled[0].n == 60 and pooled[0].flagged
    assert "Not enough answers" in format_report(rep)


def test_cells_are_compared_within_their_channel():
    groups = []
    for bt in ("payment", "broadband", "complaint", "inquiry"):
        for ch, rate in (("store", 0.9), ("hotline", 0.9), ("kiosk", 0.9), ("web", 0.75)):
            sat = int(400 * rate)
            groups.append(dict(channel=ch, business_type=bt, sat=sat, unsat=400 - sat))
    frame = counts_frame(groups)
    by_channel = shortboards(frame, ["channel"])
    assert [b.group for b in by_channel] == ["web"]
    cells = shortboard_report(frame, ["channel", "business_type"])
    assert cells.within == ("channel",)
    assert cells.flagged == []
    web_cell = next(b for b in cells.boards if b.key == ("web", "broadband"))
    assert web_cell.scope == "web" and web_cell.gap == pytest.approx(0.0, abs=1e-9)
    # A cell that is bad inside a good channel is still found.
    groups.append(dict(channel="store", business_type="device", sat=240, unsat=160))
    cells = shortboard_report(counts_frame(groups), ["channel", "business_type"])
    assert [b.key for b in cells.flagged] == [("store", "device")]


def test_holm_for_small_families_and_bh_for_large_ones():
    small = shortboard_report(counts_frame(outlets(5, 300, 0.85)), ["outlet"])
    large = shortboard_report(counts_frame(outlets(60, 300, 0.85)), ["outlet"])
    assert (small.adjustment, large.adjustment) == ("holm", "bh")


def test_case_mix_an_outlet_of_complaints_is_not_flagged_after_adjustment():
    groups = []
    for i in range(30):
        groups.append(dict(outlet=f"o{i}", business_type="payment", sat=171, unsat=9))  # 95%
        groups.append(dict(outlet=f"o{i}", business_type="complaint", sat=12, unsat=8))  # 60%
    groups.append(dict(outlet="complaints", business_type="payment", sat=38, unsat=2))
    groups.append(dict(outlet="complaints", business_type="complaint", sat=96, unsat=64))
    rep = shortboard_report(counts_frame(groups), ["outlet"])
    board = next(b for b in rep.boards if b.group == "complaints")
    assert board.flagged  # raw: 67% against 91%
    assert board.adjusted is not None and not board.adjusted.flagged
    assert board.adjusted.ratio == pytest.approx(1.0, abs=0.02)
    assert rep.flagged_adjusted == []
    # A truly worse outlet stays flagged in the adjusted view.
    groups.append(dict(outlet="worse", business_type="payment", sat=140, unsat=40))
    groups.append(dict(outlet="worse", business_type="complaint", sat=8, unsat=12))
    rep = shortboard_report(counts_frame(groups), ["outlet"])
    assert [b.group for b in rep.flagged_adjusted] == ["worse"]


def test_reason_drivers_name_the_over_represented_reason():
    groups = [dict(outlet=f"o{i}", sat=170, unsat=30, reasons={"wait_time": 5, "attitude": 5, "billing": 5})
              for i in range(40)]
    groups.append(dict(outlet="slow", sat=120, unsat=80, reasons={"wait_time": 60, "attitude": 4, "billing": 4}))
    board = shortboards(counts_frame(groups), ["outlet"])[0]
    assert board.group == "slow"
    assert board.top_reasons == ("wait_time",)
    assert board.drivers[0].reason == "wait_time" and board.drivers[0].q < 0.05
    assert set(d.reason for d in board.drivers) == set(REASON_CODES)


def test_ranking_uses_shrunken_rates_so_tiny_groups_do_not_top_the_list():
    groups = outlets(40, 300, 0.9) + [dict(outlet="tiny", city="c1", sat=0, unsat=3),
                                      dict(outlet="big", city="c1", sat=210, unsat=90)]
    rep = shortboard_report(counts_frame(groups), ["outlet"], min_n=1)
    tiny = next(b for b in rep.boards if b.group == "tiny")
    assert rep.boards[0].group == "big"
    assert tiny.rate == 0.0 and tiny.shrunken_rate > 0.6


def test_json_output_has_the_documented_names():
    groups = outlets(59, 200, 0.85) + [dict(outlet="bad", city="c1", sat=120, unsat=80)]
    out = json.loads(run_shortboards(counts_frame(groups), [["outlet"]], as_json=True))
    assert len(out) == 1 and out[0]["group"] == "bad"
    assert set(FIELDS) <= set(out[0])
    text = run_shortboards(counts_frame(groups), [["outlet"], ["city"]], as_json=False)
    assert "Short boards by outlet" in text and "bad" in text and "Short boards by city" in text
