"""Between-group spread: empirical-Bayes shrinkage, Spiegelhalter overdispersion, funnel limits.

Outlets genuinely differ a little; these functions measure that spread and allow for it, so a
ranking is not topped by a tiny outlet's luck and natural spread is not reported as short boards.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import optimize, special
from scipy import stats as sps

from analysis.stats import Z95, Z998


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
    phi_se: float = 0.0  # standard error of phi, from the spread of the winsorised z^2


# Winsorising a standard normal at its 10% tails leaves E[z^2] = 0.6787; dividing by it keeps
# phi = 1 when groups differ by noise alone (the raw winsorised mean of z^2 is biased low, which
# would under-estimate tau^2 and let natural spread through as false alarms).
def _winsor_normal_variance(q: float) -> float:
    c = sps.norm.isf(q)
    return float((1 - 2 * q) - 2 * c * sps.norm.pdf(c) + 2 * q * c * c)


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


# Gauss-Hermite (probabilists') nodes and weights for integrating over a normal random effect.
_GH_NODES, _GH_WEIGHTS = np.polynomial.hermite_e.hermegauss(24)
_GH_WEIGHTS = _GH_WEIGHTS / _GH_WEIGHTS.sum()


def spread_lower(x: np.ndarray, n: np.ndarray, mean: np.ndarray, tau2: float, *,
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
    mu = np.clip(np.asarray(mean, float) * np.ones(len(n)), 1e-9, 1 - 1e-9)
    if tau2 <= 0:
        cdf = sps.binom.cdf(x, n, mu)
        return np.clip(cdf - 0.5 * sps.binom.pmf(x, n, mu) if mid_p else cdf, 0.0, 1.0)
    # One sd for all groups when a level is given: converted at a group's own mean, a rest rate
    # of 100% would make the sd explode and hide any group behind it.
    at_level = mu if level is None else np.full(len(n), np.clip(level, 1e-6, 1 - 1e-6))
    sigma = np.sqrt(tau2) / (at_level * (1 - at_level))
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
