"""The data each page's chart is drawn from, as JSON-ready dicts (the page embeds them with tojson
and the browser draws them with the vendored ECharts). Every point carries its n and interval, so
hovering shows them; NaN, which JSON cannot carry, becomes null."""
from __future__ import annotations

import math
from collections.abc import Callable, Iterable

from survey.reports.drilldown import GroupRow
from survey.reports.overview import Overview
from survey.reports.pareto import Pareto
from survey.reports.shortboards import ShortBoardPage
from survey.reports.trends import TrendPage


def _n(v: float | None, digits: int = 4) -> float | None:
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return None
    return round(float(v), digits)


def funnel_chart(page: ShortBoardPage, link: Callable[[str], str] | None = None) -> dict:
    """Groups at (n, rate) inside the 95% and 99.8% limits around the overall rate."""
    rows = {r.group: r for r in page.rows}
    points = []
    for p in page.points:
        outlet = rows[p.group].outlet if p.group in rows else None
        points.append({"name": p.group, "n": p.n, "rate": _n(p.rate), "low": _n(p.low), "high": _n(p.high),
                       "flagged": p.flagged, "url": link(outlet) if link and outlet else None})
    line = page.line
    return {
        "type": "funnel", "points": points,
        "target": _n(line.target) if line else None,
        "limits": [] if line is None else [
            {"n": n, "low95": _n(a), "high95": _n(b), "low998": _n(c), "high998": _n(d)}
            for n, a, b, c, d in zip(line.n, line.low95, line.high95, line.low998, line.high998)],
        "adjusted": page.view == "adjusted",
    }


def trend_chart(page: TrendPage) -> dict:
    """One line per group over the union of their periods (a period without answers is a gap)."""
    periods = sorted({p for s in page.chart for p in s.periods})
    series = []
    for s in page.chart:
        at = {p: i for i, p in enumerate(s.periods)}
        pick = (lambda values: [_n(values[at[p]]) if p in at else None for p in periods])
        series.append({"name": s.label, "rate": pick(s.rate), "low": pick(s.low), "high": pick(s.high),
                       "n": [s.n[at[p]] if p in at else None for p in periods]})
    return {"type": "trend", "periods": periods, "series": series}


def per_10k_chart(page: TrendPage) -> dict | None:
    """Dissatisfied answers per 10,000 interactions, per period."""
    r = page.per_10k
    if r is None:
        return None
    return {"type": "per10k", "periods": list(r.periods), "value": [_n(v, 2) for v in r.per_10k],
            "dissatisfied": list(r.dissatisfied), "interactions": list(r.interactions)}


def pareto_chart(p: Pareto) -> dict:
    """Bars of reason counts, most named first, and the cumulative share as a line."""
    return {"type": "pareto", "n": p.with_reason,
            "items": [{"name": r.label, "count": r.count, "share": _n(r.share), "cumulative": _n(r.cumulative)}
                      for r in p.rows]}


def groups_chart(rows: Iterable[GroupRow], link: Callable[[str], str] | None = None) -> dict:
    """CSAT per group with its interval; clicking a bar opens the group (the drill-down)."""
    return {"type": "groups", "items": [
        {"name": r.label, "n": r.responses, "rate": _n(r.csat), "low": _n(r.low), "high": _n(r.high),
         "url": link(r.key) if link else None} for r in rows if r.responses]}


def channels_chart(report: Overview) -> dict:
    """CSAT per channel this period and the previous one, with intervals."""
    items = []
    for c in report.by_channel:
        k = c.get("csat")
        if k is None or not (k.current.n or k.previous.n):
            continue
        items.append({"name": c.label, "n": k.current.n, "rate": _n(k.current.value), "low": _n(k.current.low),
                      "high": _n(k.current.high), "prev_n": k.previous.n, "prev_rate": _n(k.previous.value),
                      "prev_low": _n(k.previous.low), "prev_high": _n(k.previous.high)})
    return {"type": "channels", "items": items}
