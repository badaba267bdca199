"""Reason drivers: which reasons a group names more often than the rest of its scope."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import special

from analysis.frame import AnswerFrame, group_rows
from analysis.stats import benjamini_hochberg, hypergeom_upper


@dataclass(frozen=True)
class ReasonDriver:
    """One reason of one group: its share among the group's answers that gave a reason, vs the rest."""

    reason: str
    count: int
    share: float
    rest_share: float
    excess: float  # answers naming it beyond what the rest's share predicts
    p: float
    q: float

    @property
    def significant(self) -> bool:
        """Over-represented at the FDR level used when the driver was tested."""
        return self.q < 0.05


@dataclass(frozen=True, eq=False)
class DriverTable:
    """Reason tests for many groups: arrays of groups x reasons."""

    count: np.ndarray
    share: np.ndarray
    rest_share: np.ndarray
    excess: np.ndarray
    p: np.ndarray
    q: np.ndarray


def reason_drivers(table: np.ndarray, with_reason: np.ndarray, scope: np.ndarray, n_scopes: int,
                   family: np.ndarray) -> DriverTable:
    """Test every (group, reason) one-vs-rest; BH over the groups in `family` x all reasons.

    table: groups x reasons counts of answers naming the reason; with_reason: answers naming any.
    The base is answers that gave a reason, so a group that is simply less satisfied (and so names
    more reasons of every kind) does not show every reason as a driver.
    """
    table = np.asarray(table, np.int64)
    w = np.asarray(with_reason, np.int64)
    scope_table = np.zeros((n_scopes, table.shape[1]), np.int64)
    np.add.at(scope_table, scope, table)
    scope_w = np.bincount(scope, weights=w, minlength=n_scopes).astype(np.int64)
    big_k = scope_table[scope]
    big_n = np.broadcast_to(scope_w[scope][:, None], table.shape)
    n = np.broadcast_to(w[:, None], table.shape)
    p = np.ones(table.shape)
    # Only the family is tested: the drivers of groups that are not short boards are not asked for.
    testable = (n > 0) & (big_n > n) & np.asarray(family, bool)[:, None]
    if testable.any():
        res = hypergeom_upper(table[testable], n[testable], big_k[testable], big_n[testable])
        p[testable] = res.p_value
    with np.errstate(invalid="ignore", divide="ignore"):
        share = np.where(n > 0, table / np.maximum(n, 1), np.nan)
        rest_share = (big_k - table) / np.maximum(big_n - n, 1)
    excess = table - n * rest_share
    q = np.full(table.shape, np.nan)
    fam = np.asarray(family, bool)
    if fam.any():
        sub = np.where(testable[fam], p[fam], np.nan)
        q[fam] = benjamini_hochberg(sub.ravel()).reshape(sub.shape)
    return DriverTable(table, share, rest_share, excess, p, q)


def drivers_of(dt: DriverTable, i: int, codes: tuple[str, ...], *, alpha: float = 0.05) -> tuple[
        tuple[ReasonDriver, ...], tuple[str, ...]]:
    """The drivers of group i (all reasons, by excess) and the codes of the significant ones."""
    order = np.argsort(-dt.excess[i], kind="stable")
    # One row of each table as Python numbers at once: far cheaper than a numpy scalar per field.
    rows = zip(*(np.asarray(column[i], dtype)[order].tolist() for column, dtype in (
        (dt.count, np.int64), (dt.share, float), (dt.rest_share, float), (dt.excess, float), (dt.p, float),
        (dt.q, float))))
    drivers = tuple(ReasonDriver(codes[j], *row) for j, row in zip(order.tolist(), rows))
    top = tuple(d.reason for d in drivers if d.q < alpha and d.excess > 0)
    return drivers, top


@dataclass(frozen=True)
class AdjustedDriver:
    """One reason of one group against the rest within the same case-mix cells (Cochran-Mantel-Haenszel).

    expected: answers naming it had the group the rest's share in each of its business type x
    tier cells; excess = count - expected; p one-sided (named more often), q BH over the reasons.
    """

    reason: str
    count: int
    expected: float
    excess: float
    p: float
    q: float


