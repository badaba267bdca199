"""Reason drivers: which reasons a group names more often than the rest of its scope."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

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
    drivers = tuple(
        ReasonDriver(codes[j], int(dt.count[i, j]), float(dt.share[i, j]), float(dt.rest_share[i, j]),
                     float(dt.excess[i, j]), float(dt.p[i, j]), float(dt.q[i, j]))
        for j in order
    )
    top = tuple(d.reason for d in drivers if d.q < alpha and d.excess > 0)
    return drivers, top
