"""Short boards (短板): groups significantly less satisfied than the rest of their scope.

Each group is tested against the rest of its scope (the whole frame, or for a cell such as
channel x business type, its channel). The p-value that flags is an exact binomial lower tail
mixed over the natural between-group spread tau^2, whose size and centre are Efron's empirical
null, fitted by central matching to the groups' exact tails (analysis.spread.exact_null) so that
short boards below the centre cannot inflate it; with no natural spread it is the
hypergeometric (Fisher) one-vs-rest test. Holm adjusts small families, Benjamini-Hochberg large
ones. benchmarks/bench_shortboards.py measures what this buys against a naive p < 0.05.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from analysis.casemix import expected_satisfied, mix_columns
from analysis.drivers import ReasonDriver, drivers_of, reason_drivers
from analysis.frame import AnswerFrame, group_rows, parent_of, reason_table
from analysis.shrinkage import fit_beta_binomial, posterior_interval, shrink
from analysis.spread import (
    EmpiricalNull, FunnelLimits, Overdispersion, calibrate_centre, empirical_null, exact_null, funnel_limits,
    robust_null, spread_lower,
)
from analysis.stats import adjust, hypergeom_lower, mann_whitney_counts, wilson

ROLLUP = {"outlet": "city", "city": "region"}
SMALL_FAMILY = 20  # up to this many groups Holm (family-wise) adjusts, above it BH (FDR)
MIN_GROUPS_FOR_SPREAD = 20  # tau^2 from fewer groups is too noisy to widen anything
MIN_GROUPS_FOR_CENTRAL_FIT = 200  # fewer: the null is fitted by the median absolute deviation
# Groups with q below this are set aside when the natural spread is estimated: likely short boards
# would inflate it and hide each other. Looser than alpha to set more of them aside; looser still
# began to set aside ordinary groups and let false alarms through (benchmarks/bench_shortboards.py).
EXCLUDE_Q = 0.2
# The median fit's tau^2 (fewer than MIN_GROUPS_FOR_CENTRAL_FIT groups) is taken a quarter of a
# standard error above its estimate: one that happens to be low turns natural spread into false
# alarms, one that is high costs recall. The exact central fit is used as it is: its allowance
# cost recall and bought little (benchmarks/bench_shortboards.py, --runs 20 --seeds 20, seeds 7
# and 8, 3 points of spread: recall 102% and 95% of the oracle's without it, 91% and 89% with a
# quarter of its standard error; the long tail's FDR 8.8% and 12.9% against 8.8% and 12.5%).
SPREAD_MARGIN = 0.25
# The adjusted view is the headline when satisfaction differs across the case-mix cells beyond
# chance (chi-square over business type x tier); otherwise adjusting changes nothing that matters.
CASE_MIX_P = 0.001


@dataclass(frozen=True)
class AdjustedView:
    """The case-mix adjusted comparison: observed vs expected satisfied given the group's mix."""

    expected: float
    observed: int
    ratio: float  # observed / expected satisfied
    rate: float  # indirectly standardised rate: ratio x rest rate
    gap: float  # (expected - observed) / n
    impact: float  # expected - observed satisfied answers
    p: float
    q: float
    flagged: bool
    expected_rate: float = float("nan")  # expected / n: the rate the group's mix predicts
    shrunken_rate: float = float("nan")  # the adjusted rate shrunk like the raw one (ratio x rest rate)
    shrunken_low: float = float("nan")
    shrunken_high: float = float("nan")


@dataclass(frozen=True)
class BoardView:
    """One group in one view (raw or case-mix adjusted): the columns every table shows.

    observed: its rate; expected: what it would have at the rest's rate (raw) or at the rest's
    rate in each of its case-mix cells (adjusted); adjusted: the indirectly standardised rate
    (observed / expected x rest rate; the observed rate in the raw view); gap: expected -
    observed; impact: satisfied answers lost, n x gap; shrunken: the empirical-Bayes estimate of
    the adjusted rate with its 95% posterior interval.
    """

    view: str
    observed: float
    expected: float
    adjusted: float
    gap: float
    p: float
    q: float
    impact: float
    shrunken: float
    shrunken_low: float
    shrunken_high: float
    flagged: bool