@dataclass(frozen=True)
class GroupDrivers:
    """What a group's dissatisfied customers talk about more than the rest, raw and case-mix adjusted."""

    key: tuple[str, ...]
    with_reason: int  # the group's answers that named a reason (the base of the shares)
    raw: tuple[ReasonDriver, ...]  # by excess, largest first
    adjusted: tuple[AdjustedDriver, ...]  # by excess; empty when no case-mix column is present
    case_mix: tuple[str, ...]

    def significant(self, view: str = "raw", alpha: float = 0.05) -> list:
        """The drivers over-represented at FDR alpha in one view."""
        rows = self.raw if view == "raw" else self.adjusted
        return [d for d in rows if d.q < alpha and d.excess > 0]


def stratified_upper(a: np.ndarray, w: np.ndarray, k: np.ndarray, big_w: np.ndarray,
                     *, continuity: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """One-sided Cochran-Mantel-Haenszel test that a group names a reason more than the rest.

    Arrays are (tests x strata): a the group's answers naming the reason in a stratum, w the group's
    answers there, k all answers naming it there, big_w all answers there (group included). Under
    the null a is hypergeometric in each stratum; the sum is compared with its mean and variance.
    Returns (expected sum, p).
    """
    a, w, k, big_w = (np.asarray(v, float) for v in (a, w, k, big_w))
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(big_w > 0, w * k / np.maximum(big_w, 1), 0.0)
        var = np.where(big_w > 1, w * k * (big_w - k) * (big_w - w) / (big_w ** 2 * np.maximum(big_w - 1, 1)), 0.0)
    expected, variance = mean.sum(axis=1), var.sum(axis=1)
    diff = a.sum(axis=1) - expected - (0.5 if continuity else 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        p = np.where(variance > 0, special.ndtr(-diff / np.sqrt(variance)), 1.0)
    return expected, p


def group_drivers(frame: AnswerFrame, by: Sequence[str], key: Sequence[str], *,
                  case_mix: Sequence[str] = ("business_type", "tier")) -> GroupDrivers:
    """The reason drivers of one group (any group, not only short boards) against the rest of the frame.

    Raw: each reason's share among the group's answers that named a reason against the rest's
    (hypergeometric, as for short boards). Adjusted: the same within business type x tier cells
    (stratified, Cochran-Mantel-Haenszel), so a group that serves many complaints is not said to
    hear "billing" more only because complaints name it more. BH over the reasons in each view.
    A group not in the frame raises KeyError naming it.
    """
    grouping = group_rows(frame, by)
    key = tuple(str(k) for k in key)
    try:
        g = grouping.keys.index(key)
    except ValueError:
        raise KeyError(f"no group {' / '.join(key)!r} by {', '.join(by)} in the answers") from None
    in_group = np.zeros(grouping.size, bool)
    in_group[g] = True
    mine = in_group[grouping.codes]
    named = frame.reasons.any(axis=1)
    weight = frame.count.astype(np.float64)
    # Raw: the group against everything else (one scope), BH over its reasons.
    two = mine.astype(np.int64)
    table = np.stack([np.bincount(two, weights=frame.reasons[:, j] * weight, minlength=2)
                      for j in range(len(frame.reason_codes))], axis=1).astype(np.int64)
    with_reason = np.bincount(two, weights=named * weight, minlength=2).astype(np.int64)
    dt = reason_drivers(table[::-1], with_reason[::-1], np.zeros(2, np.int64), 1, np.array([True, False]))
    raw, _ = drivers_of(dt, 0, frame.reason_codes)
    mix = tuple(c for c in case_mix if c in frame.columns)
    adjusted: tuple[AdjustedDriver, ...] = ()
    if mix:
        strata = group_rows(frame, mix)
        idx = strata.codes * 2 + mine
        size = strata.size * 2
        w_s = np.bincount(idx, weights=named * weight, minlength=size).reshape(strata.size, 2)
        counts = np.stack([  # reasons x strata x (rest, group)
            np.bincount(idx, weights=frame.reasons[:, j] * weight, minlength=size).reshape(strata.size, 2)
            for j in range(len(frame.reason_codes))])
        a = counts[:, :, 1]
        expected, p = stratified_upper(a, np.broadcast_to(w_s[:, 1], a.shape), counts.sum(axis=2),
                                       np.broadcast_to(w_s.sum(axis=1), a.shape))
        q = benjamini_hochberg(p)
        observed = a.sum(axis=1)
        order = np.argsort(-(observed - expected), kind="stable")
        adjusted = tuple(AdjustedDriver(frame.reason_codes[j], int(round(observed[j])), float(expected[j]),
                                        float(observed[j] - expected[j]), float(p[j]), float(q[j])) for j in order)
    return GroupDrivers(key, int(with_reason[1]), raw, adjusted, mix)
