"""Between-group spread: Spiegelhalter overdispersion, funnel limits, the empirical null and its tests
(empirical-Bayes shrinkage is in analysis.shrinkage).

Outlets genuinely differ a little; these functions measure that spread and allow for it, so a
ranking is not topped by a tiny outlet's luck and natural spread is not reported as short boards.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
from scipy import special

from analysis.stats import Z95, Z998


@dataclass(frozen=True)
class Overdispersion:
    """Spiegelhalter (2005) overdispersion of group rates around their targets."""

    phi: float  # overdispersion factor from winsorised z-scores (1 = binomial noise only)
    tau2: float  # additive between-group variance of true rates (probability scale)
    groups: int
    winsor: float
    phi_se: float = 0.0  # standard error of phi, from the spread of the winsorised z^2


# Winsorising a standard normal at its 10% tails leaves E[z^2] = 0.6787; dividing by it keeps
# phi = 1 when groups differ by noise alone (the raw winsorised mean of z^2 is biased low, which
# would under-estimate tau^2 and let natural spread through as false alarms).
def _winsor_normal_variance(q: float) -> float:
    c = -float(special.ndtri(q))
    return float((1 - 2 * q) - 2 * c * np.exp(-0.5 * c * c) / np.sqrt(2 * np.pi) + 2 * q * c * c)


def overdispersion(x: np.ndarray, n: np.ndarray, target: np.ndarray | float, *,
                   winsor: float = 0.10, margin: float = 0.0) -> Overdispersion:
    """Estimate phi and the additive random-effects variance tau^2 from winsorised z-scores (Spiegelhalter 2005).

    margin > 0 takes tau^2 at phi + margin standard errors: an estimate that is too low
    turns natural spread into false alarms, one too high only costs a little power.
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
    factor = _winsor_normal_variance(winsor)
    phi = float(np.mean(zw ** 2) / factor)
    se = float(np.std(zw ** 2) / np.sqrt(groups) / factor)
    upper = phi + margin * se
    w = 1 / s2
    if groups * upper <= groups - 1:
        return Overdispersion(phi, 0.0, groups, winsor, se)
    tau2 = (groups * upper - (groups - 1)) / (w.sum() - (w ** 2).sum() / w.sum())
    return Overdispersion(phi, float(tau2), groups, winsor, se)


def _gauss_hermite(k: int) -> tuple[np.ndarray, np.ndarray]:
    """Probabilists' Gauss-Hermite nodes and weights (summing to 1) for the mean over a normal."""
    nodes, weights = np.polynomial.hermite_e.hermegauss(k)
    return nodes, weights / weights.sum()


_GH_NODES, _GH_WEIGHTS = _gauss_hermite(24)
# The fit of the null needs its distribution only in the window around the centre, where 12
# nodes agree with 24 to ~1e-5 in probability; the tails tested need all 24.
_GH_FIT = _gauss_hermite(12)


