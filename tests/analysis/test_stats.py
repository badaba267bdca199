"""Statistics against scipy and hand-worked reference values."""
from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats as sps

from analysis.shrinkage import fit_beta_binomial, shrink
from analysis.spread import funnel_limits, overdispersion, spread_lower
from analysis.stats import (
    benjamini_hochberg, holm, hypergeom_lower, hypergeom_pmf, hypergeom_upper, mann_whitney_counts, nps, wilson,
)


@pytest.mark.parametrize("x,n,big_x,big_n", [(3, 10, 80, 100), (0, 5, 20, 40), (30, 40, 850, 1000),
                                             (170, 200, 850_000, 1_000_000), (12, 12, 60, 70),
                                             (4000, 5000, 850_000, 1_000_000)])  # P(X=0) underflows
def test_hypergeom_lower_exact_equals_fisher_one_sided(x, n, big_x, big_n):
    table = [[x, n - x], [big_x - x, (big_n - n) - (big_x - x)]]
    _, fisher_p = sps.fisher_exact(table, alternative="less")
    res = hypergeom_lower(np.array([x]), np.array([n]), np.array([big_x]), np.array([big_n]), mid_p=False)
    assert res.p_value[0] == pytest.approx(fisher_p, rel=1e-7, abs=1e-14)


def test_hypergeom_mid_p_subtracts_half_the_point_probability():
    x, n, big_x, big_n = 4, 20, 70, 100
    exact = sps.hypergeom.cdf(x, big_n, big_x, n)
    point = sps.hypergeom.pmf(x, big_n, big_x, n)
    res = hypergeom_lower(np.array([x]), np.array([n]), np.array([big_x]), np.array([big_n]))
    assert res.p_value[0] == pytest.approx(exact - point / 2, rel=1e-9)
    assert hypergeom_pmf(np.array([x]), np.array([big_n]), np.array([big_x]), np.array([n]))[0] == pytest.approx(point)


def test_hypergeom_upper_equals_fisher_greater_for_many_groups_at_once():
    rng = np.random.default_rng(1)
    n = rng.integers(1, 60, 50)
    x = rng.binomial(n, 0.3)
    big_n, big_x = 5000, 1500
    res = hypergeom_upper(x, n, np.full(50, big_x), np.full(50, big_n), mid_p=False)
    want = [sps.fisher_exact([[a, b - a], [big_x - a, big_n - b - big_x + a]], alternative="greater")[1]
            for a, b in zip(x, n)]
    np.testing.assert_allclose(res.p_value, want, rtol=1e-7, atol=1e-14)


def test_mann_whitney_from_counts_matches_scipy_on_expanded_data():
    group = np.array([[3, 5, 4, 6, 7]])
    rest = np.array([[40, 30, 10, 5, 3]])
    expand = lambda c: np.repeat(np.arange(1, 6), c)  # noqa: E731
    ref = sps.mannwhitneyu(expand(group[0]), expand(rest[0]), alternative="greater",
                           method="asymptotic", use_continuity=True)
    res = mann_whitney_counts(group, rest)
    assert res.p_value[0] == pytest.approx(ref.pvalue, rel=1e-9)
    assert res.statistic[0] == pytest.approx(ref.statistic / (group.sum() * rest.sum()))


@settings(max_examples=30, deadline=None)
@given(st.lists(st.integers(0, 12), min_size=5, max_size=5), st.lists(st.integers(0, 30), min_size=5, max_size=5))
def test_mann_whitney_counts_property(g, r):
    if sum(g) == 0 or sum(r) == 0:
        return
    gx, rx = np.repeat(np.arange(1, 6), g), np.repeat(np.arange(1, 6), r)
    if np.unique(np.concatenate([gx, rx])).size < 2:
        return
    ref = sps.mannwhitneyu(gx, rx, alternative="greater", method="asymptotic")
    got = mann_whitney_counts(np.array([g]), np.array([r])).p_value[0]
    assert got == pytest.approx(ref.pvalue, rel=1e-8, abs=1e-12)


def test_wilson_matches_the_hand_formula():
    x, n, z = 17, 20, 1.959963984540054
    p = x / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    ci = wilson(np.array([x]), np.array([n]))
    assert (ci.low[0], ci.high[0]) == pytest.approx((centre - half, centre + half))
    assert ci.low[0] == pytest.approx(0.6396, abs=1e-4)  # a textbook value for 17/20
    assert wilson(np.array([0]), np.array([10])).low[0] == pytest.approx(0.0, abs=1e-12)


