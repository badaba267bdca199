"""Per-group satisfaction metrics: responses, response rate, CSAT with Wilson interval, NPS."""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from analysis.frame import AnswerFrame, group_rows, reason_table, score_table
from analysis.stats import nps, wilson


@dataclass(frozen=True)
class GroupMetrics:
    """CSAT metrics of one group (scores 1..5, 1 best; satisfied = 1 or 2, dissatisfied = 4 or 5)."""

    by: tuple[str, ...]
    key: tuple[str, ...]
    responses: int
    sent: int | None
    response_rate: float | None
    satisfied: int
    csat: float  # top-2-box share
    csat_low: float
    csat_high: float
    mean_score: float
    dissatisfied_share: float
    reason_shares: tuple[tuple[str, float], ...]  # share of responses naming each reason, largest first

    @property
    def group(self) -> str:
        """Printable name of the group."""
        return " / ".join(self.key) if self.key else "all"


@dataclass(frozen=True)
class NpsMetrics:
    """NPS of one group from 0..10 answers."""

    by: tuple[str, ...]
    key: tuple[str, ...]
    responses: int
    nps: float
    nps_low: float
    nps_high: float
    promoters: int
    detractors: int


def response_rate(answered: np.ndarray, sent: np.ndarray) -> np.ndarray:
    """Answers / surveys sent, NaN where nothing was sent."""
    answered = np.asarray(answered, float)
    sent = np.asarray(sent, float)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(sent > 0, answered / sent, np.nan)


def group_metrics(frame: AnswerFrame, by: Sequence[str], *,
                  sent: Mapping[tuple[str, ...], int] | None = None) -> list[GroupMetrics]:
    """CSAT metrics for every group of `by` (one or more columns; [] for the whole frame).

    `sent` maps a group key to the number of surveys sent to it (from queries.sent_counts), for
    the response rate.
    """
    grouping = group_rows(frame, by)
    scores = score_table(frame, grouping)
    n = scores.sum(axis=1)
    sat = scores[:, :2].sum(axis=1)
    ci = wilson(sat, n)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = (scores * np.arange(1, 6)).sum(axis=1) / n
        dissat = scores[:, 3:].sum(axis=1) / n
    rt, _ = reason_table(frame, grouping)
    out = []
    for g, key in enumerate(grouping.keys):
        shares = rt[g] / n[g] if n[g] else np.zeros(rt.shape[1])
        order = np.argsort(-shares, kind="stable")
        reasons = tuple((frame.reason_codes[j], float(shares[j])) for j in order if rt[g, j] > 0)
        s = None if sent is None else int(sent.get(tuple(key), 0))
        rate = None if s is None else float(response_rate(n[g], s))
        out.append(GroupMetrics(
            tuple(by), tuple(key), int(n[g]), s, rate, int(sat[g]), float(ci.estimate[g]),
            float(ci.low[g]), float(ci.high[g]), float(mean[g]), float(dissat[g]), reasons,
        ))
    return out


def rollup_metrics(frame: AnswerFrame, levels: Sequence[str] = ("region", "city", "outlet"), *,
                   sent: Mapping[tuple[str, ...], int] | None = None) -> list[GroupMetrics]:
    """Metrics at each level of a hierarchy in tree order: a region, its cities, each city's outlets.

    Keys are cumulative (region,), (region, city), (region, city, outlet); `sent`, if given, is
    keyed the same way.
    """
    levels = [lv for lv in levels if lv in frame.columns]
    rows: list[GroupMetrics] = []
    for depth in range(1, len(levels) + 1):
        rows.extend(group_metrics(frame, levels[:depth], sent=sent))
    # Sorting the cumulative keys puts each parent right before its children.
    return sorted(rows, key=lambda m: m.key)


def nps_metrics(frame: AnswerFrame, by: Sequence[str]) -> list[NpsMetrics]:
    """NPS with its confidence interval for every group, from 0..10 answers."""
    grouping = group_rows(frame, by)
    table = score_table(frame, grouping, low=0, high=10)
    out = []
    for g, key in enumerate(grouping.keys):
        r = nps(table[g])
        out.append(NpsMetrics(tuple(by), tuple(key), r.n, r.nps, r.low, r.high, r.promoters, r.detractors))
    return out