@dataclass(frozen=True)
class ShortBoard:
    """One tested group against the rest of its scope; `flagged` says it is a short board."""

    group: str
    key: tuple[str, ...]
    scope: str
    n: int
    satisfied: int
    rate: float
    rate_low: float
    rate_high: float
    rest_rate: float
    scope_rate: float
    gap: float  # rest rate - rate: positive means worse than the rest
    impact: float  # n x gap: satisfied customers lost versus the rest
    p: float  # the flagging p-value (overdispersion-aware)
    q: float  # adjusted within the family (Holm or BH)
    p_exact: float  # hypergeometric one-vs-rest, sampling noise only
    p_mann_whitney: float
    worse_prob: float  # Mann-Whitney effect: P(a group answer scores worse than a rest answer)
    shrunken_rate: float
    flagged: bool
    adjusted: AdjustedView | None
    top_reasons: tuple[str, ...]
    drivers: tuple[ReasonDriver, ...]
    pooled_groups: int = 1  # >1 for a roll-up of groups that had too few answers each
    shrunken_low: float = float("nan")
    shrunken_high: float = float("nan")

    def view(self, name: str) -> BoardView:
        """The raw or the adjusted view of this group (raw when it has no adjusted view)."""
        a = self.adjusted
        if name == "adjusted" and a is not None:
            return BoardView("adjusted", self.rate, a.expected_rate, a.rate, a.gap, a.p, a.q, a.impact,
                             a.shrunken_rate, a.shrunken_low, a.shrunken_high, a.flagged)
        return BoardView("raw", self.rate, self.rest_rate, self.rate, self.gap, self.p, self.q, self.impact,
                         self.shrunken_rate, self.shrunken_low, self.shrunken_high, self.flagged)

    @property
    def flagged_any(self) -> bool:
        """A short board in the raw or the adjusted view."""
        return self.flagged or (self.adjusted is not None and self.adjusted.flagged)


@dataclass(frozen=True)
class NotEnough:
    """A group below the minimum responses: reported, and where it was rolled up to."""

    group: str
    n: int
    rolled_up_to: str | None


WATCH_LIST = 10  # groups a watch list shows when nothing is significant


@dataclass(frozen=True, eq=False)
class ShortBoardReport:
    """Everything one short-board run found, ranked.

    headline: "adjusted" when the case-mix columns explain differences in satisfaction (their
    cells differ beyond chance, chi-square p below CASE_MIX_P), else "raw"; the other view is
    shown beside it. boards are ranked by the headline view.
    """

    by: tuple[str, ...]
    within: tuple[str, ...]
    adjustment: str
    alpha: float
    min_n: int
    boards: tuple[ShortBoard, ...]
    not_enough: tuple[NotEnough, ...]
    dispersion: Overdispersion
    adjusted_dispersion: Overdispersion | None
    funnel: FunnelLimits
    case_mix: tuple[str, ...]
    headline: str = "raw"
    case_mix_p: float = float("nan")  # chi-square test that satisfaction differs across case-mix cells
    null: EmpiricalNull | None = None
    adjusted_null: EmpiricalNull | None = None

    @property
    def flagged(self) -> list[ShortBoard]:
        """The short boards of the raw view, ranked."""
        return [b for b in self.boards if b.flagged]

    @property
    def flagged_adjusted(self) -> list[ShortBoard]:
        """The short boards after case-mix adjustment, ranked by adjusted impact."""
        out = [b for b in self.boards if b.adjusted is not None and b.adjusted.flagged]
        return sorted(out, key=lambda b: -b.adjusted.impact)

    @property
    def headline_flagged(self) -> list[ShortBoard]:
        """The short boards of the headline view, ranked by its impact."""
        return self.flagged_adjusted if self.headline == "adjusted" else self.flagged

    @property
    def flagged_any(self) -> list[ShortBoard]:
        """Short boards of either view: the headline's first, then those only the other view finds."""
        first = self.headline_flagged
        seen = {id(b) for b in first}
        return first + [b for b in self.boards if b.flagged_any and id(b) not in seen]

    @property
    def watch_list(self) -> list[ShortBoard]:
        """When the headline view flags nothing: the worst groups by shrunken estimate, so a
        manager still sees where to look (not short boards: labelled as a watch list)."""
        if self.headline_flagged:
            return []
        rows = [(b, b.view(self.headline)) for b in self.boards]
        rows = [(b, v) for b, v in rows if not math.isnan(v.shrunken) and not math.isnan(v.expected)]
        rows.sort(key=lambda bv: bv[1].shrunken - bv[1].expected)
        return [b for b, v in rows[:WATCH_LIST] if v.shrunken < v.expected]


