"""Drill-down: regions, a region's cities, a city's outlets, each with CSAT, its interval and n."""
from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy.orm import Session

from analysis.drivers import group_drivers
from analysis.metrics import GroupMetrics, group_metrics
from analysis.counts import load_answer_frame, sent_counts
from survey.reports.labels import reason_label
from survey.reports.places import Place, places_in
from survey.reports.selection import Selection
from survey.reports.tables import Table

LEVELS = ("region", "city", "outlet")
LEVEL_LABELS = {"region": "区域", "city": "城市", "outlet": "网点"}


@dataclass(frozen=True)
class GroupRow:
    """One region, city or outlet (or the whole level's total); rates None where n is 0."""

    key: str
    label: str
    responses: int
    sent: int
    response_rate: float | None
    satisfied: int
    csat: float | None
    low: float | None
    high: float | None
    dissatisfied: float | None
    mean_score: float | None
    top_reasons: tuple[tuple[str, float], ...]  # (reason label, share of responses), largest first


def _f(v: float | None) -> float | None:
    return None if v is None or math.isnan(v) else v


def group_row(key: str, label: str, m: GroupMetrics | None, sent: int) -> GroupRow:
    """A row from analysis' metrics of a group (None: the group had no answers)."""
    if m is None or m.responses == 0:
        return GroupRow(key, label, 0, sent, None, 0, None, None, None, None, None, ())
    rate = m.responses / sent if sent else None
    return GroupRow(key, label, m.responses, sent, rate, m.satisfied, _f(m.csat), _f(m.csat_low), _f(m.csat_high),
                    _f(m.dissatisfied_share), _f(m.mean_score),
                    tuple((reason_label(code), share) for code, share in m.reason_shares[:3]))


def metrics_by(db: Session, sel: Selection, level: str) -> tuple[dict[str, GroupMetrics], dict[str, int], GroupRow]:
    """CSAT metrics and surveys sent per value of `level`, and the total over the selection.

    By business type no surveys-sent figure is given: answers carry the type's name and
    interactions its code, so the two would not meet.
    """
    frame = load_answer_frame(db, attributes=(), by_day=False, dimensions=(level,), **sel.window())
    sent = ({} if level == "business_type" else
            {key[0]: n for key, n in sent_counts(db, by=(level,), **sel.window()).items()})
    metrics = {m.key[0]: m for m in group_metrics(frame, [level])} if frame.total else {}
    total_metrics = group_metrics(frame, [])[0] if frame.total else None
    total_sent = sum((sent_counts(db, by=(), **sel.window()) if level == "business_type" else sent).values())
    return metrics, sent, group_row("", "合计", total_metrics, total_sent)


@dataclass(frozen=True)
class DriverRow:
    """One reason of the region or city looked at, against the rest of the selection, raw and adjusted."""

    label: str
    count: int
    share: float  # among the place's answers that named a reason
    rest_share: float
    q: float
    expected: float | None  # answers naming it had the place the rest's share in each business type x tier cell
    adjusted_q: float | None
    driver: bool  # over-represented at FDR 5% in the raw view
    adjusted_driver: bool  # ... and after case mix


@dataclass(frozen=True)
class DrillLevel:
    """One level of the drill-down: the children of a region or city (or all regions) and their total."""

    level: str
    region: str | None
    city: str | None
    total: GroupRow
    rows: tuple[GroupRow, ...]
    drivers: tuple[DriverRow, ...] = ()  # the reason drivers of the region or city looked at

    @property
    def level_label(self) -> str:
        """区域, 城市 or 网点."""
        return LEVEL_LABELS[self.level]


def _children(level: str, found: Iterable[Place]) -> dict[str, str]:
    """Each child's key and label, in order."""
    out: dict[str, str] = {}
    for p in found:
        key = getattr(p, level) if level != "outlet" else p.code
        out.setdefault(key, f"{p.code} {p.name}" if level == "outlet" else key)
    return out


def drilldown(db: Session, sel: Selection, *, region: str | None = None, city: str | None = None) -> DrillLevel:
    """Regions (no region given), a region's cities, or a city's outlets, over the selection.

    A region or city with none of the viewer's outlets is NotVisible, like one that does not exist.
    """
    level = "region" if region is None else ("city" if city is None else "outlet")
    found = places_in(db, sel.scope, region, city)
    narrowed = sel if region is None else sel.within([p.code for p in found])
    metrics, sent, total = metrics_by(db, narrowed, level)
    rows = tuple(group_row(key, label, metrics.get(key), sent.get(key, 0))
                 for key, label in _children(level, found).items())
    place = ("city", city) if city is not None else (("region", region) if region is not None else None)
    drivers = place_drivers(db, sel, *place) if place else ()
    return DrillLevel(level, region, city, total, rows, drivers)


CASE_MIX = ("business_type", "tier")


def place_drivers(db: Session, sel: Selection, level: str, key: str) -> tuple[DriverRow, ...]:
    """What the place's customers name more than the rest of the selection's, raw and after case mix."""
    frame = load_answer_frame(db, attributes=("tier",), by_day=False, dimensions=(level, "business_type"),
                              **sel.window())
    if frame.total == 0 or key not in set(frame.columns[level].levels):
        return ()
    found = group_drivers(frame, [level], [key], case_mix=CASE_MIX)
    adjusted = {d.reason: d for d in found.adjusted}
    out = []
    for d in found.raw:
        if d.count == 0:
            continue
        a = adjusted.get(d.reason)
        out.append(DriverRow(reason_label(d.reason), d.count, d.share, d.rest_share, d.q,
                             a.expected if a else None, a.q if a else None, d.q < 0.05 and d.excess > 0,
                             bool(a and a.q < 0.05 and a.excess > 0)))
    return tuple(out)


GROUP_HEADER = ("分组", "n（有效回复）", "已发送", "回复率", "满意数", "满意度", "下限95%", "上限95%",
                "不满意占比", "平均分", "主要原因")


def _r(v: float | None) -> float | None:
    return None if v is None else round(v, 4)


def group_table_rows(rows: Iterable[GroupRow]) -> Iterable[tuple]:
    """Rows of the group tables' downloads."""
    for r in rows:
        yield (r.label, r.responses, r.sent, _r(r.response_rate), r.satisfied, _r(r.csat), _r(r.low), _r(r.high),
               _r(r.dissatisfied), _r(r.mean_score), "、".join(f"{label} {share:.0%}" for label, share in r.top_reasons))


def drilldown_table(level: DrillLevel, sel: Selection) -> Table:
    """The level's table (its total last) as a download."""
    where = "-".join(p for p in (level.region, level.city) if p)
    title = f"{LEVEL_LABELS[level.level]}（{where}）" if where else "区域"
    name = f"drilldown-{level.level}-{sel.filter.start}_{sel.filter.end}"
    return Table(name, title, GROUP_HEADER, group_table_rows([*level.rows, level.total]))
