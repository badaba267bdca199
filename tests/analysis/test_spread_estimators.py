"""The spread estimators against hand-worked values and scipy: empirical null, posterior intervals, chi-square."""
from __future__ import annotations

import numpy as np
import pytest
from scipy import stats as sps
from scipy.special import expit, logit

from analysis.casemix import cells_differ
from analysis.shrinkage import BetaPrior, posterior_interval
from analysis.spread import (
    _truncated_nll, calibrate_centre, empirical_null, exact_null, overdispersion, robust_null, spread_lower,
)


def test_truncated_likelihood_is_scipys_truncated_normal():
    rng = np.random.default_rng(1)
    d = rng.normal(0.1, 0.3, 50)
    v = rng.uniform(0.01, 0.05, 50)
    scale = rng.uniform(0.2, 1.0, 50)
    lo, hi = d - rng.uniform(0.1, 1, 50), d + rng.uniform(0.1, 1, 50)
    delta, tau = 0.05, 0.2
    sd = np.sqrt(v + scale * tau ** 2)
    expected = -sps.truncnorm.logpdf(d, (lo - delta) / sd, (hi - delta) / sd, loc=delta, scale=sd).sum()
    constant = 50 * 0.5 * np.log(2 * np.pi)  # left out of the fitted function: it moves nothing
    assert _truncated_nll(np.array([delta, tau]), d, v, scale, lo, hi) + constant == pytest.approx(expected, rel=1e-10)


def test_empirical_null_with_a_wide_window_is_the_random_effects_maximum_likelihood():
    # Equal n: the ML estimates are the mean of the logits and their variance less the noise;
    # the standard error of a normal variance from k values is sqrt(2 / k) x the variance.
    rng = np.random.default_rng(3)
    n = np.full(400, 2000)
    true = expit(logit(0.8) + rng.normal(0, 0.3, 400))
    x = rng.binomial(n, true)
    p0 = 0.8
    d = np.log((x + 0.5) / (n - x + 0.5)) - logit(p0)
    v = 1 / (2000 * p0 * (1 - p0))
    tau2_logit = np.mean((d - d.mean()) ** 2) - v
    fit = empirical_null(x, n, p0, window=(-50.0, 50.0), level=0.5)
    to_prob = 0.25 ** 2  # variances on the logit scale convert at level 0.5 by (0.5 x 0.5)^2
    assert fit.delta == pytest.approx(d.mean(), abs=1e-4)
    assert fit.tau2 == pytest.approx(tau2_logit * to_prob, rel=2e-3)
    assert fit.tau2_se == pytest.approx(np.sqrt(2 / 400) * (tau2_logit + v) * to_prob, rel=0.02)
    assert fit.central == 400 and fit.null_share == pytest.approx(1.0)


def test_planted_groups_do_not_inflate_the_empirical_null_as_they_do_winsorised_z():
    rng = np.random.default_rng(5)
    sigma = 0.25  # logit sd: about 3 points of spread near 85%
    ratios = []
    for _ in range(5):
        true = expit(logit(0.85) + rng.normal(0, sigma, 1500))
        planted = rng.random(1500) < 0.05
        true = np.where(planted, true - 0.15, true)
        n = rng.poisson(120, 1500)
        x = rng.binomial(n, true)
        rest = (x.sum() - x) / (n.sum() - n)
        truth = sigma ** 2 * (0.85 * 0.15) ** 2
        fit = empirical_null(x, n, rest, level=0.85)
        ratios.append((fit.tau2 / truth, overdispersion(x, n, rest).tau2 / truth))
    null, winsorised = np.mean(ratios, axis=0)
    assert 0.8 < null < 1.25
    assert winsorised > 1.3 and winsorised > null + 0.2


def test_no_spread_gives_no_tau2():
    rng = np.random.default_rng(8)
    n = rng.poisson(200, 800)
    fit = empirical_null(rng.binomial(n, 0.9), n, 0.9)
    assert fit.tau2 < 0.2 * 0.9 * 0.1 / 200  # a small fraction of one group's noise variance


def test_posterior_interval_is_the_beta_posteriors_quantiles():
    prior = BetaPrior(0.85, 40.0, "ml")
    x, n = np.array([10, 90, 0]), np.array([20, 100, 5])
    post = posterior_interval(x, n, prior)
    a, b = x + 40 * 0.85, n - x + 40 * 0.15
    assert np.allclose(post.estimate, a / (a + b))
    assert np.allclose(post.low, sps.beta.ppf(0.025, a, b))
    assert np.allclose(post.high, sps.beta.ppf(0.975, a, b))