def _mixed_binomial(x: np.ndarray, n: np.ndarray, mean: np.ndarray, tau2: np.ndarray, level: float | None,
                    rule: tuple[np.ndarray, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """P(X < x) and P(X = x) for X ~ Binomial(n, p), logit(p) normal around logit(mean) (see spread_lower)."""
    mu = np.clip(mean, 1e-9, 1 - 1e-9)
    if np.any(tau2 > 0):
        # One sd for all groups when a level is given: converted at a group's own mean, a rest
        # rate of 100% would make the sd explode and hide any group behind it.
        at_level = mu if level is None else np.full(len(n), np.clip(level, 1e-6, 1 - 1e-6))
        sigma = np.sqrt(tau2) / (at_level * (1 - at_level))
        probs = special.expit(special.logit(mu)[:, None] + sigma[:, None] * rule[0][None, :])
        weights = rule[1]
    else:
        probs, weights = mu[:, None], np.ones(1)
    xx, nn = x[:, None], n[:, None]
    # Special functions straight, not scipy.stats: this runs for thousands of groups x 24 nodes.
    below = np.where(xx >= 1, special.betainc(np.maximum(nn - xx + 1, 1), np.maximum(xx, 1), 1 - probs), 0.0)
    below = np.where(xx > nn, 1.0, below)
    log_choose = (special.gammaln(n + 1) - special.gammaln(x + 1) - special.gammaln(n - x + 1))[:, None]
    at = np.exp(log_choose + special.xlogy(xx, probs) + special.xlog1py(nn - xx, -probs))
    return below @ weights, at @ weights


def spread_lower(x: np.ndarray, n: np.ndarray, mean: np.ndarray, tau2: float | np.ndarray, *,
                 level: float | None = None, mid_p: bool = True) -> np.ndarray:
    """P(X <= x) when X ~ Binomial(n, p) and p varies between groups around `mean` with variance tau2.

    The exact-tail counterpart of Spiegelhalter's additive random-effects z: a group is unusual
    only if it falls outside both sampling noise and the natural spread between groups. The
    spread is put on the logit scale (sd = sqrt(tau2) / (level (1 - level)), the delta method at
    the overall `level`, default each group's mean), which keeps rates inside 0..1 and gives the
    longer lower tail rates near 100% really have; the integral over it is a 24-point
    Gauss-Hermite sum. With tau2 = 0 it is the binomial tail.
    """
    x = np.asarray(x, float)
    n = np.asarray(n, float)
    mean = np.asarray(mean, float) * np.ones(len(n))
    tau2 = np.broadcast_to(np.asarray(tau2, float), n.shape)  # one per group: a pool's is smaller
    below, at = _mixed_binomial(x, n, mean, tau2, level, (_GH_NODES, _GH_WEIGHTS))
    return np.clip(below + (0.5 if mid_p else 1.0) * at, 0.0, 1.0)


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
class EmpiricalNull:
    """Efron's empirical null fitted by central matching to group rates around their targets.

    Logits of ordinary groups' rates are taken as normal around logit(target) + delta with
    variance v_i + scale_i tau2 (v_i binomial noise, scale_i 1 for a group, less for a pool);
    only the groups near the centre are fitted (a truncated-normal likelihood over a window fixed
    in each group's own units), so short boards far in the lower tail cannot inflate tau2.
    """

    delta: float  # shift of the null centre from the targets (logit scale)
    tau2: float  # natural between-group variance of true rates (probability scale, at `level`)
    tau2_se: float  # its standard error (observed information of the truncated likelihood)
    level: float  # the rate at which logit-scale variances convert (spread_lower takes the same)
    groups: int  # groups fitted
    central: int  # groups inside the window at the fit
    null_share: float  # share of groups the fitted null accounts for (Efron's pi0, at most 1)

    def tau2_at(self, margin: float) -> float:
        """tau2 taken `margin` standard errors above its estimate (never below 0)."""
        return max(self.tau2 + margin * self.tau2_se, 0.0)

    def centre(self, target: np.ndarray) -> np.ndarray:
        """The null's centre for groups with these targets: logit(target) shifted by delta."""
        return special.expit(special.logit(np.clip(target, 1e-9, 1 - 1e-9)) + self.delta)


# The window in null standard deviations: short boards are only looked for below the centre, so
# the lower edge stays close (a planted group 3 sd down hardly enters) while the upper edge takes
# more of the ordinary groups for a steadier fit. Measured in benchmarks/bench_shortboards.py.
NULL_WINDOW = (-1.5, 2.0)


def _logit_deviations(x, n, target, scale, level: float | None
                      ) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """Per group with answers: logit(rate) - logit(target), its binomial variance, its spread
    share; and the level at which logit-scale variances convert to the probability scale.

    On the logit scale, where spread_lower puts the spread: rates near 100% have a longer lower
    tail in probability terms, which a normal fit there would mistake for extra spread (or,
    windowed, for a shifted centre). Empirical logits with the usual half-count correction. The
    variances are reported on the probability scale at `level` (the delta method, the n-weighted
    mean target by default), the conversion spread_lower undoes.
    """
    x = np.asarray(x, float)
    n = np.asarray(n, float)
    keep = n > 0
    p0 = np.clip(np.broadcast_to(np.asarray(target, float), n.shape)[keep], 1e-9, 1 - 1e-9)
    sc = np.broadcast_to(np.asarray(scale, float), n.shape)[keep]
    x, n = x[keep], n[keep]
    if level is None:
        level = float(np.average(p0, weights=n)) if len(n) else 0.5
    d = np.log((x + 0.5) / (n - x + 0.5)) - special.logit(p0)
    return d, 1 / (n * p0 * (1 - p0)), sc, level


def _truncated_nll(params: np.ndarray, d: np.ndarray, v: np.ndarray, scale: np.ndarray,
                   lo: np.ndarray, hi: np.ndarray) -> float:
    return _truncated_nll_and_gradient(params, d, v, scale, lo, hi)[0]


def _truncated_nll_and_gradient(params: np.ndarray, d: np.ndarray, v: np.ndarray, scale: np.ndarray,
                                lo: np.ndarray, hi: np.ndarray) -> tuple[float, np.ndarray]:
    """The truncated normal's negative log-likelihood (less its constant) and its gradient in (delta, tau)."""
    delta, tau = params
    sd = np.sqrt(v + scale * tau * tau)
    a, b, z = (lo - delta) / sd, (hi - delta) / sd, (d - delta) / sd
    mass = np.maximum(special.ndtr(b) - special.ndtr(a), 1e-300)
    pdf_a, pdf_b = np.exp(-0.5 * a * a) / np.sqrt(2 * np.pi), np.exp(-0.5 * b * b) / np.sqrt(2 * np.pi)
    value = float(np.sum(np.log(sd) + 0.5 * z * z + np.log(mass)))
    d_delta = float(np.sum(-z / sd - (pdf_b - pdf_a) / (mass * sd)))
    d_tau = float(np.sum(scale * tau / sd ** 2 * (1 - z * z - (b * pdf_b - a * pdf_a) / mass)))
    return value, np.array([d_delta, d_tau])


def empirical_null(x: np.ndarray, n: np.ndarray, target: np.ndarray | float, *,
                   scale: np.ndarray | float = 1.0, window: tuple[float, float] = NULL_WINDOW,
                   level: float | None = None, rounds: int = 4, start: EmpiricalNull | None = None
                   ) -> EmpiricalNull:
    """Fit the empirical null (delta, tau2) by central matching (Efron 2004, 2007).

    The window is set from a pilot fit (median centre, a robust spread from the interquartile
    range of the standardised rates) and refitted from each fit's null a few times: each round
    maximises the likelihood of the groups inside the window, truncated to it, so the fit uses
    the shape of the centre only, whatever lies in the tails. `start`: a previous fit on much the
    same groups, which replaces the pilot (two rounds then settle it).
    """
    from scipy import optimize

    d, v, sc, level = _logit_deviations(x, n, target, scale, level)
    groups = len(d)
    to_prob = (level * (1 - level)) ** 2
    if groups < 3:
        return EmpiricalNull(0.0, 0.0, 0.0, level, groups, groups, 1.0)
    # Pilot: the median and the interquartile range (1.349 sd for a normal) of the z-scores.
    z = d / np.sqrt(v)
    q1, med, q3 = np.quantile(z, [0.25, 0.5, 0.75])
    delta = float(np.median(d))
    phi = max(((q3 - q1) / 1.349) ** 2, 1.0)
    w = 1 / v
    tau = float(np.sqrt(max(phi - 1, 0.0) * len(w) / w.sum()))
    if start is not None and start.level > 0:
        delta, tau = start.delta, float(np.sqrt(start.tau2 / (start.level * (1 - start.level)) ** 2))
        rounds = min(rounds, 2)
    inside = np.ones(groups, bool)
    for _ in range(rounds):
        sd = np.sqrt(v + sc * tau * tau)
        lo, hi = delta + window[0] * sd, delta + window[1] * sd
        inside = (d >= lo) & (d <= hi)
        if inside.sum() < 3:
            break
        args = (d[inside], v[inside], sc[inside], lo[inside], hi[inside])
        res = optimize.minimize(_truncated_nll_and_gradient, np.array([delta, max(tau, 1e-4)]), args=args,
                                jac=True, method="SLSQP", bounds=[(-0.5, 0.5), (0.0, 0.5)])
        new_delta, new_tau = (float(v_) for v_ in res.x)
        settled = abs(new_tau - tau) < 1e-4 and abs(new_delta - delta) < 1e-5
        delta, tau = new_delta, new_tau
        if settled:
            break
    # All groups, short boards included, can only spread wider than the null: a central fit above
    # that is the truncated likelihood preferring a flat density (few groups, a spread that is not
    # normal), never a real spread, so it is capped there with the centre at the median.
    ceiling = _moment_tau2(d, v, sc)
    if tau * tau > ceiling:
        tau, delta = float(np.sqrt(ceiling)), float(np.median(d))
        sd = np.sqrt(v + sc * tau * tau)
        lo, hi = delta + window[0] * sd, delta + window[1] * sd
        inside = (d >= lo) & (d <= hi)
    args = (d[inside], v[inside], sc[inside], lo[inside], hi[inside])
    se = _tau2_se(delta, tau, args)
    sd = np.sqrt(v + sc * tau * tau)
    mass = special.ndtr((hi - delta) / sd) - special.ndtr((lo - delta) / sd)
    null_share = float(min(inside.sum() / max(mass.sum(), 1e-12), 1.0))
    return EmpiricalNull(delta, tau * tau * to_prob, se * to_prob, level, groups, int(inside.sum()), null_share)


def _moment_tau2(d: np.ndarray, v: np.ndarray, scale: np.ndarray) -> float:
    """DerSimonian-Laird's moment estimate of tau^2 over all groups.

    E[Q] = k - 1 + tau^2 (sum w s - sum w^2 s / sum w), with w = 1 / v and s each group's spread share.
    """
    w = 1 / v
    centre = np.sum(w * d) / w.sum()
    q = float(np.sum(w * (d - centre) ** 2))
    denom = float(np.sum(w * scale) - np.sum(w * w * scale) / w.sum())
    return max((q - (len(d) - 1)) / denom, 0.0) if denom > 0 else 0.0


def _tau2_se(delta: float, tau: float, args) -> float:
    """Standard error of tau^2 from the observed information (numerical second derivatives)."""
    def f(t2: float, dl: float) -> float:
        return _truncated_nll(np.array([dl, np.sqrt(max(t2, 0.0))]), *args)
    t2 = tau * tau
    h2 = max(t2 * 1e-2, 1e-7)
    h1 = 1e-5
    f0 = f(t2, delta)
    # One-sided differences at the boundary tau2 = 0, central ones inside.
    if t2 < 2 * h2:
        t2 = 2 * h2
        f0 = f(t2, delta)
    a = (f(t2 + h2, delta) - 2 * f0 + f(t2 - h2, delta)) / h2 ** 2
    c = (f(t2, delta + h1) - 2 * f0 + f(t2, delta - h1)) / h1 ** 2
    b = (f(t2 + h2, delta + h1) - f(t2 + h2, delta - h1) - f(t2 - h2, delta + h1) + f(t2 - h2, delta - h1)) \
        / (4 * h2 * h1)
    det = a * c - b * b
    if a <= 0 or det <= 0:
        return 0.0
    return float(np.sqrt(c / det))


# The median of |z| for a standard normal: the robust fit matches it.
_HALF_NORMAL_MEDIAN = float(special.ndtri(0.75))
# Relative standard error of a variance taken from the median absolute deviation of k normal
# values is about 2 x 1.166 / sqrt(k) (the MAD's asymptotic efficiency is 37%).
_MAD_VARIANCE_SE = 2 * 1.166
_WITHIN_2SD = float(special.ndtr(2.0) - special.ndtr(-2.0))


def robust_null(x: np.ndarray, n: np.ndarray, target: np.ndarray | float, *,
                scale: np.ndarray | float = 1.0, level: float | None = None) -> EmpiricalNull:
    """The null by the median absolute standardised deviation: tau2 such that median |z| = 0.674.

    z_i = (d_i - median d) / sqrt(v_i + scale_i tau2) on the logit scale, as empirical_null. Less
    efficient than the central likelihood fit, but it cannot run away when there are few groups or
    their spread is not normal (a flat spread lets the truncated likelihood prefer an infinite
    tau2); short boards move it only as far as they move a median.
    """
    d, v, sc, level = _logit_deviations(x, n, target, scale, level)
    groups = len(d)
    to_prob = (level * (1 - level)) ** 2
    if groups < 3:
        return EmpiricalNull(0.0, 0.0, 0.0, level, groups, groups, 1.0)
    delta = float(np.median(d))
    dev = np.abs(d - delta)

    def excess(tau2: float) -> float:
        return float(np.median(dev / np.sqrt(v + sc * tau2))) - _HALF_NORMAL_MEDIAN

    tau2 = 0.0
    if excess(0.0) > 0:
        from scipy import optimize

        high = float(np.median(dev) ** 2 / _HALF_NORMAL_MEDIAN ** 2) + 1e-9
        while excess(high) > 0:
            high *= 2
        tau2 = float(optimize.brentq(excess, 0.0, high, xtol=1e-10))
    se = _MAD_VARIANCE_SE / np.sqrt(groups) * float(np.median(v + sc * tau2))  # a typical group's variance
    inside = int(np.sum(dev / np.sqrt(v + sc * tau2) <= 2.0))
    null_share = min(inside / (_WITHIN_2SD * groups), 1.0)
    return EmpiricalNull(delta, tau2 * to_prob, se * to_prob, level, groups, inside, null_share)


# Groups a centre calibration or an exact refit looks at, at most (every k-th): as good a guide
# as all of thousands, at a fraction of the cost.
CALIBRATION_SAMPLE = 1000


def calibrate_centre(x: np.ndarray, n: np.ndarray, target: np.ndarray, tau2: np.ndarray | float,
                     fit: EmpiricalNull) -> EmpiricalNull:
    """The fit with its centre shift chosen so that the groups' tail probabilities are centred.

    A fitted centre on empirical logits sits a little low (binomial noise is skewed there), and a
    centre even 0.4 points low costs a quarter of the recall at 3 points of spread. Under the null
    the mid-p tail P(X <= x) of spread_lower is uniform, so delta is set where their median is
    1 - 0.5 / null_share: the null groups' median is then 0.5 when the others (a share of
    1 - null_share) all lie below it.
    """
    step = max(len(n) // CALIBRATION_SAMPLE, 1)
    xs, ns, ts = x[::step], n[::step], np.clip(target[::step], 1e-9, 1 - 1e-9)
    t2 = np.broadcast_to(np.asarray(tau2, float), n.shape)[::step]
    goal = 1 - 0.5 / max(fit.null_share, 0.5)
    base = special.logit(ts)

    def off(delta: float) -> float:
        return float(np.median(spread_lower(xs, ns, special.expit(base + delta), t2, level=fit.level))) - goal

    from scipy import optimize

    try:
        delta = optimize.brentq(off, fit.delta - 0.3, fit.delta + 0.3, xtol=2e-3)
    except ValueError:  # no sign change: the median cannot be moved there (ties of tiny groups)
        return fit
    return replace(fit, delta=float(delta))


# The window of exact_null in null standard deviations around the centre: short boards are only
# looked for below, so the upper edge reaches further. The lower edge sets the trade, measured
# with 1,500 outlets, 5% planted 15 points down, 20 runs per setting (tau2 as estimated, no
# allowance): at -1.5, at 6 points of spread the planted outlets (1.7 sd down) enter the window
# and read as spread (sigma 4% high, centre 0.35 points low, each costing recall); at -1.0 sigma
# is within 2% and the centre within 0.1 point at 3, 4.5 and 6 points, a noisier estimate (sd
# 6-11% against 5-7%) that kept FDR at 4-6%; at -0.75 the fit became unstable (sd 25% at 3 points).
EXACT_WINDOW = (-1.0, 3.0)


def _interval_nll(params: np.ndarray, a: np.ndarray, b: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> float:
    """Negative log-likelihood of N(m, s^2) for values known only to lie in [a, b] (a count's
    stretch of the normal scale), each truncated to its window [lo, hi]."""
    m, s = params
    cell = special.ndtr((b - m) / s) - special.ndtr((a - m) / s)
    window = special.ndtr((hi - m) / s) - special.ndtr((lo - m) / s)
    return -float(np.sum(np.log(np.maximum(cell, 1e-300)) - np.log(np.maximum(window, 1e-300))))


def _interval_gradient(params: np.ndarray, a: np.ndarray, b: np.ndarray, lo: np.ndarray, hi: np.ndarray
                       ) -> np.ndarray:
    """The gradient of _interval_nll in (m, s)."""
    m, s = params

    def parts(u, w):
        # d/dm and d/ds of log(Phi(w') - Phi(u')) with u' = (u - m) / s, w' = (w - m) / s.
        u_, w_ = (u - m) / s, (w - m) / s
        pu, pw = np.exp(-0.5 * u_ * u_), np.exp(-0.5 * w_ * w_)
        mass = np.maximum(special.ndtr(w_) - special.ndtr(u_), 1e-300) * np.sqrt(2 * np.pi) * s
        return np.sum((pu - pw) / mass), np.sum((u_ * pu - w_ * pw) / mass)

    cell, window = parts(a, b), parts(lo, hi)
    return -np.array([cell[0] - window[0], cell[1] - window[1]])


def _interval_fit(ends: np.ndarray) -> tuple[float, float, float]:
    """(m, s) one Newton step from (0, 1) on _interval_nll, and the standard error of s there (the
    observed information): near the null's fixed point one step is as good as a full fit, and the
    rounds of exact_null repeat it until the step is nil."""
    start = np.array([0.0, 1.0])
    g = _interval_gradient(start, *ends)
    h = 1e-4
    hess = np.column_stack([(_interval_gradient(start + h * e, *ends) - g) / h for e in np.eye(2)])
    hess = 0.5 * (hess + hess.T)
    if np.all(np.linalg.eigvalsh(hess) > 0):
        step, se = -np.linalg.solve(hess, g), float(np.sqrt(np.linalg.inv(hess)[1, 1]))
    else:  # far from a maximum: a short step down the gradient, no standard error to speak of
        step, se = -0.1 * g / len(ends[0]), 0.0
    return float(np.clip(step[0], -1.0, 1.0)), float(np.clip(1 + step[1], 0.5, 2.0)), se


def exact_null(x: np.ndarray, n: np.ndarray, target: np.ndarray, start: EmpiricalNull, *,
               scale: np.ndarray | float = 1.0, window: tuple[float, float] = EXACT_WINDOW,
               passes: int = 2, rounds: int = 4) -> EmpiricalNull:
    """Central matching redone on each group's exact tail probability under the null (delta, tau2).

    empirical_null takes each group's binomial noise on the logit scale as normal; with ~20
    dissatisfied answers it is skewed there, which moves the centre and tau2 by a few percent,
    and each percent of tau2 costs recall. Here the null is the mixed binomial spread_lower
    computes. Each pass fixes the window as a range of counts per group (`window` null sd around
    the centre); each round maps a group's count and its window's ends to the standard normal
    scale through the null's distribution function: the null's groups inside are standard
    normals truncated to their own limits, each known to lie in its count's stretch of that scale
    [Phi^-1 P(X < x), Phi^-1 P(X <= x)] (taking the stretch, not a mid-point, keeps the
    discreteness of counts from reading as less spread). A normal fitted to them so says how far
    the null is off: its mean m moves the centre by m null sd, its sd s rescales the total
    variance; rounds repeat until m = 0 and s = 1.
    tau2_se is from the observed information of s at the fit. `start`: the empirical-logit fit, or
    an exact fit on much the same groups (then one pass does).
    """
    x = np.asarray(x, float)
    n = np.asarray(n, float)
    size = len(n)
    step = max(size // CALIBRATION_SAMPLE, 1)
    x, n = x[::step], n[::step]
    target = np.broadcast_to(np.asarray(target, float), (size,))[::step]
    sc = np.broadcast_to(np.asarray(scale, float), (size,))[::step]
    _, v, _, level = _logit_deviations(x, n, target, sc, start.level)
    to_prob = (level * (1 - level)) ** 2
    base = special.logit(np.clip(target, 1e-9, 1 - 1e-9))
    delta, sig2, sig2_se = start.delta, start.tau2 / to_prob, start.tau2_se / to_prob
    inside = np.ones(len(n), bool)
    for _ in range(passes):
        # The window's ends as counts: the empirical logit log((c + 0.5) / (n - c + 0.5)) inverted.
        sd = np.sqrt(v + sc * sig2)
        odds = np.exp(base + delta + np.outer(window, sd))
        ends = ((n + 0.5) * odds - 0.5) / (1 + odds)
        low, high = np.ceil(ends[0]), np.floor(ends[1])
        inside = (x >= low) & (x <= high)
        k = int(inside.sum())
        if k < 3:
            break
        xi, ni, si, vi, bi = x[inside], n[inside], sc[inside], v[inside], base[inside]
        # P(X < c) at c = x and at the window's ends, low and high + 1; P(X <= x) adds P(X = x).
        counts = np.concatenate([xi, low[inside], high[inside] + 1])
        for _ in range(rounds):
            below, at = _mixed_binomial(counts, np.tile(ni, 3), np.tile(special.expit(bi + delta), 3),
                                        np.tile(sig2 * to_prob * si, 3), level, _GH_FIT)
            tails = np.stack([below[:k], below[:k] + at[:k], below[k:2 * k], below[2 * k:]])
            m, s, s_se = _interval_fit(special.ndtri(np.clip(tails, 1e-12, 1 - 1e-12)))
            sd2 = vi + si * sig2
            delta += m * float(np.median(np.sqrt(sd2)))
            new_sig2 = max(float(np.sum(s * s * sd2 - vi) / np.sum(si)), 0.0)
            sig2_se = 2 * float(np.sum(sd2) / np.sum(si)) * s_se  # d sig2 / d s at s = 1
            settled = abs(m) < 2e-3 and (abs(s - 1) < 2e-3 or new_sig2 == sig2 == 0.0)
            sig2 = new_sig2
            if settled:
                break
    mass = float(special.ndtr(window[1]) - special.ndtr(window[0]))
    null_share = min(float(inside.sum()) / (mass * len(n)), 1.0)
    return replace(start, delta=float(delta), tau2=sig2 * to_prob, tau2_se=sig2_se * to_prob,
                   central=int(inside.sum()) * step, null_share=null_share)