def _units(frame: AnswerFrame, grouping, n_group: np.ndarray, scope_of_group: np.ndarray,
           min_n: int, rollup: str | None):
    """Assign groups to tested units; small groups pool by (scope, parent) or stay out."""
    big = n_group >= min_n
    unit = np.full(grouping.size, -1, np.int64)
    unit[big] = np.arange(int(big.sum()))
    labels = [" / ".join(k) for k, b in zip(grouping.keys, big) if b]
    keys = [k for k, b in zip(grouping.keys, big) if b]
    pooled = [1] * len(labels)
    not_enough: list[NotEnough] = []
    small = np.flatnonzero(~big)
    if len(small) == 0:
        return unit, labels, keys, pooled, not_enough
    if rollup is None:
        for g in small:
            not_enough.append(NotEnough(" / ".join(grouping.keys[g]), int(n_group[g]), None))
        return unit, labels, keys, pooled, not_enough
    parents = parent_of(frame, grouping, rollup)
    pool: dict[tuple[int, str], list[int]] = {}
    for g in small:
        pool.setdefault((int(scope_of_group[g]), str(parents[g])), []).append(int(g))
    for (_, parent), members in pool.items():
        total = int(n_group[members].sum())
        name = f"{rollup} {parent}: {len(members)} small groups"
        if total >= min_n:
            unit[members] = len(labels)
            labels.append(name)
            keys.append((name,) * len(grouping.by))
            pooled.append(len(members))
            target = name
        else:
            target = f"{name} (still under {min_n} answers)"
        for g in members:
            not_enough.append(NotEnough(" / ".join(grouping.keys[g]), int(n_group[g]), target))
    return unit, labels, keys, pooled, not_enough


def null_fit(x: np.ndarray, n: np.ndarray, target: np.ndarray, scale: np.ndarray,
             start: EmpiricalNull | None = None) -> EmpiricalNull:
    """The natural spread's null. With enough groups to fill its window: Efron's central matching,
    on empirical logits first, then on the exact tail probabilities (exact_null; `start`, the fit
    before the targets were re-centred, replaces the first step). Below that the median absolute
    deviation, its tau2 SPREAD_MARGIN standard errors up and its centre calibrated
    (benchmarks/bench_shortboards.py measured both: with 1,500 outlets the central fit keeps more
    recall; with 35 cells it runs away where the median fit does not)."""
    if len(n) >= MIN_GROUPS_FOR_CENTRAL_FIT:
        if start is None:
            return exact_null(x, n, target, empirical_null(x, n, target, scale=scale), scale=scale)
        # The targets moved by a re-centring since `start`: one step of the refit follows them.
        return exact_null(x, n, target, start, scale=scale, passes=1, rounds=1)
    fit = robust_null(x, n, target, scale=scale)
    fit = replace(fit, tau2=fit.tau2_at(SPREAD_MARGIN))
    return calibrate_centre(x, n, target, fit.tau2 * scale, fit)