def test_cells_differ_is_pearsons_chi_square():
    n = np.array([200, 150, 90, 0])
    x = np.array([180, 100, 80, 0])
    table = np.column_stack([x[:3], n[:3] - x[:3]])
    expected = sps.chi2_contingency(table, correction=False).pvalue
    assert cells_differ(n, x) == pytest.approx(expected, rel=1e-9)
    assert cells_differ(np.array([100, 100]), np.array([80, 80])) == pytest.approx(1.0)


def test_spread_lower_takes_a_spread_per_group():
    x, n, mean = np.array([40, 70, 700]), np.array([60, 90, 900]), np.array([0.8, 0.85, 0.85])
    tau2 = np.array([0.001, 0.0, 0.001 / 76])
    together = spread_lower(x, n, mean, tau2, level=0.85)
    alone = [spread_lower(x[i:i + 1], n[i:i + 1], mean[i:i + 1], tau2[i], level=0.85)[0] for i in range(3)]
    assert np.allclose(together, alone)
    assert together[1] == pytest.approx(sps.binom.cdf(70, 90, 0.85) - 0.5 * sps.binom.pmf(70, 90, 0.85))


def test_robust_null_with_equal_groups_is_the_median_absolute_deviation_less_the_noise():
    rng = np.random.default_rng(9)
    n = np.full(35, 3000)
    x = rng.binomial(n, expit(logit(0.85) + rng.normal(0, 0.1, 35)))
    x[:5] = 1700  # five short groups far down move a median by little
    d = np.log((x + 0.5) / (n - x + 0.5)) - logit(0.85)
    v = 1 / (3000 * 0.85 * 0.15)
    mad = np.median(np.abs(d - np.median(d)))
    fit = robust_null(x, n, 0.85, level=0.5)
    assert fit.delta == pytest.approx(np.median(d))
    assert fit.tau2 == pytest.approx(((mad / sps.norm.ppf(0.75)) ** 2 - v) * 0.25 ** 2, rel=1e-6)


def test_calibrated_centre_removes_the_empirical_logits_low_bias():
    rng = np.random.default_rng(12)
    fitted, calibrated = [], []
    for _ in range(4):
        true = expit(logit(0.85) + rng.normal(0, 0.235, 1500))
        planted = rng.random(1500) < 0.05
        true = np.where(planted, true - 0.15, true)
        n = rng.poisson(120, 1500)
        x = rng.binomial(n, true)
        target = np.full(1500, 0.845)  # a rest rate: pulled down by the planted groups
        fit = empirical_null(x, n, target)
        fitted.append(fit.centre(target[:1])[0])
        calibrated.append(calibrate_centre(x, n, target, fit.tau2, fit).centre(target[:1])[0])
    assert abs(np.mean(calibrated) - 0.85) < 0.0015
    assert np.mean(fitted) < 0.85 - 0.002


def test_the_truncated_likelihoods_gradient_is_its_derivative():
    from scipy.optimize import check_grad
    from analysis.spread import _truncated_nll_and_gradient
    rng = np.random.default_rng(2)
    d, v, scale = rng.normal(0.05, 0.3, 80), rng.uniform(0.01, 0.05, 80), rng.uniform(0.2, 1.0, 80)
    lo, hi = d - rng.uniform(0.1, 1, 80), d + rng.uniform(0.1, 1, 80)
    args = (d, v, scale, lo, hi)
    for point in ([0.0, 0.2], [0.1, 0.05], [-0.2, 0.4]):
        err = check_grad(lambda p: _truncated_nll_and_gradient(p, *args)[0],
                         lambda p: _truncated_nll_and_gradient(p, *args)[1], np.array(point))
        assert err < 1e-4 * max(1.0, np.abs(_truncated_nll_and_gradient(np.array(point), *args)[1]).max())


def _quantile_counts(k: int, n: int, rate: float, tau2: float) -> np.ndarray:
    """k groups of n answers whose counts are the (i - 0.5) / k quantiles of the spread's mixed binomial:
    data exactly as the null says, without sampling noise."""
    support = np.arange(n + 1)
    cdf = spread_lower(support, np.full(n + 1, n), np.full(n + 1, rate), tau2, level=rate, mid_p=False)
    return np.searchsorted(cdf, (np.arange(k) + 0.5) / k).astype(float)


