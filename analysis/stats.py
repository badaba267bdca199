"""Vectorised tests and estimators over count arrays: thousands of groups in one call.

Everything takes and returns numpy arrays or frozen dataclasses; no scipy object leaves here.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import optimize, special
from scipy import stats as sps

Z95 = 1.959963984540054
Z998 = 3.090232306167813


@dataclass(frozen=True)
class TestResult:
    """One test: its statistic, p-value, the method used and the number of observations."""

    statistic: float
    p_value: float
    method: str
    n: int


@dataclass(frozen=True, eq=False)
class TestResults:
    """Many tests of the same kind at once (one entry per group)."""

    statistic: np.ndarray
    p_value: np.ndarray
    method: str
    n: np.ndarray

    def __getitem__(self, i: int) -> TestResult:
        return TestResult(float(self.statistic[i]), float(self.p_value[i]), self.method, int(self.n[i]))


@dataclass(frozen=True, eq=False)
class Interval:
    """Point estimates with lower and upper confidence limits."""

    estimate: np.ndarray
    low: np.ndarray
    high: np.ndarray


def wilson(x: np.ndarray, n: np.ndarray, *, z: float = Z95) -> Interval:
    """Wilson score interval for x successes out of n (NaN where n is 0)."""
    x = np.asarray(x, float)
    n = np.asarray(n, float)
    with np.errstate(invalid="ignore", divide="ignore"):
        p = x / n
        denom = 1 + z * z / n
        centre = (p + z * z / (2 * n)) / denom
        half = z / denom * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return Interval(p, centre - half, centre + half)


def _log_choose(n: np.ndarray, k: np.ndarray) -> np.ndarray:
    return special.gammaln(n + 1) - special.gammaln(k + 1) - special.gammaln(n - k + 1)


def _hypergeom_logpmf(x: np.ndarray, big_n: np.ndarray, big_x: np.ndarray, n: np.ndarray) -> np.ndarray:
    x, big_n, big_x, n = (np.asarray(a, float) for a in (x, big_n, big_x, n))
    valid = (x >= np.maximum(0, n - (big_n - big_x))) & (x <= np.minimum(n, big_x))
    with np.errstate(invalid="ignore"):
        logp = _log_choose(big_x, x) + _log_choose(big_n - big_x, n - x) - _log_choose(big_n, n)
    return np.where(valid, logp, -np.inf)


def hypergeom_pmf(x: np.ndarray, big_n: np.ndarray, big_x: np.ndarray, n: np.ndarray) -> np.ndarray:
    """Hypergeometric probability of exactly x successes (scipy's pmf is slow for big populations)."""
    return np.exp(_hypergeom_logpmf(x, big_n, big_x, n))


def _hypergeom_cdf(x: np.ndarray, n: np.ndarray, big_x: np.ndarray, big_n: np.ndarray
                   ) -> tuple[np.ndarray, np.ndarray]:
    """P(X <= x) and P(X = x), summing the pmf from the bottom of the support for all groups at once.

    scipy's hypergeom.cdf is slow for populations of a million; the terms summed here number
    sum(x - low + 1) <= sum(n + 1), i.e. grow with the answers, not with groups x population.
    """
    low = np.maximum(0, n - (big_n - big_x))
    x_c = np.minimum(x, np.minimum(n, big_x))
    lengths = np.maximum(x_c - low + 1, 0)
    cdf = np.zeros(len(x))
    at_x = np.zeros(len(x))
    has = lengths > 0
    if not has.any():
        return cdf, at_x
    lens = lengths[has]
    starts = np.concatenate(([0], np.cumsum(lens)[:-1]))
    owner = np.repeat(np.flatnonzero(has), lens)
    k = (low[owner] + np.arange(lens.sum()) - np.repeat(starts, lens)).astype(float)
    nn, kk, mm = n[owner].astype(float), big_x[owner].astype(float), big_n[owner].astype(float)
    # Walk each segment by the pmf ratio P(k+1)/P(k): four logs a term instead of six gammalns.
    with np.errstate(divide="ignore", invalid="ignore"):
        step = np.log(kk - k) + np.log(nn - k) - np.log(k + 1) - np.log(mm - kk - nn + k + 1)
    step = np.concatenate(([0.0], step[:-1]))
    step[starts] = 0.0  # a segment starts afresh (this also drops the previous segment's last step)
    walk = np.cumsum(step)
    # In logs: P(X = low) underflows for big groups while the tail that starts there need not.
    first = _hypergeom_logpmf(low[has], big_n[has], big_x[has], n[has])
    pmf = np.exp(np.repeat(first, lens) + walk - np.repeat(walk[starts], lens))
    cdf[has] = np.add.reduceat(pmf, starts)
    at_x[has] = np.where(x_c[has] == x[has], pmf[starts + lens - 1], 0.0)
    return np.clip(cdf, 0.0, 1.0), at_x


def hypergeom_lower(x: np.ndarray, n: np.ndarray, big_x: np.ndarray, big_n: np.ndarray,
                    *, mid_p: bool = True) -> TestResults:
    """One-vs-rest test that a group has fewer successes than the rest: P(X <= x) under Hypergeom.

    x successes in a group of n drawn from a population of big_n with big_x successes (group
    included). Equals Fisher's exact one-sided test (alternative='less') on the 2x2 table;
    mid-p subtracts half the probability of the observed count, which is less conservative.
    """
    x, n, big_x, big_n = (np.asarray(a, np.int64) for a in (x, n, big_x, big_n))
    cdf, at_x = _hypergeom_cdf(x, n, big_x, big_n)
    if mid_p:
        cdf = cdf - 0.5 * at_x
    expected = n * big_x / np.maximum(big_n, 1)
    return TestResults(x - expected, np.clip(cdf, 0.0, 1.0),
                       "hypergeometric mid-p" if mid_p else "hypergeometric exact", n)


def hypergeom_upper(x: np.ndarray, n: np.ndarray, big_x: np.ndarray, big_n: np.ndarray,
                    *, mid_p: bool = True) -> TestResults:
    """One-vs-rest test that a group has more successes than the rest: P(X >= x)."""
    x, n, big_x, big_n = (np.asarray(a, np.int64) for a in (x, n, big_x, big_n))
    # P(X >= x) is P(failures in the group <= n - x): a lower tail, which scipy computes fast.
    res = hypergeom_lower(n - x, n, big_n - big_x, big_n, mid_p=mid_p)
    expected = n * big_x / np.maximum(big_n, 1)
    return TestResults(x - expected, res.p_value, res.method, n)


def mann_whitney_counts(group: np.ndarray, rest: np.ndarray, *, continuity: bool = True) -> TestResults:
    """One-sided Mann-Whitney from count tables: is the group's score higher (worse) than the rest?

    group, rest: (groups x categories) counts of ordered categories (score 1..5 -> columns 0..4).
    U counts pairs where the group's score is higher, ties a half; the normal approximation uses
    the tie-corrected variance, so it equals scipy's mannwhitneyu(method='asymptotic') on the
    expanded data without ever expanding it. statistic = U / (n1 n2), the probability that a
    group answer is worse than a rest answer (ties half): 0.5 means no difference.
    """
    g = np.atleast_2d(np.asarray(group, float))
    r = np.atleast_2d(np.asarray(rest, float))
    n1 = g.sum(axis=1)
    n2 = r.sum(axis=1)
    below = np.cumsum(r, axis=1) - r  # rest answers in strictly better (lower) categories
    u = (g * (below + 0.5 * r)).sum(axis=1)
    total = n1 + n2
    ties = g + r
    tie_term = (ties ** 3 - ties).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        var = n1 * n2 / 12.0 * ((total + 1) - tie_term / (total * (total - 1)))
        z = (u - n1 * n2 / 2.0 - (0.5 if continuity else 0.0)) / np.sqrt(var)
        p = sps.norm.sf(z)
        effect = u / (n1 * n2)
    p = np.where(var > 0, p, 1.0)
    return TestResults(effect, p, "Mann-Whitney (count table, normal approx.)", n1.astype(np.int64))


def holm(p: np.ndarray) -> np.ndarray:
    """Holm step-down adjusted p-values (family-wise error); NaN entries stay NaN, not counted."""
    p = np.asarray(p, float)
    out = np.full(p.shape, np.nan)
    ok = ~np.isnan(p)
    m = int(ok.sum())
    if m == 0:
        return out
    pv = p[ok]
    order = np.argsort(pv, kind="stable")
    adj = np.maximum.accumulate((m - np.arange(m)) * pv[order])
    res = np.empty(m)
    res[order] = np.minimum(adj, 1.0)
    out[ok] = res
    return out


def benjamini_hochberg(p: np.ndarray) -> np.ndarray:
    """Benjamini-Hochberg q-values (false discovery rate); NaN entries stay NaN, not counted."""
    p = np.asarray(p, float)
    out = np.full(p.shape, np.nan)
    ok = ~np.isnan(p)
    m = int(ok.sum())
    if m == 0:
        return out
    pv = p[ok]
    order = np.argsort(pv, kind="stable")
    ranked = pv[order] * m / np.arange(1, m + 1)
    q = np.minimum.accumulate(ranked[::-1])[::-1]
    res = np.empty(m)
    res[order] = np.minimum(q, 1.0)
    out[ok] = res
    return out


def adjust(p: np.ndarray, method: str) -> np.ndarray:
    """Adjust a family of p-values by 'holm' or 'bh'."""
    if method == "holm":
        return holm(p)
    if method == "bh":
        return benjamini_hochberg(p)
    raise ValueError(f"unknown adjustment {method!r}; use 'holm' or 'bh'")


@dataclass(frozen=True)
class BetaPrior:
    """A beta prior for group rates: mean, concentration (alpha + beta) and how it was fitted."""

    mean: float
    concentration: float
    method: str

    @property
    def alpha(self) -> float:
        return self.mean * self.concentration

    @property
    def beta(self) -> float:
        return (1 - self.mean) * self.concentration


def _mom_concentration(x: np.ndarray, n: np.ndarray, mean: np.ndarray) -> float:
    # Method of moments: observed variance of rates beyond binomial noise is the prior variance.
    rates = x / n
    w = n / n.sum()
    var_obs = float(np.sum(w * (rates - mean) ** 2))
    noise = float(np.sum(w * mean * (1 - mean) / n))
    tau2 = max(var_obs - noise, 1e-9)
    mvar = float(np.sum(w * mean * (1 - mean)))
    return float(np.clip(mvar / tau2 - 1, 1e-3, 1e7))


def fit_beta_binomial(x: np.ndarray, n: np.ndarray, *, mean: np.ndarray | float | None = None,
                      method: str = "ml") -> BetaPrior:
    """Fit the beta prior of group rates: concentration by maximum likelihood ("ml") or moments ("mom").

    With `mean` given (per group or one value) only the concentration is fitted, so groups in
    different scopes shrink towards their own scope's rate.
    """
    x = np.asarray(x, float)
    n = np.asarray(n, float)
    keep = n > 0
    x, n = x[keep], n[keep]
    if len(n) == 0:
        return BetaPrior(float("nan"), 0.0, method)
    fixed = mean is not None
    mu = np.broadcast_to(np.asarray(mean, float), keep.shape)[keep] if fixed else np.full(len(n), x.sum() / n.sum())
    mu = np.clip(mu, 1e-6, 1 - 1e-6)
    m0 = _mom_concentration(x, n, mu)
    if method == "mom" or len(n) < 3:
        return BetaPrior(float(np.average(mu, weights=n)), m0, "mom")

    def nll(log_m: float) -> float:
        m = np.exp(log_m)
        a, b = mu * m, (1 - mu) * m
        # The binomial coefficient does not depend on the parameters and is left out.
        return -float(np.sum(special.betaln(x + a, n - x + b) - special.betaln(a, b)))

    # The mean is the pooled rate (its ML estimate differs by a hair); the concentration, which
    # decides how hard small groups are pulled in, is fitted by maximum likelihood.
    res = optimize.minimize_scalar(nll, bounds=(-7.0, 16.0), method="bounded", options={"xatol": 1e-4})
    return BetaPrior(float(np.average(mu, weights=n)), float(np.exp(res.x)), "ml")


def shrink(x: np.ndarray, n: np.ndarray, prior: BetaPrior, *,
           mean: np.ndarray | float | None = None) -> np.ndarray:
    """Posterior mean rates (x + M mu) / (n + M): small groups move most towards the mean."""
    mu = prior.mean if mean is None else np.asarray(mean, float)
    m = prior.concentration
    return (np.asarray(x, float) + m * mu) / (np.asarray(n, float) + m)


@dataclass(frozen=True)
class Overdispersion:
    """Spiegelhalter (2005) overdispersion of group rates around their targets."""

    phi: float  # overdispersion factor from winsorised z-scores (1 = binomial noise only)
    tau2: float  # additive between-group variance of true rates (probability scale)
    groups: int
    winsor: float


# Winsorising a standard normal at its 10% tails leaves E[z^2] = 0.6787; dividing by it keeps
# phi = 1 when groups differ by noise alone (the raw winsorised mean of z^2 is biased low, which
# would under-estimate tau^2 and let natural spread through as false alarms). When the lowest
# `dropped` share of groups was set aside (flagged short boards), the factor is that of a normal
# truncated there, so setting aside groups that were in fact ordinary does not shrink phi.
def _winsor_normal_variance(q: float, dropped: float = 0.0) -> float:
    lo_q = dropped + q * (1 - dropped)
    lo, hi = sps.norm.ppf(lo_q), sps.norm.isf(q * (1 - dropped))
    middle = (sps.norm.cdf(hi) - sps.norm.cdf(lo)) - (hi * sps.norm.pdf(hi) - lo * sps.norm.pdf(lo))
    tails = lo * lo * (lo_q - dropped) + hi * hi * q * (1 - dropped)
    return float((middle + tails) / (1 - dropped))


def overdispersion(x: np.ndarray, n: np.ndarray, target: np.ndarray | float, *,
                   winsor: float = 0.10, dropped: int = 0) -> Overdispersion:
    """Estimate phi and the additive random-effects variance tau^2 from winsorised z-scores.

    `dropped`: how many of the lowest groups were left out of x and n (see _winsor_normal_variance).
    """
    x = np.asarray(x, float)
    n = np.asarray(n, float)
    p0 = np.clip(np.broadcast_to(np.asarray(target, float), n.shape), 1e-9, 1 - 1e-9)
    keep = n > 0
    x, n, p0 = x[keep], n[keep], p0[keep]
    groups = len(n)
    if groups < 3:
        return Overdispersion(1.0, 0.0, groups, winsor)
    s2 = p0 * (1 - p0) / n
    z = (x / n - p0) / np.sqrt(s2)
    lo, hi = np.quantile(z, [winsor, 1 - winsor])
    zw = np.clip(z, lo, hi)
    phi = float(np.mean(zw ** 2) / _winsor_normal_variance(winsor, dropped / (groups + dropped)))
    w = 1 / s2
    if groups * phi <= groups - 1:
        return Overdispersion(phi, 0.0, groups, winsor)
    tau2 = (groups * phi - (groups - 1)) / (w.sum() - (w ** 2).sum() / w.sum())
    return Overdispersion(phi, float(tau2), groups, winsor)


# Gauss-Hermite (probabilists') nodes and weights for integrating over a normal random effect.
_GH_NODES, _GH_WEIGHTS = np.polynomial.hermite_e.hermegauss(24)
_GH_WEIGHTS = _GH_WEIGHTS / _GH_WEIGHTS.sum()


def spread_lower(x: np.ndarray, n: np.ndarray, mean: np.ndarray, tau2: float, *,
                 mid_p: bool = True) -> np.ndarray:
    """P(X <= x) when X ~ Binomial(n, p) and p varies between groups around `mean` with variance tau2.

    The exact-tail counterpart of Spiegelhalter's additive random-effects z: a group is unusual
    only if it falls outside both sampling noise and the natural spread between groups. The
    spread is put on the logit scale (sd = sqrt(tau2) / (mean (1 - mean)), the delta method),
    which keeps rates inside 0..1 and gives the longer lower tail rates near 100% really have;
    the integral over it is a 24-point Gauss-Hermite sum. With tau2 = 0 it is the binomial tail.
    """
    x = np.asarray(x, float)
    n = np.asarray(n, float)
    mu = np.clip(np.asarray(mean, float) * np.ones(len(n)), 1e-9, 1 - 1e-9)
    if tau2 <= 0:
        cdf = sps.binom.cdf(x, n, mu)
        return np.clip(cdf - 0.5 * sps.binom.pmf(x, n, mu) if mid_p else cdf, 0.0, 1.0)
    sigma = np.sqrt(tau2) / (mu * (1 - mu))
    probs = special.expit(special.logit(mu)[:, None] + sigma[:, None] * _GH_NODES[None, :])
    xx, nn = x[:, None], n[:, None]
    # Special functions straight, not scipy.stats: this runs for thousands of groups x 24 nodes.
    below = np.where(xx >= 1, special.betainc(np.maximum(nn - xx + 1, 1), np.maximum(xx, 1), 1 - probs), 0.0)
    log_choose = (special.gammaln(n + 1) - special.gammaln(x + 1) - special.gammaln(n - x + 1))[:, None]
    at = np.exp(log_choose + special.xlogy(xx, probs) + special.xlog1py(nn - xx, -probs))
    tail = below + (0.5 if mid_p else 1.0) * at
    return np.clip(tail @ _GH_WEIGHTS, 0.0, 1.0)


@dataclass(frozen=True, eq=False)
class FunnelLimits:
    """Control limits around a target rate as a function of n, widened by tau^2."""

    target: float
    tau2: float
    n: np.ndarray
    low95: np.ndarray
    high95: np.ndarray
    low998: np.ndarray
    high998: np.ndarray


def funnel_limits(target: float, n: np.ndarray, *, tau2: float = 0.0) -> FunnelLimits:
    """95% and 99.8% funnel limits target +- z sqrt(target(1-target)/n + tau^2)."""
    n = np.asarray(n, float)
    sd = np.sqrt(target * (1 - target) / n + tau2)
    clip = lambda v: np.clip(v, 0.0, 1.0)  # noqa: E731 - a rate cannot leave [0, 1]
    return FunnelLimits(target, tau2, n, clip(target - Z95 * sd), clip(target + Z95 * sd),
                        clip(target - Z998 * sd), clip(target + Z998 * sd))


@dataclass(frozen=True)
class NpsResult:
    """Net promoter score (-100..100) with its confidence interval."""

    nps: float
    low: float
    high: float
    promoters: int
    detractors: int
    n: int


def nps(counts: np.ndarray, *, z: float = Z95) -> NpsResult:
    """NPS from counts of scores 0..10, with a normal interval from the trinomial variance."""
    c = np.asarray(counts, float)
    n = c.sum()
    pro, det = c[9:].sum(), c[:7].sum()
    if n == 0:
        return NpsResult(float("nan"), float("nan"), float("nan"), 0, 0, 0)
    pp, pd = pro / n, det / n
    score = pp - pd
    se = np.sqrt(max(pp + pd - score ** 2, 0.0) / n)
    return NpsResult(100 * score, 100 * max(score - z * se, -1), 100 * min(score + z * se, 1),
                     int(pro), int(det), int(n))


def poisson_upper(observed: np.ndarray, expected: np.ndarray, *, mid_p: bool = True) -> np.ndarray:
    """P(X >= observed) for X ~ Poisson(expected): the classic exact test of an O/E ratio."""
    o = np.asarray(observed, float)
    e = np.asarray(expected, float)
    p = sps.poisson.sf(o - 1, e)
    if mid_p:
        p = p - 0.5 * sps.poisson.pmf(o, e)
    return np.clip(p, 0.0, 1.0)