def _spread_test(x, n, expected_rate, scale, unit_scope, n_scopes, testable, p_exact, *, method: str,
                 alpha: float, overdispersed: bool) -> tuple[np.ndarray, np.ndarray, Overdispersion,
                                                           EmpiricalNull | None]:
    """Lower-tail p-values allowing for natural spread, its estimate, and adjusted q-values.

    The natural spread is Efron's empirical null fitted by central matching (analysis.spread;
    by the median absolute deviation when there are few groups): only the groups near the
    centre shape it, so short boards, however many or large, cannot inflate it and hide each
    other. Targets are first re-centred per scope on the groups not set aside (q below
    EXCLUDE_Q), so a big short cell does not drag its scope's other cells up; the null's own
    centre shift (delta) then applies to all. `scale` is each unit's share of the spread (1 for
    a group, sum n_j^2 / (sum n_j)^2 for a pool of groups). Without spread (or with too few
    groups to estimate it) the exact test stands.
    """
    k = int(testable.sum())
    p = np.full(len(n), np.nan)
    if not overdispersed or k < MIN_GROUPS_FOR_SPREAD:
        p[testable] = p_exact[testable] if p_exact is not None else \
            spread_lower(x[testable], n[testable], expected_rate[testable], 0.0)
        return p, adjust(p, method), Overdispersion(1.0, 0.0, k, 0.0), None
    keep = testable.copy()
    previous = fit = None
    for _ in range(6):
        obs = np.bincount(unit_scope[keep], weights=x[keep], minlength=n_scopes)
        exp = np.bincount(unit_scope[keep], weights=(n * expected_rate)[keep], minlength=n_scopes)
        ratio = np.where(exp > 0, obs / np.maximum(exp, 1e-12), 1.0)
        target = np.clip(expected_rate * ratio[unit_scope], 1e-9, 1 - 1e-9)
        fit = null_fit(x[testable], n[testable], target[testable], scale[testable], start=fit)
        tau2 = fit.tau2
        # Only groups below their centre can be short boards: the others' p-values (0.5 or more)
        # are computed once at the end; until then 1.0 stands in, which leaves BH's q of the rest.
        centre = fit.centre(target)
        low = testable & (x < n * centre)
        p[testable & ~low] = 1.0
        p[low] = spread_lower(x[low], n[low], centre[low], tau2 * scale[low], level=fit.level)
        aside = testable & (adjust(p, method) < max(alpha, EXCLUDE_Q))
        if previous is not None and np.array_equal(aside, previous):
            break
        previous = aside
        if (testable & ~aside).sum() < MIN_GROUPS_FOR_SPREAD:
            break
        keep = testable & ~aside
    high = testable & ~low
    p[high] = spread_lower(x[high], n[high], centre[high], tau2 * scale[high], level=fit.level)
    v = (fit.level * (1 - fit.level)) / np.maximum(n[testable], 1)
    phi = float(np.mean((v + tau2 * scale[testable]) / v))
    return p, adjust(p, method), Overdispersion(phi, tau2, k, 0.0, 0.0), fit