def test_exact_null_leaves_data_that_follow_the_null_where_they_are():
    # Counts exactly as the null says: the exact refit keeps its centre and spread, where the fit on
    # empirical logits (which takes the skewed binomial noise as normal) does not.
    sigma = 0.35  # logit sd: 4.5 points of spread near 85%
    tau2 = (sigma * 0.85 * 0.15) ** 2
    x = _quantile_counts(1000, 120, 0.85, tau2)
    n = np.full(1000, 120.0)
    start = empirical_null(x, n, 0.85, level=0.85)
    fit = exact_null(x, n, np.full(1000, 0.85), start)
    assert abs(fit.delta) < 0.01
    assert fit.tau2 == pytest.approx(tau2, rel=0.03)
    assert abs(start.tau2 / tau2 - 1) > abs(fit.tau2 / tau2 - 1)


def test_exact_null_is_not_moved_by_short_boards_below_its_window():
    # The same null data with 5% of groups at 65% (short boards far down): centre and spread hold.
    sigma = 0.25
    tau2 = (sigma * 0.85 * 0.15) ** 2
    x = np.concatenate([_quantile_counts(950, 120, 0.85, tau2), _quantile_counts(50, 120, 0.65, 0.0)])
    n = np.full(1000, 120.0)
    target = np.full(1000, 0.84)  # a rest rate, pulled down by the short boards
    fit = exact_null(x, n, target, empirical_null(x, n, target, level=0.85))
    assert fit.centre(np.array([0.84]))[0] == pytest.approx(0.85, abs=0.001)
    assert fit.tau2 * (0.85 * 0.15 / (fit.level * (1 - fit.level))) ** 2 == pytest.approx(tau2, rel=0.05)
    assert fit.null_share == pytest.approx(0.95, abs=0.02)


def test_interval_likelihood_is_the_truncated_normals_by_scipy():
    from analysis.spread import _interval_nll
    rng = np.random.default_rng(4)
    lo, hi = rng.uniform(-2, -1, 30), rng.uniform(1.5, 3, 30)
    a = rng.uniform(lo, hi - 0.2)
    b = np.minimum(a + rng.uniform(0.01, 0.2, 30), hi)
    m, s = 0.1, 1.2
    cell = sps.norm.cdf(b, m, s) - sps.norm.cdf(a, m, s)
    window = sps.norm.cdf(hi, m, s) - sps.norm.cdf(lo, m, s)
    assert _interval_nll(np.array([m, s]), a, b, lo, hi) == pytest.approx(-np.sum(np.log(cell / window)), rel=1e-10)


def test_interval_gradient_is_the_likelihoods_derivative():
    from scipy.optimize import check_grad
    from analysis.spread import _interval_gradient, _interval_nll
    rng = np.random.default_rng(6)
    lo, hi = rng.uniform(-1.5, -0.8, 40), rng.uniform(2.0, 3.5, 40)
    a = rng.uniform(lo, hi - 0.3)
    b = a + rng.uniform(0.02, 0.3, 40)
    ends = (a, b, lo, hi)
    for point in ([0.0, 1.0], [0.2, 0.8], [-0.3, 1.3]):
        assert check_grad(lambda p: _interval_nll(p, *ends), lambda p: _interval_gradient(p, *ends),
                          np.array(point)) < 1e-5 * max(1.0, np.abs(_interval_gradient(np.array(point), *ends)).max())


def test_interval_fit_on_exact_values_is_the_normals_maximum_likelihood():
    # Values known exactly (tiny intervals), no truncation: one Newton step from (0, 1) lands within
    # a second-order error of the sample mean and sd, and the sd's standard error is 1 / sqrt(2 k).
    from analysis.spread import _interval_fit
    rng = np.random.default_rng(13)
    z = rng.normal(0.03, 1.02, 4000)
    m, s, se = _interval_fit(np.stack([z - 1e-6, z + 1e-6, np.full(4000, -50.0), np.full(4000, 50.0)]))
    assert m == pytest.approx(z.mean(), abs=5e-3)
    assert s == pytest.approx(z.std(), abs=5e-3)
    assert se == pytest.approx(1 / np.sqrt(2 * 4000), rel=0.05)
