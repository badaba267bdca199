"""Vectorised tests over count arrays: thousands of groups in one call.

Exact one-vs-rest tests, Mann-Whitney from count tables, Holm and BH, Wilson, NPS. Between-group
spread (shrinkage, overdispersion, funnel limits) lives in analysis/spread.py. Everything takes
and returns numpy arrays or frozen dataclasses; no scipy object leaves here.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import special

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
    # The factors of each term are whole numbers, exact in int64 (and as floats): k runs low..x.
    k = np.repeat(low[has] - starts, lens) + np.arange(int(lens.sum()))
    rest_failures = np.repeat((big_n - big_x - n)[has] + 1, lens) + k
    # Walk each segment by the pmf ratio P(k+1)/P(k): four logs a term instead of six gammalns;
    # n - k and k + 1 never exceed the group's size, so their logs come from one short table.
    with np.errstate(divide="ignore", invalid="ignore"):
        small = np.log(np.arange(int(n[has].max()) + 2, dtype=float))
        step = (np.log((np.repeat(big_x[has], lens) - k).astype(float)) + small[np.repeat(n[has], lens) - k]
                - small[k + 1] - np.log(rest_failures.astype(float)))
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
        p = special.ndtr(-z)
        effect = u / (n1 * n2)
    p = np.where(var > 0, p, 1.0)
    return TestResults(effect, p, "Mann-Whitney (count table, normal approx.)", n1.astype(np.int64))


def _adjusted(p: np.ndarray, adjust) -> np.ndarray:
    """Apply adjust to the non-NaN p-values in ascending order; NaN entries stay NaN, not counted."""
    p = np.asarray(p, float)
    out = np.full(p.shape, np.nan)
    ok = ~np.isnan(p)
    m = int(ok.sum())
    if m == 0:
        return out
    pv = p[ok]
    order = np.argsort(pv, kind="stable")
    res = np.empty(m)
    res[order] = np.minimum(adjust(pv[order], m), 1.0)
    out[ok] = res
    return out


def holm(p: np.ndarray) -> np.ndarray:
    """Holm step-down adjusted p-values (family-wise error); NaN entries stay NaN, not counted."""
    return _adjusted(p, lambda ranked, m: np.maximum.accumulate((m - np.arange(m)) * ranked))


def benjamini_hochberg(p: np.ndarray) -> np.ndarray:
    """Benjamini-Hochberg q-values (false discovery rate); NaN entries stay NaN, not counted."""
    return _adjusted(p, lambda ranked, m: np.minimum.accumulate((ranked * m / np.arange(1, m + 1))[::-1])[::-1])


def adjust(p: np.ndarray, method: str) -> np.ndarray:
    """Adjust a family of p-values by 'holm' or 'bh'."""
    if method == "holm":
        return holm(p)
    if method == "bh":
        return benjamini_hochberg(p)
    raise ValueError(f"unknown adjustment {method!r}; use 'holm' or 'bh'")


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
