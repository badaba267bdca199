"""Empirical-Bayes shrinkage: a beta prior fitted to all groups pulls a small group's rate toward the
rest, so a ranking is not topped by a tiny outlet's luck; posterior intervals to go with it."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import special

from analysis.stats import Interval


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

    from scipy import optimize  # imported here: loading it costs every CLI command otherwise

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


def posterior_interval(x: np.ndarray, n: np.ndarray, prior: BetaPrior, *,
                       mean: np.ndarray | float | None = None, level: float = 0.95) -> Interval:
    """The shrunken rates with their central posterior interval, Beta(x + M mu, n - x + M (1 - mu))."""
    mu = np.clip(prior.mean if mean is None else np.asarray(mean, float), 1e-9, 1 - 1e-9)
    m = prior.concentration
    a = np.asarray(x, float) + m * mu
    b = np.asarray(n, float) - np.asarray(x, float) + m * (1 - mu)
    tail = (1 - level) / 2
    with np.errstate(invalid="ignore"):
        return Interval(a / (a + b), special.betaincinv(a, b, tail), special.betaincinv(a, b, 1 - tail))
