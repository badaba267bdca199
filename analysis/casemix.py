"""Case-mix adjustment by indirect standardisation over business type x customer tier."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import special

from analysis.frame import AnswerFrame, Grouping, group_rows


@dataclass(frozen=True, eq=False)
class Expected:
    """Per group: expected satisfied answers had it the scope's rate in each of its mix cells."""

    expected: np.ndarray
    cells: tuple[str, ...]  # the columns standardised over (those present in the frame)
    cells_differ_p: float = float("nan")  # chi-square: does satisfaction differ across the cells at all?


def mix_columns(frame: AnswerFrame, wanted: Sequence[str]) -> tuple[str, ...]:
    """The case-mix columns the frame actually has (a CSV may lack tier, for instance)."""
    return tuple(c for c in wanted if c in frame.columns)


def expected_satisfied(
    frame: AnswerFrame, grouping: Grouping, group_to_unit: np.ndarray, n_units: int,
    unit_scope: np.ndarray, n_scopes: int, columns: Sequence[str],
) -> Expected:
    """E_u = sum over mix cells c of n_uc x (rest-of-scope satisfied rate in c).

    The rest of the scope, not the whole scope, sets the standard: one-vs-rest like the raw test,
    so a big outlet does not set its own expectation. Where the rest has no answers in a cell the
    rest's overall rate stands in.
    """
    cols = tuple(columns)
    sat = frame.satisfied().astype(np.float64) * frame.count
    w = frame.count.astype(np.float64)
    unit_of_row = group_to_unit[grouping.codes]
    keep = unit_of_row >= 0
    if not cols:
        cells = np.zeros(len(frame), np.int64)
        n_cells = 1
    else:
        cg = group_rows(frame, cols)
        cells, n_cells = cg.codes, cg.size
    idx = unit_of_row[keep] * n_cells + cells[keep]
    n_uc = np.bincount(idx, weights=w[keep], minlength=n_units * n_cells).reshape(n_units, n_cells)
    x_uc = np.bincount(idx, weights=sat[keep], minlength=n_units * n_cells).reshape(n_units, n_cells)
    n_sc = np.zeros((n_scopes, n_cells))
    x_sc = np.zeros((n_scopes, n_cells))
    np.add.at(n_sc, unit_scope, n_uc)
    np.add.at(x_sc, unit_scope, x_uc)
    rest_n = n_sc[unit_scope] - n_uc
    rest_x = x_sc[unit_scope] - x_uc
    rest_all = (rest_x.sum(axis=1) / np.maximum(rest_n.sum(axis=1), 1))[:, None]
    with np.errstate(invalid="ignore", divide="ignore"):
        rate = np.where(rest_n > 0, rest_x / rest_n, rest_all)
    return Expected((n_uc * rate).sum(axis=1), cols, cells_differ(n_sc.sum(axis=0), x_sc.sum(axis=0)))


def cells_differ(n: np.ndarray, x: np.ndarray) -> float:
    """Pearson chi-square test that the satisfied rate is the same in every cell (cells x 2 table)."""
    ok = n > 0
    n, x = n[ok], x[ok]
    if len(n) < 2 or x.sum() in (0, n.sum()):
        return 1.0
    table = np.column_stack([x, n - x])
    expected = np.outer(n, table.sum(axis=0)) / n.sum()
    stat = float(np.sum((table - expected) ** 2 / expected))
    return float(special.chdtrc(len(n) - 1, stat))