def test_holm_hand_worked_example():
    p = np.array([0.01, 0.04, 0.03, 0.005])
    # sorted 0.005, 0.01, 0.03, 0.04 -> x4, x3, x2, x1 = 0.02, 0.03, 0.06, 0.06 (monotone)
    np.testing.assert_allclose(holm(p), [0.03, 0.06, 0.06, 0.02])


def test_benjamini_hochberg_hand_worked_example():
    p = np.array([0.01, 0.04, 0.03, 0.005, np.nan])
    # m = 4: sorted 0.005, 0.01, 0.03, 0.04 -> 0.02, 0.02, 0.04, 0.04
    q = benjamini_hochberg(p)
    np.testing.assert_allclose(q[:4], [0.02, 0.04, 0.04, 0.02])
    assert np.isnan(q[4])


def test_shrinkage_pulls_small_groups_most_and_stays_between():
    rng = np.random.default_rng(3)
    n = rng.integers(20, 400, 300)
    true = rng.beta(85, 15, 300)
    x = rng.binomial(n, true)
    prior = fit_beta_binomial(x, n)
    assert 0.8 < prior.mean < 0.9
    assert 30 < prior.concentration < 400  # the truth is 100
    small = shrink(np.array([3]), np.array([3]), prior)[0]
    big = shrink(np.array([300]), np.array([300]), prior)[0]
    assert prior.mean < big < small <= 1.0 or prior.mean < small < big <= 1.0
    assert small - prior.mean < big - prior.mean  # 3 of 3 moves less far from the mean than 300 of 300
    raw = x / n
    s = shrink(x, n, prior)
    assert np.all((s - prior.mean) * (raw - prior.mean) >= 0)
    assert np.all(np.abs(s - prior.mean) <= np.abs(raw - prior.mean) + 1e-12)


def test_overdispersion_recovers_no_spread_and_real_spread():
    rng = np.random.default_rng(5)
    n = rng.poisson(200, 2000)
    x = rng.binomial(n, 0.85)
    flat = overdispersion(x, n, 0.85)
    assert flat.phi == pytest.approx(1.0, abs=0.12)
    assert flat.tau2 < 2e-4
    true = rng.normal(0.85, 0.04, 2000).clip(0.5, 0.99)
    spread = overdispersion(rng.binomial(n, true), n, 0.85)
    assert spread.phi > 2
    assert spread.tau2 == pytest.approx(0.04 ** 2, rel=0.25)


def test_spread_lower_is_the_binomial_tail_without_spread_and_wider_with_it():
    x, n, m = np.array([60, 30]), np.array([80, 40]), np.array([0.85, 0.85])
    ref = sps.binom.cdf(x, n, m) - 0.5 * sps.binom.pmf(x, n, m)
    np.testing.assert_allclose(spread_lower(x, n, m, 0.0), ref, rtol=1e-10)
    np.testing.assert_allclose(spread_lower(x, n, m, 1e-10), ref, rtol=1e-5)
    assert np.all(spread_lower(x, n, m, 0.002) > ref)


def test_funnel_limits_widen_with_tau2_and_narrow_with_n():
    f0 = funnel_limits(0.85, np.array([25, 100, 400]))
    f1 = funnel_limits(0.85, np.array([25, 100, 400]), tau2=0.001)
    assert np.all(np.diff(f0.low95) > 0) and np.all(f1.low998 < f0.low998)
    assert f0.low95[1] == pytest.approx(0.85 - 1.959964 * math.sqrt(0.85 * 0.15 / 100), abs=1e-6)


def test_nps_and_its_interval():
    counts = np.zeros(11)
    counts[10], counts[8], counts[3] = 50, 30, 20  # 50% promoters, 20% detractors
    r = nps(counts)
    assert r.nps == pytest.approx(30.0)
    se = math.sqrt((0.5 + 0.2 - 0.3 ** 2) / 100)
    assert (r.low, r.high) == pytest.approx((100 * (0.3 - 1.959964 * se), 100 * (0.3 + 1.959964 * se)), abs=1e-3)


def test_the_statistics_modules_load_without_scipy_stats():
    # scipy.stats takes seconds to import; these modules compute what they need from scipy.special.
    import subprocess
    import sys

    code = ("import sys, analysis.stats, analysis.drivers, analysis.trends, analysis.metrics, analysis.answers_csv; "
            "print(sorted(m for m in sys.modules if m.startswith('scipy.stats')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