def shortboard_report(
    frame: AnswerFrame,
    by: Sequence[str],
    *,
    within: Sequence[str] | None = None,
    min_n: int = 30,
    alpha: float = 0.05,
    adjustment: str = "auto",
    overdispersed: bool = True,
    case_mix: Sequence[str] = ("business_type", "tier"),
    rollup: str | None = "auto",
    min_gap: float = 0.0,
) -> ShortBoardReport:
    """Test every group of `by` against the rest of its scope and rank the short boards.

    within: the scope columns (default: the first of two or more `by` columns, so a cell is
    compared within its channel; none for a single column). min_n: groups with fewer answers are
    listed in `not_enough` and pooled per `rollup` column (auto: outlet -> city, city -> region).
    adjustment: 'holm', 'bh' or 'auto' (Holm up to 20 groups). overdispersed=False tests against
    sampling noise only. case_mix: columns of the indirectly standardised view (those present).
    min_gap: a flagged group must also fall this far below the rest (0 = any significant gap).
    Boards are ranked flagged first, then by satisfied answers lost at the shrunken rate,
    n x (rest rate - shrunken rate), so a tiny group's extreme luck cannot top the list.
    """
    by = tuple(by)
    within = tuple(by[:1] if len(by) > 1 else ()) if within is None else tuple(within)
    if rollup == "auto":
        rollup = ROLLUP.get(by[0]) if len(by) == 1 and ROLLUP.get(by[0]) in frame.columns else None
    grouping = group_rows(frame, by)
    w = frame.count.astype(np.float64)
    # One pass over the rows: per group counts of each score; n and satisfied follow from them.
    g_scores = np.bincount(grouping.codes * 5 + np.clip(frame.value.astype(np.int64) - 1, 0, 4),
                           weights=w, minlength=grouping.size * 5).reshape(grouping.size, 5)
    n_group = g_scores.sum(axis=1)
    scope_grouping = group_rows(frame, within)
    scope_of_group = np.zeros(grouping.size, np.int64)
    scope_of_group[grouping.codes] = scope_grouping.codes
    unit, labels, keys, pooled, not_enough = _units(frame, grouping, n_group, scope_of_group, min_n, rollup)
    n_units, n_scopes = len(labels), scope_grouping.size
    unit_scope = np.zeros(n_units, np.int64)
    unit_scope[unit[unit >= 0]] = scope_of_group[unit >= 0]
    scores = np.zeros((n_units, 5))
    np.add.at(scores, unit[unit >= 0], g_scores[unit >= 0])
    n = scores.sum(axis=1).round().astype(np.int64)
    x = scores[:, :2].sum(axis=1).round().astype(np.int64)
    # Scope totals include every answer in the scope, also those of groups too small to test.
    scope_scores = np.zeros((n_scopes, 5))
    np.add.at(scope_scores, scope_of_group, g_scores)
    big_n = scope_scores.sum(axis=1).round().astype(np.int64)
    big_x = scope_scores[:, :2].sum(axis=1).round().astype(np.int64)

    bn, bx = big_n[unit_scope], big_x[unit_scope]
    rest_n = bn - n
    testable = rest_n > 0
    with np.errstate(invalid="ignore", divide="ignore"):
        rate = x / n
        rest_rate = np.where(testable, (bx - x) / np.maximum(rest_n, 1), np.nan)
        scope_rate = bx / bn
    # A pool's true rate is the n-weighted mean of its members': its share of the natural spread
    # is sum n_j^2 / (sum n_j)^2 (1 for a single group), so a pool of 76 outlets is not tested
    # with one outlet's spread.
    n_sq = np.bincount(unit[unit >= 0], weights=n_group[unit >= 0] ** 2, minlength=n_units)
    scale = np.where(n > 0, n_sq / np.maximum(n.astype(float), 1) ** 2, 1.0)
    p_exact = np.full(n_units, np.nan)
    if testable.any():
        p_exact[testable] = hypergeom_lower(x[testable], n[testable], bx[testable], bn[testable]).p_value
    method = adjustment if adjustment != "auto" else ("holm" if testable.sum() <= SMALL_FAMILY else "bh")
    p, q, disp, null = _spread_test(x, n, rest_rate, scale, unit_scope, n_scopes, testable, p_exact,
                                    method=method, alpha=alpha, overdispersed=overdispersed)
    gap = rest_rate - rate
    flagged = (q < alpha) & (gap > min_gap)

    mw = mann_whitney_counts(scores, scope_scores[unit_scope] - scores)
    ci = wilson(x, n)
    multi_scope = n_scopes > 1
    centre = scope_rate if multi_scope else None
    prior = fit_beta_binomial(x, n, mean=centre)
    shrunk = shrink(x, n, prior, mean=centre)
    post = posterior_interval(x, n, prior, mean=centre)

    # Case-mix (indirectly standardised) view with its own spread and family.
    mix = mix_columns(frame, case_mix)
    adj_disp = adj_null = None
    adj_rows: list[AdjustedView | None] = [None] * n_units
    adj_flagged = np.zeros(n_units, bool)
    mix_p = float("nan")
    if mix:
        expected = expected_satisfied(frame, grouping, unit, n_units, unit_scope, n_scopes, mix)
        exp, mix_p = expected.expected, expected.cells_differ_p
        with np.errstate(invalid="ignore", divide="ignore"):
            exp_rate = np.clip(exp / n, 1e-9, 1 - 1e-9)
            ratio = np.where(exp > 0, x / np.maximum(exp, 1e-12), np.nan)
        p_adj, q_adj, adj_disp, adj_null = _spread_test(
            x, n, exp_rate, scale, unit_scope, n_scopes, testable, None,
            method=method, alpha=alpha, overdispersed=overdispersed)
        adj_flagged = (q_adj < alpha) & (exp - x > min_gap * n)
        # The adjusted rate shrunk the same way: the group's rate pulled towards its expected one
        # by the prior fitted around the expected rates, then standardised like the rate itself.
        adj_prior = fit_beta_binomial(x, n, mean=exp_rate)
        to_adjusted = rest_rate / exp_rate
        adj_shrunk = shrink(x, n, adj_prior, mean=exp_rate) * to_adjusted
        adj_post = posterior_interval(x, n, adj_prior, mean=exp_rate)
        cols = [a.tolist() for a in (exp, x, ratio, ratio * rest_rate, (exp - x) / n, exp - x, p_adj, q_adj,
                                     adj_flagged, exp_rate, adj_shrunk, adj_post.low * to_adjusted,
                                     adj_post.high * to_adjusted)]
        adj_rows = [AdjustedView(*row) for row in zip(*cols)]
    headline = "adjusted" if mix and mix_p < CASE_MIX_P else "raw"

    # Reason drivers for the short boards of either view, BH across (those groups x reasons).
    rt, with_reason = reason_table(frame, grouping)
    u_rt = np.zeros((n_units, rt.shape[1]), np.int64)
    np.add.at(u_rt, unit[unit >= 0], rt[unit >= 0])
    u_w = np.bincount(unit[unit >= 0], weights=with_reason[unit >= 0], minlength=n_units).astype(np.int64)
    any_flag = flagged | adj_flagged
    dt = reason_drivers(u_rt, u_w, unit_scope, n_scopes, any_flag)

    scope_names = [" / ".join(k) if k else "all" for k in scope_grouping.keys]
    # Rank by satisfied customers lost computed from the headline's shrunken rate, so a tiny
    # group's chance extreme cannot top the list; the headline's short boards first.
    if headline == "adjusted":
        rank_key, first = n * (rest_rate - adj_shrunk), adj_flagged
    else:
        rank_key, first = n * (rest_rate - shrunk), flagged
    order = np.lexsort((-np.nan_to_num(rank_key, nan=-np.inf), ~first))
    # Plain Python values for the dataclasses: .tolist() is far cheaper than float() per field.
    cols = {k: v.tolist() for k, v in dict(
        n=n, x=x, rate=rate, lo=ci.low, hi=ci.high, rest=rest_rate, scope=scope_rate, gap=gap,
        impact=n * gap, p=p, q=q, pe=p_exact, pmw=mw.p_value, worse=mw.statistic, shrunk=shrunk,
        flagged=flagged, any=any_flag, slo=post.low, shi=post.high).items()}
    boards = []
    for i in order.tolist():
        drivers, top = drivers_of(dt, i, frame.reason_codes) if cols["any"][i] else ((), ())
        boards.append(ShortBoard(
            labels[i], tuple(keys[i]), scope_names[unit_scope[i]], cols["n"][i], cols["x"][i],
            cols["rate"][i], cols["lo"][i], cols["hi"][i], cols["rest"][i], cols["scope"][i], cols["gap"][i],
            cols["impact"][i], cols["p"][i], cols["q"][i], cols["pe"][i], cols["pmw"][i], cols["worse"][i],
            cols["shrunk"][i], cols["flagged"][i], adj_rows[i], top, drivers, pooled[i],
            cols["slo"][i], cols["shi"][i],
        ))
    total_rate = float(big_x.sum() / max(big_n.sum(), 1))
    funnel = funnel_limits(total_rate, np.unique(np.maximum(n, 1)), tau2=disp.tau2)
    return ShortBoardReport(by, within, method, alpha, min_n, tuple(boards), tuple(not_enough),
                            disp, adj_disp, funnel, mix, headline, mix_p, null, adj_null)


def shortboards(frame: AnswerFrame, by: Sequence[str], **options) -> list[ShortBoard]:
    """The ranked short boards (flagged groups) of one grouping; options as shortboard_report."""
    return shortboard_report(frame, by, **options).flagged
