"""The short-board report page: a ranked table, its funnel plot, raw or case-mix adjusted.

analysis.shortboard does the statistics; this picks the columns a page and a download show.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from sqlalchemy.orm import Session

from analysis.frame import AnswerFrame, group_rows, reason_table
from analysis.counts import load_answer_frame
from analysis.shortboard import ROLLUP, NotEnough, ShortBoard, ShortBoardReport, shortboard_report
from analysis.spread import funnel_limits
from survey.reports.labels import DIMENSION_LABELS, group_label, pooled_label, reason_label, value_label
from survey.reports.places import outlet_label, outlet_names
from survey.reports.selection import Selection
from survey.reports.tables import Table

GROUPINGS = {
    "outlet": ("outlet",), "city": ("city",), "region": ("region",), "channel": ("channel",),
    "business_type": ("business_type",), "channel_business_type": ("channel", "business_type"),
}
# "auto": the report's headline view (adjusted when business type x tier explain differences).
VIEWS = {"raw": "raw", "adjusted": "adjusted", "auto": "auto"}
CASE_MIX = ("business_type", "tier")
MIN_N = 30


@dataclass(frozen=True)
class BoardRow:
    """One group of the ranked table, in the raw or the case-mix adjusted view.

    expected: the rate the group would have at the rest of its scope's rate (raw) or at the rest's
    rate in each of its business type x tier cells (adjusted); adjusted_rate: observed / expected x
    the rest's rate (the rate itself in the raw view); gap = expected - rate; impact = satisfied
    customers lost, n x gap; shrunken with its 95% interval, all of the page's view; other_gap and
    other_q: the other view's, shown beside; watch: on the watch list (nothing is significant).
    """

    rank: int
    group: str
    key: tuple[str, ...]
    scope: str
    n: int
    satisfied: int
    rate: float
    low: float
    high: float
    expected: float | None
    gap: float | None
    q: float | None
    impact: float | None
    shrunken: float
    flagged: bool
    top_reasons: tuple[tuple[str, float, bool], ...]  # (label, share of the group's answers, a driver)
    pooled: int  # >1: small outlets pooled into one row
    outlet: str | None  # the outlet's code when the group is one outlet (the page links it)
    adjusted_rate: float | None = None
    shrunken_low: float | None = None
    shrunken_high: float | None = None
    other_gap: float | None = None
    other_q: float | None = None
    found_by: str = ""  # "raw", "adjusted" or "both" for a short board of either view
    watch: bool = False


@dataclass(frozen=True)
class FunnelPoint:
    """A group on the funnel plot."""

    group: str
    n: int
    rate: float
    low: float
    high: float
    flagged: bool


@dataclass(frozen=True)
class FunnelLine:
    """The control limits around the overall rate, at increasing n."""

    target: float
    n: tuple[int, ...]
    low95: tuple[float, ...]
    high95: tuple[float, ...]
    low998: tuple[float, ...]
    high998: tuple[float, ...]


@dataclass(frozen=True)
class ShortBoardPage:
    """The report of one grouping and view over a selection."""

    by: tuple[str, ...]
    view: str
    rows: tuple[BoardRow, ...]
    flagged: int
    not_enough: tuple[NotEnough, ...]
    total: int
    alpha: float
    adjustment: str
    tau2: float
    case_mix: tuple[str, ...]
    points: tuple[FunnelPoint, ...]
    line: FunnelLine | None
    headline: str = "raw"  # the view the report leads with; `view` is the one shown

    @property
    def watch_list(self) -> bool:
        """Nothing is significant: the first rows are a watch list, not short boards."""
        return any(r.watch for r in self.rows)

    @property
    def grouping_label(self) -> str:
        """The grouping in Chinese, e.g. 渠道 × 业务类型."""
        return " × ".join(DIMENSION_LABELS.get(b, b) for b in self.by)


def _num(v: float | None) -> float | None:
    return None if v is None or (isinstance(v, float) and math.isnan(v)) else v


TOP_REASONS = 3


def _reasons_by_group(frame: AnswerFrame, by: tuple[str, ...]) -> dict[tuple[str, ...], list[tuple[str, float]]]:
    """Each group's most named reasons with their share of its answers (for every row, not only the
    short boards, whose over-represented reasons analysis.drivers tests)."""
    grouping = group_rows(frame, by)
    table, _ = reason_table(frame, grouping)
    n = np.bincount(grouping.codes, weights=frame.count, minlength=grouping.size)
    top = np.argsort(-table, axis=1, kind="stable")[:, :TOP_REASONS]  # all groups at once
    named = np.take_along_axis(table, top, axis=1)
    shares = named / np.maximum(n, 1)[:, None]
    codes = frame.reason_codes
    return {tuple(key): [(codes[j], s) for j, s, k in zip(top[g].tolist(), shares[g].tolist(), named[g].tolist()) if k > 0]
            for g, key in enumerate(grouping.keys)}


def _row(rank: int, by: tuple[str, ...], b: ShortBoard, view: str, reasons_of: dict, names: dict,
         watch: bool) -> BoardRow:
    if b.pooled_groups > 1:
        label = pooled_label(b.group)
    elif by == ("outlet",):
        label = outlet_label(b.key[0], names)
    else:
        label = group_label(by, b.key)
    drivers = set(b.top_reasons)
    reasons = tuple((reason_label(code), float(share), code in drivers) for code, share in reasons_of.get(b.key, ()))
    outlet = b.key[0] if by == ("outlet",) and b.pooled_groups == 1 else None
    # A cell is compared within its channel; a single grouping against everything else.
    scope = value_label(by[0], b.scope) if len(by) > 1 else "全部"
    v = b.view(view)
    o = b.view("raw" if v.view == "adjusted" else "adjusted")
    beside = (_num(o.gap), _num(o.q)) if o.view != v.view else (None, None)
    adjusted = b.adjusted is not None and b.adjusted.flagged
    found = {(True, True): "both", (True, False): "raw", (False, True): "adjusted"}.get((b.flagged, adjusted), "")
    return BoardRow(rank, label, b.key, scope, b.n, b.satisfied, b.rate, b.rate_low, b.rate_high,
                    _num(v.expected), _num(v.gap), _num(v.q), _num(v.impact), v.shrunken, v.flagged,
                    reasons, b.pooled_groups, outlet, _num(v.adjusted), _num(v.shrunken_low),
                    _num(v.shrunken_high), *beside, found, watch)


def _ordered(report: ShortBoardReport, view: str) -> list[ShortBoard]:
    """The view's short boards first by its impact; then the rest by satisfied answers lost at the
    shrunken rate (for the headline view, the report's own order)."""
    if view == report.headline:
        return list(report.boards)

    def key(b: ShortBoard) -> tuple[bool, float]:
        v = b.view(view)
        lost = v.impact if v.flagged else b.n * (v.expected - v.shrunken)
        return (not v.flagged, -np.nan_to_num(lost, nan=-np.inf))
    return sorted(report.boards, key=key)


def _funnel(report: ShortBoardReport, rows: list[BoardRow], view: str) -> tuple[tuple[FunnelPoint, ...], FunnelLine | None]:
    boards = [b for b in report.boards if b.n > 0]
    if not boards:
        return (), None
    total_n = sum(b.n for b in boards)
    target = sum(b.satisfied for b in boards) / total_n
    grid = np.unique(np.geomspace(max(min(b.n for b in boards), 1), max(b.n for b in boards) * 1.1, 80).round())
    limits = funnel_limits(target, grid, tau2=report.dispersion.tau2)
    line = FunnelLine(target, tuple(int(v) for v in grid), *(tuple(float(v) for v in arr) for arr in
                      (limits.low95, limits.high95, limits.low998, limits.high998)))
    points = []
    for r in rows:
        # In the adjusted view a group sits at its indirectly standardised rate: observed / expected
        # satisfied x the overall rate, so groups serving harder cases are not pushed down the funnel.
        rate = r.rate
        if view == "adjusted" and r.expected:
            rate = min(r.rate / r.expected * target, 1.0)
        points.append(FunnelPoint(r.group, r.n, rate, r.low, r.high, r.flagged))
    return tuple(points), line


def shortboard_page(db: Session, sel: Selection, *, by: tuple[str, ...], view: str = "raw",
                    min_n: int = MIN_N) -> ShortBoardPage:
    """Every group of `by` against the rest of its scope (its channel for a channel x type cell)."""
    rollup = ROLLUP.get(by[0]) if len(by) == 1 else None
    needed = set(by) | {"business_type"} | ({rollup} if rollup else set())
    frame = load_answer_frame(db, attributes=("tier",), by_day=False, dimensions=tuple(needed), **sel.window())
    if frame.total == 0:
        return ShortBoardPage(by, "raw" if view == "auto" else view, (), 0, (), 0, 0.05, "-", 0.0, (), (), None)
    report = shortboard_report(frame, list(by), min_n=min_n, case_mix=CASE_MIX)
    if view == "auto" or (view == "adjusted" and not report.case_mix):
        view = report.headline
    ordered = _ordered(report, view)
    names = outlet_names(db, sel.scope) if by == ("outlet",) else {}
    reasons_of = _reasons_by_group(frame, by)
    watch = {id(b) for b in report.watch_list} if view == report.headline else set()
    rows = [_row(i + 1, by, b, view, reasons_of, names, id(b) in watch) for i, b in enumerate(ordered)]
    points, line = _funnel(report, rows, view)
    small = tuple(NotEnough(g.group, g.n, pooled_label(g.rolled_up_to) if g.rolled_up_to else None)
                  for g in report.not_enough)
    return ShortBoardPage(by, view, tuple(rows), sum(r.flagged for r in rows), small, frame.total,
                          report.alpha, report.adjustment, report.dispersion.tau2, report.case_mix, points, line,
                          report.headline)


SHORTBOARD_HEADER = ("排名", "分组", "比较范围", "n", "满意数", "满意度", "下限95%", "上限95%", "期望满意度",
                     "差距", "q值", "影响（流失满意客户）", "收缩满意度", "短板", "主要原因",
                     "调整后满意度", "收缩下限95%", "收缩上限95%", "另一视图差距", "另一视图q值", "观察名单")


def shortboard_table(page: ShortBoardPage, sel: Selection) -> Table:
    """The ranked table as a download."""
    def rows():
        for r in page.rows:
            yield (r.rank, r.group, r.scope, r.n, r.satisfied, round(r.rate, 4), round(r.low, 4), round(r.high, 4),
                   None if r.expected is None else round(r.expected, 4), None if r.gap is None else round(r.gap, 4),
                   None if r.q is None else float(f"{r.q:.4g}"), None if r.impact is None else round(r.impact, 1),
                   round(r.shrunken, 4), "是" if r.flagged else "",
                   "、".join(f"{label} {share:.0%}" for label, share, _ in r.top_reasons),
                   *(None if v is None else round(v, 4) for v in (r.adjusted_rate, r.shrunken_low, r.shrunken_high,
                                                                  r.other_gap)),
                   None if r.other_q is None else float(f"{r.other_q:.4g}"), "是" if r.watch else "")
    name = f"shortboards-{'-'.join(page.by)}-{page.view}-{sel.filter.start}_{sel.filter.end}"
    title = f"短板（{page.grouping_label}，{'调整后' if page.view == 'adjusted' else '原始'}）"
    return Table(name, title, SHORTBOARD_HEADER, rows())
